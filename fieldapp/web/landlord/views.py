"""Views for a landlord person: parse, call the use case, render."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ...extensions import db, htmx
from ...models.agreements import HOLD_REASONS
from ...usecases import Actor, NotFound, Refused, UnitOfWork
from ...usecases.cases import NotAllowed
from ...usecases.holds import answer
from ...usecases.outside import landlord_tenants
from ..security import client_address, roles_required
from . import bp

ANSWERS = {"accept": True, "decline": False}


def _page(error: str | None = None, status: int = 200, notice: str | None = None):
    actor = Actor.person(current_user, client_address())
    with UnitOfWork(db.session) as uow:
        rows = landlord_tenants(uow, actor)
    if htmx and status >= 400:
        status = 200  # htmx swaps only 2xx answers; the message must reach the landlord
    return (
        render_template(
            "landlord/tenants.html", rows=rows, reasons=HOLD_REASONS, error=error, notice=notice
        ),
        status,
    )


@bp.get("/")
@roles_required("landlord")
def tenants():
    """The landlord's tenants with a case in the team's register: flags where consented."""
    return _page()


@bp.post("/holds/<int:hold_id>/answer")
@roles_required("landlord")
def answer_hold(hold_id: int):
    """Accept or decline a request to hold a petition, with an optional short note."""
    choice = request.form.get("answer", "")
    if choice not in ANSWERS:
        return _page(_("Answer: choose to accept or decline the request."), 422)
    actor = Actor.person(current_user, client_address())
    try:
        with UnitOfWork(db.session) as uow:
            answer(uow, actor, hold_id, ANSWERS[choice], request.form.get("note", ""))
    except NotFound:
        abort(404)
    except NotAllowed as refused:
        return _page(str(refused), 403)
    except Refused as refused:
        return _page(str(refused), 422)
    if htmx:
        return _page(notice=_("Your answer has been sent to the municipality."))
    return redirect(url_for("landlord.tenants"), code=303)
