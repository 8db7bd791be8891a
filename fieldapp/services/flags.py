"""The status flags a landlord sees for a tenant whose consent covers the landlord: plain
facts about the municipality's work, never notes, needs, visits, benefits or amounts.

One home for their definitions, so the landlord's page, the demo and the reports agree:

- in_contact: the case is in contact or has a plan agreed, or a worker met the tenant in the
  last RECENT_CONTACT days;
- payment_plan: a payment plan is active or kept;
- rent_deduction: a rent deduction from a benefit is confirmed;
- benefit_pending: a rent deduction is applied for (pending_until: the latest date the
  benefit office should answer by, when set);
- hold_requested: a hold request is open (requested) or accepted and has not ended (until:
  its date).

A fixed number of queries for the whole list (one per kind of record), never one per case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Case, Visit
from ..models.agreements import BenefitDeduction, HoldRequest, PaymentPlan

RECENT_CONTACT = timedelta(days=30)
CONTACT_STATUSES = ("in_contact", "plan_agreed")
PLAN_FLAG_STATES = ("active", "kept")
HOLD_FLAG_STATES = ("requested", "accepted")


@dataclass
class Flags:
    """The flags of one case (False/None: not set)."""

    in_contact: bool = False
    payment_plan: bool = False
    rent_deduction: bool = False
    benefit_pending: bool = False
    pending_until: date | None = None
    hold_requested: bool = False
    hold_until: date | None = None

    def any(self) -> bool:
        return any(
            (self.in_contact, self.payment_plan, self.rent_deduction, self.benefit_pending,
             self.hold_requested)
        )  # fmt: skip


def _later(a: date | None, b: date | None) -> date | None:
    return max(d for d in (a, b) if d is not None) if (a or b) else None


def case_flags(
    session: Session, case_ids: list[int], now: datetime | None = None
) -> dict[int, Flags]:
    """The flags of each of these cases (every id gets an entry). The caller decides whose
    flags may be shown (services.access.landlord_consented): this function does not."""
    ids = sorted(set(case_ids))
    flags = {case_id: Flags() for case_id in ids}
    if not ids:
        return flags
    since = (now or datetime.now(UTC)) - RECENT_CONTACT
    for (case_id,) in session.execute(
        select(Case.id).where(Case.id.in_(ids), Case.status.in_(CONTACT_STATUSES))
    ):
        flags[case_id].in_contact = True
    for (case_id,) in session.execute(
        select(Visit.case_id)
        .where(Visit.case_id.in_(ids), Visit.result == "met", Visit.occurred_at >= since)
        .distinct()
    ):
        flags[case_id].in_contact = True
    for (case_id,) in session.execute(
        select(PaymentPlan.case_id)
        .where(PaymentPlan.case_id.in_(ids), PaymentPlan.state.in_(PLAN_FLAG_STATES))
        .distinct()
    ):
        flags[case_id].payment_plan = True
    for case_id, state, pending_until in session.execute(
        select(BenefitDeduction.case_id, BenefitDeduction.state, BenefitDeduction.pending_until)
        .where(BenefitDeduction.case_id.in_(ids))
        .where(BenefitDeduction.state.in_(("applied", "confirmed")))
    ):
        if state == "confirmed":
            flags[case_id].rent_deduction = True
        else:
            flags[case_id].benefit_pending = True
            flags[case_id].pending_until = _later(flags[case_id].pending_until, pending_until)
    for case_id, until in session.execute(
        select(HoldRequest.case_id, HoldRequest.until)
        .where(HoldRequest.case_id.in_(ids), HoldRequest.state.in_(HOLD_FLAG_STATES))
        .where(HoldRequest.ended_with.is_(None))
        # a request whose date has passed asks nothing any more
        .where(HoldRequest.until >= (now or datetime.now(UTC)).date())
    ):
        flags[case_id].hold_requested = True
        flags[case_id].hold_until = _later(flags[case_id].hold_until, until)
    return flags
