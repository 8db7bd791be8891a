"""Views for a partner person: parse, call the use case, render."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ...extensions import db, htmx
from ...models.types import new_uuid
from ...services.partner_work import NOTE_LIMIT
from ...usecases import Actor, NotFound, Refused, UnitOfWork
from ...usecases.outside import (
    ActionChange,
    partner_case,
    partner_meeting,
    partner_meetings,
    shared_cases,
    update_partner_action,
)
from ..security import client_address, roles_required
from . import bp


def _actor() -> Actor:
    return Actor.person(current_user, client_address())


@bp.get("/")
@roles_required("partner")
def cases():
    """The consented cases of the partner's team, most urgent first."""
    with UnitOfWork(db.session) as uow:
        found = shared_cases(uow, _actor())
    return render_template("partner/cases.html", cases=found)


def _case_page(case_id: int, errors: dict[int, str] | None = None, status: int = 200):
    try:
        with UnitOfWork(db.session) as uow:
            shared = partner_case(uow, _actor(), case_id)
            page = render_template(
                "partner/case.html",
                shared=shared,
                errors=errors or {},
                note_limit=NOTE_LIMIT,
                new_form_uuid=new_uuid,
            )
    except NotFound:
        abort(404)
    return page, status


@bp.get("/cases/<int:case_id>")
@roles_required("partner")
def case(case_id: int):
    """One shared case: the tenant's contact, the partner's actions, decisions, next date."""
    return _case_page(case_id)


@bp.post("/cases/<int:case_id>/actions/<int:action_id>")
@roles_required("partner")
def update_action(case_id: int, action_id: int):
    """The partner's update of one of their actions; in place with htmx, else 303 back."""
    form = request.form
    change = ActionChange(
        status=form.get("status", ""),
        note=form.get("note", ""),
        due_on=form.get("due_on", ""),
        client_uuid=form.get("client_uuid", ""),
    )
    error = None
    try:
        with UnitOfWork(db.session) as uow:
            update_partner_action(uow, _actor(), case_id, action_id, change)
    except NotFound:
        abort(404)
    except Refused as refused:
        error = str(refused)
    if htmx:
        try:
            with UnitOfWork(db.session) as uow:
                shared = partner_case(uow, _actor(), case_id)
                action = next(a for a in shared.actions if a.id == action_id)
                return render_template(
                    "partner/_action.html", shared=shared, action=action,
                    errors={action_id: error} if error else {}, saved=error is None,
                    note_limit=NOTE_LIMIT, new_form_uuid=new_uuid,
                )  # fmt: skip
        except (NotFound, StopIteration):
            abort(404)
    if error is not None:
        return _case_page(case_id, {action_id: error}, 422)
    flash(_("Saved. The case's worker sees it now."))
    return redirect(url_for("partner.case", case_id=case_id) + f"#action-{action_id}", code=303)


@bp.get("/meetings")
@roles_required("partner")
def meetings():
    """The team's meetings with this partner at the table."""
    with UnitOfWork(db.session) as uow:
        found = partner_meetings(uow, _actor())
    return render_template("partner/meetings.html", meetings=found)


@bp.get("/meetings/<int:meeting_id>")
@roles_required("partner")
def meeting(meeting_id: int):
    """One meeting: the agenda as this partner may see it, and the decisions for them."""
    try:
        with UnitOfWork(db.session) as uow:
            actor = _actor()
            found, lines = partner_meeting(uow, actor, meeting_id)
            page = render_template(
                "partner/meeting.html", meeting=found, lines=lines, partner_id=actor.partner_id
            )
    except NotFound:
        abort(404)
    return page
