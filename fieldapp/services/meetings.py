"""The fortnightly interdisciplinary meeting: an agenda the lead composes from what the
register's rules propose, decisions that become actions on the case, and what each partner
at the table may see."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from ..domain.sharing import may_share
from ..models import (
    OPEN_STATUSES,
    Action,
    ArrearsRecord,
    Case,
    CaseEvent,
    Meeting,
    MeetingItem,
    Partner,
    Tenancy,
    User,
)
from ..models.types import new_uuid, utcnow
from .access import current_scopes

# Why a case is on the agenda, most pressing first.
AGENDA_REASONS = ("deadline_soon", "overdue_action", "new_in_arrears", "arrears_grew", "no_contact")
DEADLINE_WINDOW = timedelta(weeks=4)
DEFAULT_INTERVAL = timedelta(days=14)
# The rules propose every case they select (82 in a busy fortnight); the agenda starts with
# the most urgent of them, about what a two-hour meeting gets through, and the lead adds and
# removes from there.
DEFAULT_AGENDA_SIZE = 20
MAX_AGENDA_SIZE = 200
# Why a case the lead put on the agenda by hand is there, when no rule selected it.
ADDED_BY_LEAD = "added_by_lead"
# A meeting or due date further off than this is a typing error (0001-01-01, 9999-12-31, which
# also overflowed the agenda's date arithmetic), not a plan.
PAST_DAYS, FUTURE_DAYS = 366, 2 * 366


class MeetingError(ValueError):
    """A meeting or decision that cannot be saved; the message names the field."""


def check_day(field: str, day: date, today: date | None = None) -> None:
    """Refuse a day that cannot be meant, naming the field and the day."""
    today = today or date.today()
    low, high = today - timedelta(days=PAST_DAYS), today + timedelta(days=FUTURE_DAYS)
    if not low <= day <= high:
        raise MeetingError(
            f"{field}: {day.isoformat()} is too far from today; choose a day between "
            f"{low.isoformat()} and {high.isoformat()}."
        )


def previous_meeting_date(session: Session, team_id: int | None, before: date) -> date | None:
    """When the team last met before this date."""
    query = select(func.max(Meeting.held_on)).where(Meeting.held_on < before)
    if team_id is not None:
        query = query.where(Meeting.team_id == team_id)
    return session.scalar(query)


def agenda_reasons(
    session: Session, team_id: int | None, held_on: date, since: date
) -> dict[int, list[str]]:
    """Open cases the meeting should discuss, each with why, from a few grouped queries."""
    scope = [Case.status.in_(OPEN_STATUSES)]
    if team_id is not None:
        scope.append((Case.team_id == team_id) | Case.team_id.is_(None))
    reasons: dict[int, list[str]] = defaultdict(list)

    def add(reason: str, ids) -> None:
        for case_id in ids:
            reasons[case_id].append(reason)

    since_moment = datetime.combine(since, time(), tzinfo=UTC)
    add(
        "new_in_arrears",
        session.scalars(select(Case.id).where(*scope, Case.opened_at >= since_moment)),
    )
    add(
        "deadline_soon",
        session.scalars(
            select(Case.id).where(
                *scope,
                Case.next_deadline.is_not(None),
                Case.next_deadline >= held_on,
                Case.next_deadline <= held_on + DEADLINE_WINDOW,
            )
        ),
    )
    add(
        "overdue_action",
        session.scalars(
            select(Action.case_id)
            .join(Case, Action.case_id == Case.id)
            .where(*scope, Action.due_on < held_on, Action.status.in_(("agreed", "in_progress")))
            .distinct()
        ),
    )
    add(
        "no_contact", session.scalars(select(Case.id).where(*scope, Case.last_contact_at.is_(None)))
    )
    # Arrears grew: the newest list since the last meeting says more than the list before it.
    records = session.execute(
        select(ArrearsRecord.tenancy_id, ArrearsRecord.as_of, ArrearsRecord.amount)
        .join(Case, Case.tenancy_id == ArrearsRecord.tenancy_id)
        .where(*scope)
        .order_by(ArrearsRecord.tenancy_id, ArrearsRecord.as_of)
    ).all()
    by_tenancy: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for tenancy_id, as_of, amount in records:
        by_tenancy[tenancy_id].append((as_of, amount))
    grew = {
        tenancy_id
        for tenancy_id, rows in by_tenancy.items()
        if len(rows) >= 2 and rows[-1][0] >= since and rows[-1][1] > rows[-2][1]
    }
    if grew:
        add(
            "arrears_grew",
            session.scalars(select(Case.id).where(*scope, Case.tenancy_id.in_(grew))),
        )
    order = {reason: index for index, reason in enumerate(AGENDA_REASONS)}
    return {case_id: sorted(set(found), key=order.get) for case_id, found in reasons.items()}


@dataclass
class Proposal:
    """A case the rules propose for a meeting, and why."""

    case: Case
    reasons: list[str]


def _since(session: Session, team_id: int | None, held_on: date) -> date:
    return previous_meeting_date(session, team_id, held_on) or held_on - DEFAULT_INTERVAL


def proposed_case_ids(
    session: Session, team_id: int | None, held_on: date
) -> list[tuple[int, list[str]]]:
    """What the rules propose for a meeting on that day, most urgent first, with reasons."""
    reasons = agenda_reasons(session, team_id, held_on, _since(session, team_id, held_on))
    priorities = (
        dict(session.execute(select(Case.id, Case.priority).where(Case.id.in_(reasons))).all())
        if reasons
        else {}
    )
    ordered = sorted(reasons, key=lambda case_id: (-priorities.get(case_id, 0), case_id))
    return [(case_id, reasons[case_id]) for case_id in ordered]


def proposals_for(session: Session, meeting: Meeting) -> list[Proposal]:
    """The cases the rules propose that are not on the meeting's agenda (yet, or any more),
    most urgent first, with their households."""
    on_agenda = {item.case_id for item in meeting.items}
    wanted = [
        (case_id, reasons)
        for case_id, reasons in proposed_case_ids(session, meeting.team_id, meeting.held_on)
        if case_id not in on_agenda
    ]
    if not wanted:
        return []
    cases = {
        case.id: case
        for case in session.scalars(
            select(Case)
            .options(joinedload(Case.tenancy).joinedload(Tenancy.household))
            .where(Case.id.in_([case_id for case_id, _ in wanted]))
        )
    }
    return [Proposal(cases[case_id], reasons) for case_id, reasons in wanted]


def create_meeting(
    session: Session,
    team_id: int | None,
    held_on: date,
    by: User,
    title: str = "",
    partner_ids: list[int] | None = None,
    agenda_size: int = DEFAULT_AGENDA_SIZE,
) -> Meeting:
    """Plan a meeting; its agenda starts with the `agenda_size` most urgent cases the rules
    propose (the rest stay proposals the lead can add)."""
    check_day("Date", held_on)
    if not 0 <= agenda_size <= MAX_AGENDA_SIZE:
        raise MeetingError(
            f"Cases to start with: {agenda_size} is not between 0 and {MAX_AGENDA_SIZE}."
        )
    partner_ids = sorted(set(partner_ids or []))
    known = set(session.scalars(select(Partner.id).where(Partner.id.in_(partner_ids))))
    if unknown := [p for p in partner_ids if p not in known]:
        raise MeetingError(f"Partners: {unknown} are not known.")
    proposed = proposed_case_ids(session, team_id, held_on)[:agenda_size]
    meeting = Meeting(
        team_id=team_id,
        held_on=held_on,
        title=title.strip()[:200],
        partner_ids=partner_ids,
        created_by_id=by.id,
    )
    session.add(meeting)
    session.flush()
    for position, (case_id, reasons) in enumerate(proposed):
        session.add(
            MeetingItem(meeting_id=meeting.id, case_id=case_id, position=position, reasons=reasons)
        )
    session.flush()
    return meeting


class DecisionRecorded(MeetingError):
    """An agenda item with a decision cannot be taken off the agenda."""


def add_to_agenda(session: Session, meeting: Meeting, case: Case) -> tuple[MeetingItem, bool]:
    """Put a case on the agenda, last; its reasons are the rules' if they propose it, else
    "added by the lead". A case on the agenda already is left as it is (added False): the
    same form sent twice adds it once."""
    found = next((item for item in meeting.items if item.case_id == case.id), None)
    if found is not None:
        return found, False
    if not case.is_open:
        raise MeetingError("Only an open case can go on the agenda.")
    proposed = dict(proposed_case_ids(session, meeting.team_id, meeting.held_on))
    position = max((item.position for item in meeting.items), default=-1) + 1
    item = MeetingItem(
        meeting_id=meeting.id,
        case_id=case.id,
        position=position,
        reasons=proposed.get(case.id) or [ADDED_BY_LEAD],
    )
    session.add(item)
    meeting.items.append(item)
    session.flush()
    return item, True


def remove_from_agenda(session: Session, meeting: Meeting, item: MeetingItem) -> int:
    """Take a case off the agenda (it stays a proposal if the rules propose it); returns the
    item's number on the agenda it had. Refused once a decision is recorded for it: the
    decision is an action on the case and on the partners' copies."""
    if item.decided_at is not None:
        raise DecisionRecorded(
            "A decision is recorded for this case: it stays on the agenda. Correct the "
            "decision instead."
        )
    number = agenda_number(meeting, item)
    meeting.items.remove(item)
    session.delete(item)
    session.flush()
    return number


