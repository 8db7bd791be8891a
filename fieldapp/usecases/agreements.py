"""Payment plans and rent deductions from benefits, at the desk: add, confirm, end.

Whoever may change the case (services.access.may_change) may record them; every change is
audited against the case. The phone's offline records come through services.sync, which
checks the same rule and calls the same services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..domain.wording import N_, Wording
from ..models.agreements import BenefitDeduction, PaymentPlan
from ..services import agreements as service
from ..services.agreements import AgreementError
from ..services.audit import record_event
from ..services.triage import refresh_priorities
from . import Actor, NotFound, Refused, UnitOfWork
from .cases import case_in_scope

NO_SUCH_AGREEMENT = N_("No such plan or deduction on this case.")


class BadAgreement(Refused):
    """A value that cannot be stored; `field` names it (the page shows the message beside it)."""

    def __init__(self, error: AgreementError) -> None:
        super().__init__(error.args[0])
        self.field = error.field


@dataclass(frozen=True)
class NewPlan:
    """A plan as the forms enter it: the arrears and "this much a month from then, n times"
    (or the instalments themselves)."""

    arrears_at_start: str
    instalment_amount: str = ""
    first_due_on: str = ""
    instalment_count: str = ""
    note: str = ""
    instalments: list | None = None


@dataclass(frozen=True)
class NewDeduction:
    benefit: str
    amount: str
    starts_on: str
    state: str = "applied"
    pending_until: str = ""
    confirmed_by: str = ""
    note: str = ""


def _audit(uow: UnitOfWork, actor: Actor, action: str, case_id: int, what: str) -> None:
    record_event(uow.session, actor.user, action, "case", case_id, actor.address, what)


def add_plan(
    uow: UnitOfWork, actor: Actor, case_id: int, new: NewPlan, today: date | None = None
) -> PaymentPlan:
    """A payment plan on a case the actor may change."""
    case = case_in_scope(uow, actor, case_id)
    today = today or date.today()
    try:
        instalments = new.instalments
        if instalments is None:
            instalments = service.monthly_instalments(
                new.instalment_amount, new.first_due_on, new.instalment_count, today
            )
        plan = service.create_plan(
            uow.session, case, actor.user, arrears_at_start=new.arrears_at_start,
            instalments=instalments, note=new.note, today=today,
        )  # fmt: skip
    except AgreementError as error:
        raise BadAgreement(error) from None
    _audit(uow, actor, "create", case.id, "payment_plan")
    return plan


def _on_case(uow: UnitOfWork, actor: Actor, case_id: int, model, record_id: int):
    """A plan or deduction of a case the actor may change. The case first: another team's
    case is not found, whatever the record's id."""
    case_in_scope(uow, actor, case_id)
    record = uow.session.get(model, record_id)
    if record is None or record.case_id != case_id:
        raise NotFound(Wording(NO_SUCH_AGREEMENT))
    return record


def end_plan(uow: UnitOfWork, actor: Actor, case_id: int, plan_id: int) -> PaymentPlan:
    """Stop a plan by hand (a new one agreed, the tenancy ended); a broken plan no longer
    raises the case's priority."""
    plan = _on_case(uow, actor, case_id, PaymentPlan, plan_id)
    if service.end_plan(uow.session, plan):
        _audit(uow, actor, "update", plan.case_id, "payment_plan ended")
        refresh_priorities(uow.session, [plan.case_id])
    return plan


def add_deduction(
    uow: UnitOfWork, actor: Actor, case_id: int, new: NewDeduction, today: date | None = None
) -> BenefitDeduction:
    """A rent deduction from a benefit of the organisation's country."""
    case = case_in_scope(uow, actor, case_id)
    country = actor.user.organisation_country if actor.user is not None else None
    try:
        deduction = service.create_deduction(
            uow.session, case, actor.user, country, benefit=new.benefit, amount=new.amount,
            starts_on=new.starts_on, state=new.state, pending_until=new.pending_until or None,
            confirmed_by=new.confirmed_by, note=new.note, today=today,
        )  # fmt: skip
    except AgreementError as error:
        raise BadAgreement(error) from None
    _audit(uow, actor, "create", case.id, "benefit_deduction")
    return deduction


def confirm_deduction(
    uow: UnitOfWork,
    actor: Actor,
    case_id: int,
    deduction_id: int,
    by: str,
    on: str,
    today: date | None = None,
) -> BenefitDeduction:
    """The landlord or the benefit office confirmed the deduction on that day."""
    deduction = _on_case(uow, actor, case_id, BenefitDeduction, deduction_id)
    try:
        service.confirm_deduction(uow.session, deduction, by, on, today)
    except AgreementError as error:
        raise BadAgreement(error) from None
    _audit(uow, actor, "update", deduction.case_id, "benefit_deduction confirmed")
    return deduction


def close_deduction(
    uow: UnitOfWork, actor: Actor, case_id: int, deduction_id: int, state: str
) -> BenefitDeduction:
    """The benefit office refused the deduction, or it ended."""
    deduction = _on_case(uow, actor, case_id, BenefitDeduction, deduction_id)
    try:
        changed = service.close_deduction(uow.session, deduction, state)
    except AgreementError as error:
        raise BadAgreement(error) from None
    if changed:
        _audit(uow, actor, "update", deduction.case_id, f"benefit_deduction {state}")
    return deduction
