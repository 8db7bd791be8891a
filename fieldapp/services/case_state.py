"""Where a case stands now, for the top of the lead's case page: the tenant's current consent,
the needs mapped, the open actions and who does them, the next follow-up, the next court or
bailiff date, the last meeting decision, and the payment plans and rent deductions. The rows
are read once and handed to the history too (services.cases.case_timeline); the plans and the
deductions cost a statement each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..models import Action, Case, Consent, LegalStep, Meeting, MeetingItem, Need, Partner, Visit
from ..models.agreements import BenefitDeduction, PaymentPlan
from .agreements import deductions_of, plans_of
from .partner_work import PartnerNote, partner_notes

OPEN_ACTION_STATUSES = ("agreed", "in_progress")


@dataclass
class CaseRecords:
    """Every field record of one case, oldest first (the history sorts them itself)."""

    visits: list[Visit]
    consents: list[Consent]
    needs: list[Need]
    actions: list[Action]


@dataclass
class CaseState:
    """The case's present state, as the lead reads it before the history."""

    consent: Consent | None
    needs: list[Need]
    open_actions: list[Action]
    partners: dict[int, Partner]
    follow_up: date | None
    next_step: LegalStep | None
    last_decision: MeetingItem | None
    decisions: dict[int, MeetingItem] = field(default_factory=dict)  # by meeting id
    # Each open action's latest update by its partner (services.partner_work), by action id.
    partner_notes: dict[int, PartnerNote] = field(default_factory=dict)
    # Payment plans and rent deductions from benefits, oldest first (services.agreements).
    plans: list[PaymentPlan] = field(default_factory=list)
    deductions: list[BenefitDeduction] = field(default_factory=list)

    @property
    def consented_kinds(self) -> set[str]:
        if self.consent is None or self.consent.state != "given":
            return set()
        return set(self.consent.scopes)

    def is_overdue(self, action: Action, today: date) -> bool:
        return action.due_on is not None and action.due_on < today

    def lacks_consent(self, action: Action) -> bool:
        """An action with a partner the tenant's current consent does not cover."""
        partner = self.partners.get(action.partner_id) if action.partner_id else None
        return partner is not None and partner.kind not in self.consented_kinds


def case_records(session: Session, case_id: int) -> CaseRecords:
    """The case's visits, consents, needs and actions: one statement each."""

    def rows(model, *order):
        return list(session.scalars(select(model).where(model.case_id == case_id).order_by(*order)))

    return CaseRecords(
        rows(Visit, Visit.occurred_at, Visit.id),
        rows(Consent, Consent.recorded_at, Consent.id),
        rows(Need, Need.recorded_at, Need.id),
        rows(Action, Action.recorded_at, Action.id),
    )


def pending_follow_up(visits: list[Visit]) -> date | None:
    """The follow-up date set at the latest visit that set one, unless a visit has been made
    on or after that day already (then it was followed up)."""
    dated = [v for v in visits if v.follow_up_on is not None]
    if not dated:
        return None
    latest = max(dated, key=lambda v: (v.occurred_at, v.id))
    followed = any(v.occurred_at.date() >= latest.follow_up_on for v in visits)
    return None if followed else latest.follow_up_on


def next_legal_step(case: Case) -> LegalStep | None:
    """The step that sets the case's deadline (the next hearing or eviction), with its note
    (where the time and the court are written)."""
    if case.next_deadline is None:
        return None
    return next(
        (
            step
            for step in case.legal_steps
            if step.date == case.next_deadline and step.kind == case.next_deadline_kind
        ),
        None,
    )


def case_state(session: Session, case: Case, records: CaseRecords) -> CaseState:
    """The present state from the case's records, its legal steps and its meeting items."""
    consent = records.consents[-1] if records.consents else None
    open_actions = sorted(
        (a for a in records.actions if a.status in OPEN_ACTION_STATUSES),
        key=lambda a: (a.due_on is None, a.due_on or date.max, a.id),
    )
    partners = {p.id: p for p in session.scalars(select(Partner))}
    items = session.scalars(
        select(MeetingItem)
        .join(Meeting, MeetingItem.meeting_id == Meeting.id)
        .options(joinedload(MeetingItem.meeting))
        .where(MeetingItem.case_id == case.id, MeetingItem.decided_at.is_not(None))
        .order_by(Meeting.held_on, MeetingItem.decided_at)
    ).all()
    return CaseState(
        consent=consent,
        needs=list(reversed(records.needs)),
        open_actions=open_actions,
        partners=partners,
        follow_up=pending_follow_up(records.visits),
        next_step=next_legal_step(case),
        last_decision=items[-1] if items else None,
        decisions={item.meeting_id: item for item in items},
        partner_notes=partner_notes(
            session, [a.id for a in open_actions if a.partner_id is not None]
        ),
        plans=plans_of(session, case.id),
        deductions=deductions_of(session, case.id),
    )