def agenda_number(meeting: Meeting, item: MeetingItem) -> int:
    """The item's number on the agenda as printed (1, 2, 3, … in agenda order)."""
    ordered = sorted(meeting.items, key=lambda i: (i.position, i.id))
    return next(n for n, i in enumerate(ordered, start=1) if i.id == item.id)


def load_meeting(session: Session, meeting_id: int, team_id: int | None) -> Meeting | None:
    """The meeting with its items, cases and households, if it is the lead's team's."""
    meeting = session.scalar(
        select(Meeting)
        .options(
            joinedload(Meeting.items)
            .joinedload(MeetingItem.case)
            .joinedload(Case.tenancy)
            .joinedload(Tenancy.household)
        )
        .where(Meeting.id == meeting_id)
    )
    if meeting is None or (team_id is not None and meeting.team_id not in (None, team_id)):
        return None
    return meeting


def record_decision(
    session: Session,
    item: MeetingItem,
    by: User,
    decision: str,
    partner_id: int | None,
    responsible: str,
    due_on: date | None,
    legal_basis: str = "",
    legal_bases: Sequence[str] = (),
) -> Action:
    """Write down what the meeting decided; it becomes (or updates) an action on the case,
    which the worker sees on the phone. A partner the tenant's current consent does not cover
    is refused (NoConsent), unless the lead chose one of the organisation's legal bases for
    sharing without consent (kept on the item; the caller audits it)."""
    if due_on is not None:
        check_day("Due date", due_on)
    decision = decision.strip()
    if not decision:
        raise MeetingError("Decision: write what was decided.")
    if len(decision) > 1000:
        raise MeetingError("Decision: keep it under 1000 characters.")
    partner = session.get(Partner, partner_id) if partner_id is not None else None
    if partner_id is not None and partner is None:
        raise MeetingError(f"Partner: {partner_id!r} is not known.")
    basis = ""
    if partner is not None:
        consented = current_scopes(session, [item.case_id]).get(item.case_id, set())
        if not may_share(consented, partner.kind, legal_basis, list(legal_bases)):
            raise NoConsent(partner.name)
        basis = "" if partner.kind in consented else legal_basis
    responsible = responsible.strip()[:200]
    description = f"{decision} ({responsible})" if responsible else decision
    action = session.get(Action, item.action_id) if item.action_id else None
    if action is None:
        action = Action(
            client_uuid=new_uuid(),
            case_id=item.case_id,
            worker_id=by.id,
            description=description,
            owner="partner" if partner_id else "worker",
            partner_id=partner_id,
            due_on=due_on,
            status="agreed",
            recorded_at=utcnow(),
        )
        session.add(action)
        session.flush()
    else:
        action.description, action.partner_id, action.due_on = description, partner_id, due_on
        action.owner = "partner" if partner_id else "worker"
    item.decision, item.partner_id, item.responsible, item.due_on = (
        decision,
        partner_id,
        responsible,
        due_on,
    )
    item.legal_basis = basis
    item.action_id = action.id
    item.decided_at = utcnow()
    session.add(
        CaseEvent(
            case_id=item.case_id,
            user_id=by.id,
            kind="meeting_decision",
            detail={"meeting": item.meeting_id},
        )
    )
    session.flush()
    return action


