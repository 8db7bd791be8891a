"""Asking the landlord to hold a petition, from the case page: parse, call the use case."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _

from ...extensions import db
from ...usecases import NotFound, Refused, UnitOfWork
from ...usecases.cases import NotAllowed
from ...usecases.holds import NewHold, NoConsent, ask_to_hold, withdraw
from ..security import roles_required
from . import bp
from .views import _actor, _case_for_current_user, _case_page


@bp.post("/cases/<int:case_id>/holds")
@roles_required("lead", "worker")
def ask_hold(case_id: int):
    """Ask the case's landlord to hold a petition until a date, for a reason of the list."""
    case = _case_for_current_user(case_id)
    raw = request.form.get("until", "").strip()
    try:
        until = date.fromisoformat(raw)
    except ValueError:
        message = _("Hold until: %(value)r is not a date (use the date picker, YYYY-MM-DD).",
                    value=raw)  # fmt: skip
        return _case_page(case, message, 400)
    try:
        with UnitOfWork(db.session) as uow:
            ask_to_hold(uow, _actor(), case_id, NewHold(until, request.form.get("reason", "")))
    except NotFound:
        abort(404)
    except NotAllowed:
        abort(403)
    except NoConsent as error:
        return _case_page(_case_for_current_user(case_id), str(error), 422)
    except Refused as error:
        return _case_page(_case_for_current_user(case_id), str(error), 422)
    flash(_("The landlord is asked to hold the petition until %(date)s.", date=format_date(until)))
    return redirect(url_for("register.case_page", case_id=case_id, _anchor="holds-h"), code=303)


@bp.post("/cases/<int:case_id>/holds/<int:hold_id>/withdraw")
@roles_required("lead", "worker")
def withdraw_hold(case_id: int, hold_id: int):
    """Take back a request to hold a petition (waiting, or accepted and running)."""
    _case_for_current_user(case_id)
    try:
        with UnitOfWork(db.session) as uow:
            withdraw(uow, _actor(), case_id, hold_id)
    except NotFound:
        abort(404)
    except NotAllowed:
        abort(403)
    except Refused as error:
        return _case_page(_case_for_current_user(case_id), str(error), 422)
    flash(_("The request to hold the petition is withdrawn."))
    return redirect(url_for("register.case_page", case_id=case_id, _anchor="holds-h"), code=303)
