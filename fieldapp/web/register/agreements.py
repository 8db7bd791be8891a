"""Views for payment plans and rent deductions on the case page: add, confirm, end. In place
with htmx (the section is swapped), else post/redirect/get; a bad value is named beside its
field."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ...extensions import db, htmx
from ...services.agreements import deductions_of, plans_of
from ...services.worklist import local_today
from ...usecases import NotFound, Refused, UnitOfWork
from ...usecases import agreements as use
from ...usecases.cases import NotAllowed
from ..security import roles_required
from . import bp
from .views import _actor, _case_for_current_user, _case_page


def _section(case_id: int, error: dict | None = None, saved: str = "", status: int = 200):
    """The plans-and-deductions section alone (htmx), or the whole case page."""
    case = _case_for_current_user(case_id)
    if htmx and not htmx.boosted:
        context = {
            "case": case,
            "plans": plans_of(db.session, case.id),
            "deductions": deductions_of(db.session, case.id),
            "agreement_error": error,
            "agreement_saved": saved,
            "read_only": False,
            "today": local_today(db.session, current_user),
        }
        # htmx swaps only a 2xx answer: the message stands beside the field either way.
        return render_template("register/_agreements.html", **context), 200
    if error is None:
        flash(saved)
        return redirect(url_for("register.case_page", case_id=case_id) + "#agreements", code=303)
    response, _status = _case_page(case, agreement_error=error, status=status)
    return response, status


def _run(case_id: int, form: str, call, saved: str):
    _case_for_current_user(case_id)
    try:
        with UnitOfWork(db.session) as uow:
            call(uow)
    except (NotFound, NotAllowed):
        abort(404)
    except use.BadAgreement as error:
        problem = {"form": form, "field": error.field, "message": str(error)}
        return _section(case_id, problem, status=422)
    except Refused as error:
        return _section(case_id, {"form": form, "field": "", "message": str(error)}, status=400)
    return _section(case_id, saved=saved)


@bp.post("/cases/<int:case_id>/plans")
@roles_required("lead", "worker")
def add_plan(case_id: int):
    """Record a payment plan: the arrears and "this much a month from this date, n times"."""
    form = request.form
    new = use.NewPlan(
        arrears_at_start=form.get("arrears_at_start", ""),
        instalment_amount=form.get("instalment_amount", ""),
        first_due_on=form.get("first_due_on", ""),
        instalment_count=form.get("instalment_count", ""),
        note=form.get("note", ""),
    )
    return _run(
        case_id, "plan", lambda uow: use.add_plan(uow, _actor(), case_id, new),
        _("Payment plan saved."),
    )  # fmt: skip


@bp.post("/cases/<int:case_id>/plans/<int:plan_id>/end")
@roles_required("lead", "worker")
def end_plan(case_id: int, plan_id: int):
    """End a payment plan by hand."""
    return _run(
        case_id, f"plan-{plan_id}", lambda uow: use.end_plan(uow, _actor(), case_id, plan_id),
        _("Payment plan ended."),
    )  # fmt: skip


@bp.post("/cases/<int:case_id>/deductions")
@roles_required("lead", "worker")
def add_deduction(case_id: int):
    """Record a rent deduction from a benefit, applied for or confirmed."""
    form = request.form
    new = use.NewDeduction(
        benefit=form.get("benefit", ""),
        amount=form.get("amount", ""),
        starts_on=form.get("starts_on", ""),
        state=form.get("state", "applied"),
        pending_until=form.get("pending_until", ""),
        confirmed_by=form.get("confirmed_by", ""),
        note=form.get("note", ""),
    )
    return _run(
        case_id, "deduction", lambda uow: use.add_deduction(uow, _actor(), case_id, new),
        _("Rent from benefits saved."),
    )  # fmt: skip


@bp.post("/cases/<int:case_id>/deductions/<int:deduction_id>/confirm")
@roles_required("lead", "worker")
def confirm_deduction(case_id: int, deduction_id: int):
    """The landlord or the benefit office confirmed the deduction."""
    by, on = request.form.get("confirmed_by", ""), request.form.get("confirmed_on", "")
    return _run(
        case_id, f"deduction-{deduction_id}",
        lambda uow: use.confirm_deduction(uow, _actor(), case_id, deduction_id, by, on),
        _("Rent from benefits confirmed."),
    )  # fmt: skip


@bp.post("/cases/<int:case_id>/deductions/<int:deduction_id>/close")
@roles_required("lead", "worker")
def close_deduction(case_id: int, deduction_id: int):
    """The benefit office refused the deduction, or it ended."""
    state = request.form.get("state", "")
    return _run(
        case_id, f"deduction-{deduction_id}",
        lambda uow: use.close_deduction(uow, _actor(), case_id, deduction_id, state),
        _("Rent from benefits refused.") if state == "refused" else _("Rent from benefits ended."),
    )  # fmt: skip