class NoConsent(MeetingError):
    """The tenant has not consented to sharing with this partner, and no legal basis was
    chosen."""

    def __init__(self, partner: str) -> None:
        self.partner = partner
        super().__init__(
            f"{partner} cannot be given this: the tenant has not consented to sharing with "
            f"{partner}. Ask for consent at the next visit, or choose the legal basis for "
            "sharing without consent."
        )


@dataclass
class AgendaLine:
    """What one reader of the agenda may see of one case.

    show_details False (the tenant has not consented to share with this reader): the copy
    shows only `number`, the line's place on this meeting's agenda, and that the case was
    discussed without this partner; no case id, tenancy number, reasons, decision, person
    responsible or dates, since any of them identifies the tenant or says what is sensitive.
    """

    item: MeetingItem
    reference: str
    show_details: bool
    number: int = 0


def agenda_for(session: Session, meeting: Meeting, partner: Partner | None) -> list[AgendaLine]:
    """The agenda as a reader may see it (need-to-know).

    A partner's copy shows a tenant's details only when the tenant consented to that
    partner's kind; the copy for the whole table (partner None) only when every partner
    present is covered. Everyone else sees the case reference. (The lead's working page
    shows everything and does not use this.)
    """
    scopes = current_scopes(session, [item.case_id for item in meeting.items])
    if partner is not None:
        needed = {partner.kind}
    else:
        present = session.scalars(select(Partner).where(Partner.id.in_(meeting.partner_ids)))
        needed = {p.kind for p in present}
    lines = []
    for number, item in enumerate(sorted(meeting.items, key=lambda i: i.position), start=1):
        covered = scopes.get(item.case_id, set())
        shown = bool(covered) and needed <= covered
        if partner is not None and item.partner_id == partner.id and item.legal_basis:
            shown = True  # given to this partner on a recorded legal basis
        reference = ""
        if shown:
            reference = f"#{item.case_id}"
            if item.case.tenancy.reference:
                reference += f" · {item.case.tenancy.reference}"
        lines.append(AgendaLine(item, reference, shown, number))
    return lines


def meetings_of_team(session: Session, team_id: int | None) -> list[Meeting]:
    """The team's meetings, newest first."""
    query = select(Meeting).order_by(Meeting.held_on.desc(), Meeting.id.desc())
    if team_id is not None:
        query = query.where((Meeting.team_id == team_id) | Meeting.team_id.is_(None))
    return list(session.scalars(query))
