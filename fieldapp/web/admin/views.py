"""Views for administrators."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ...domain.organisation import organisation_of
from ...extensions import db
from ...models import ROLES, ConsentText, Landlord, Partner, Team, User
from ...services.fieldwork import LANGUAGES, current_consent_texts
from ...usecases import Actor, NotFound, Refused, UnitOfWork
from ...usecases.accounts import (
    PENDING_PROVIDER,
    IssuedInvitation,
    NewPerson,
    add_provider_person,
    invite_person,
    log_out_everywhere,
    move_to_provider_login,
    reset_second_factor,
    set_account_active,
)
from ...usecases.organisation import publish_consent_text, require_two_factor, set_legal_bases
from ..security import client_address, roles_required
from . import bp


def _page(
    error: str | None = None,
    form: dict | None = None,
    status: int = 200,
    issued: IssuedInvitation | None = None,
):
    users = db.session.scalars(select(User).order_by(User.role, User.email)).all()
    teams = db.session.scalars(select(Team).order_by(Team.name)).all()
    partners = db.session.scalars(select(Partner).order_by(Partner.name)).all()
    landlords = db.session.scalars(select(Landlord).order_by(Landlord.name)).all()
    # Whom each partner or landlord account works for, by the account's id.
    names = {("partner", p.id): p.name for p in partners}
    names.update({("landlord", ll.id): ll.name for ll in landlords})
    works_for = {
        user.id: names.get(("partner", user.partner_id))
        or names.get(("landlord", user.landlord_id))
        for user in users
        if user.partner_id or user.landlord_id
    }
    organisation = organisation_of(db.session)
    response = current_app.make_response(
        (
            render_template(
                "admin/users.html",
                users=users,
                teams=teams,
                partners=partners,
                landlords=landlords,
                works_for=works_for,
                roles=ROLES,
                error=error,
                form=form or {},
                require_totp=bool(organisation and organisation.require_totp),
                issued=issued,
                pending_provider=PENDING_PROVIDER,
                sso_enabled=_sso_enabled(),
            ),
            status,
        )
    )
    if issued is not None:
        response.headers["Cache-Control"] = "no-store"  # the code is shown this once
    return response


@bp.get("/users")
@roles_required("admin")
def users():
    """Everyone who can log in, with their role and team."""
    return _page()


@bp.post("/users")
@roles_required("admin")
def add_user():
    """Add a person without a password. With the organisation's login (single sign-on set up,
    the default then) their first login through it takes the account; otherwise the page
    shows, once, the invitation code with which they choose their own password. A bad field
    is named, nothing stored."""
    form = request.form
    person = NewPerson(
        form.get("email", ""),
        form.get("role", ""),
        team_name=form.get("team") or None,
        name=form.get("name", "").strip(),
        partner_name=form.get("partner") or None,
        landlord_name=form.get("landlord") or None,
    )
    through_provider = form.get("login") == "organisation" and _sso_enabled()
    try:
        with UnitOfWork(db.session) as uow:
            actor = Actor.person(current_user, client_address())
            if through_provider:
                user = add_provider_person(uow, actor, person)
                email = user.email
            else:
                issued = invite_person(uow, actor, person)
    except Refused as error:
        return _page(str(error), dict(form), 422)
    if through_provider:
        flash(_("%(email)s logs in with the organisation's account.", email=email))
        return redirect(url_for("admin.users"), code=303)
    return _page(issued=issued)


def _sso_enabled() -> bool:
    from ..auth.providers import login_routes

    return bool(login_routes())


@bp.post("/users/<int:user_id>/organisation-login")
@roles_required("admin")
def move_to_organisation_login(user_id: int):
    """The person's password stops working; their next login through the organisation's
    identity provider, with the same e-mail address, takes this account."""
    if not _sso_enabled():
        abort(404)
    try:
        with UnitOfWork(db.session) as uow:
            user = move_to_provider_login(uow, _actor(), user_id)
            name = user.name or user.email
    except NotFound:
        abort(404)
    except Refused as error:
        return _page(str(error), None, 422)
    flash(_("%(name)s now logs in with the organisation's account.", name=name))
    return redirect(url_for("admin.users"), code=303)


def _actor() -> Actor:
    return Actor.person(current_user, client_address())


@bp.post("/users/<int:user_id>/active")
@roles_required("admin")
def set_active(user_id: int):
    """Disable or re-enable a user; disabling ends their sessions at once."""
    try:
        with UnitOfWork(db.session) as uow:
            set_account_active(uow, _actor(), user_id, request.form.get("active") == "1")
    except NotFound:
        abort(404)
    except Refused:
        return _page(_("You cannot disable your own account."), None, 422)
    return redirect(url_for("admin.users"), code=303)


@bp.post("/users/<int:user_id>/sessions/end")
@roles_required("admin")
def end_sessions(user_id: int):
    """End every session of a user (a lost phone): each device must log in again."""
    try:
        with UnitOfWork(db.session) as uow:
            user, _ended = log_out_everywhere(uow, _actor(), user_id)
            name = user.name or user.email
    except NotFound:
        abort(404)
    flash(_("%(name)s is logged out on every device.", name=name))
    return redirect(url_for("admin.users"), code=303)


@bp.post("/users/<int:user_id>/two-factor/reset")
@roles_required("admin")
def reset_two_factor_of(user_id: int):
    """A person lost the phone with their authenticator app: turn their two-factor login off
    and log them out everywhere; where it is required they set it up again at the next login."""
    try:
        with UnitOfWork(db.session) as uow:
            user = reset_second_factor(uow, _actor(), user_id)
            name = user.name or user.email
    except NotFound:
        abort(404)
    flash(_("Two-factor login of %(name)s is reset.", name=name))
    return redirect(url_for("admin.users"), code=303)


@bp.post("/two-factor")
@roles_required("admin")
def two_factor_policy():
    """Require (or stop requiring) two-factor login for leads and administrators."""
    try:
        with UnitOfWork(db.session) as uow:
            require_two_factor(uow, _actor(), request.form.get("require") == "1")
    except NotFound:
        abort(404)
    return redirect(url_for("admin.users"), code=303)


def _texts_page(error: str | None = None, status: int = 200, form: dict | None = None):
    texts = db.session.scalars(
        select(ConsentText).order_by(ConsentText.language, ConsentText.version.desc())
    ).all()
    current = current_consent_texts(db.session)
    organisation = organisation_of(db.session)
    return (
        render_template(
            "admin/consent_texts.html",
            texts=texts,
            current=current,
            languages=LANGUAGES,
            error=error,
            form=form or {},
            legal_bases=organisation.sharing_legal_bases if organisation else "",
        ),
        status,
    )


@bp.get("/consent-texts")
@roles_required("admin")
def consent_texts():
    """The consent wording in each language, the current version first, every version kept."""
    return _texts_page()


@bp.post("/consent-texts")
@roles_required("admin")
def add_text():
    """Publish a new version of the consent text in one language."""
    form = request.form
    try:
        with UnitOfWork(db.session) as uow:
            publish_consent_text(uow, _actor(), form.get("language", ""), form.get("body", ""))
    except Refused as error:
        return _texts_page(str(error), 422, dict(form))
    return redirect(url_for("admin.consent_texts"), code=303)


@bp.post("/legal-bases")
@roles_required("admin")
def legal_bases():
    """The legal bases on which a lead may share a case with a partner without the tenant's
    consent (one a line); each use is audited and the list is in the records of processing."""
    try:
        with UnitOfWork(db.session) as uow:
            set_legal_bases(uow, _actor(), request.form.get("bases", ""))
    except NotFound:
        abort(404)
    except Refused as error:
        return _texts_page(str(error), 422, {"bases": request.form.get("bases", "")})
    return redirect(url_for("admin.consent_texts"), code=303)
