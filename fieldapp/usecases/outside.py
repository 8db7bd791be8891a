"""What a partner or a landlord person sees and does: the cases their tenant's current consent
opens to them (services.access), never more. Every read of a case is audited.

- A partner sees the consented open cases of their team: the tenant's name, address and phone,
  the actions assigned to their partner, the meeting decisions for it, the next legal date.
- A landlord sees their own tenants in the team's register: status flags where the tenant
  consented to the landlord, otherwise only that the municipality has the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..domain.wording import N_, Wording
from ..models import OPEN_STATUSES, Action, Case, Meeting, MeetingItem, Partner, Tenancy
from ..models.agreements import HoldRequest
from ..models.field import ACTION_STATUSES
from ..services.access import (
    landlord_cases_query,
    landlord_consented,
    partner_case_ids,
    partner_may_read,
)
from ..services.audit import record_event
from ..services.flags import Flags, case_flags
from ..services.holds import latest_holds
from ..services.meetings import AgendaLine, agenda_for
from ..services.partner_work import (
    NOTE_LIMIT,
    PartnerNote,
    due_date_out_of_range,
    partner_actions,
    partner_decisions,
    partner_notes,
    record_partner_update,
)
from ..services.worklist import local_today
from . import Actor, NotFound, Refused, UnitOfWork


class NotPartner(Refused):
    """Only a person bound to a partner organisation does this (403)."""


class NotLandlord(Refused):
    """Only a person bound to a landlord does this (403)."""


def _partner(actor: Actor) -> None:
    if actor.user is None or actor.role != "partner" or actor.partner_id is None:
        raise NotPartner("Only a partner's account does this.")


def _landlord(actor: Actor) -> None:
    if actor.user is None or actor.role != "landlord" or actor.landlord_id is None:
        raise NotLandlord("Only a landlord's account does this.")


@dataclass
class SharedCase:
    """One line of a partner's list: the case and how many of their actions are open."""

    case: Case
    open_actions: int


@dataclass
class PartnerCase:
    """What a partner person sees of one case: the tenant's name, address and phone (on the
    case), the actions assigned to their partner with their latest updates, the meeting
    decisions for their partner, the next legal date (case.next_deadline). Nothing else."""

    case: Case
    partner: Partner
    actions: list[Action]
    notes: dict[int, PartnerNote]
    decisions: list[MeetingItem]


@dataclass(frozen=True)
class ActionChange:
    """A partner's update of an action, as typed (the use case checks it)."""

    status: str
    note: str = ""
    due_on: str = ""  # YYYY-MM-DD, or empty: unchanged
    client_uuid: str = ""


OPEN_ACTION_STATUSES = ("agreed", "in_progress")


def shared_cases(uow: UnitOfWork, actor: Actor) -> list[SharedCase]:
    """The partner's list: each consented open case with the count of their open actions."""
    cases = partner_cases(uow, actor)
    counts = dict(
        uow.session.execute(
            select(Action.case_id, func.count())
            .where(
                Action.case_id.in_([c.id for c in cases]),
                Action.partner_id == actor.partner_id,
                Action.status.in_(OPEN_ACTION_STATUSES),
            )
            .group_by(Action.case_id)
        ).all()
    ) if cases else {}  # fmt: skip
    return [SharedCase(case, counts.get(case.id, 0)) for case in cases]


def _shared_case(uow: UnitOfWork, actor: Actor, case_id: int) -> Case:
    """The case if the partner person may see it now, else NotFound (no hint it exists)."""
    _partner(actor)
    case = uow.session.get(Case, case_id)
    if case is None or not partner_may_read(uow.session, actor.user, case):
        raise NotFound("No such case.")
    return case


def partner_case(uow: UnitOfWork, actor: Actor, case_id: int) -> PartnerCase:
    """One shared case as the partner sees it. Audited as a read of the case."""
    case = _shared_case(uow, actor, case_id)
    session = uow.session
    actions = partner_actions(session, case.id, actor.partner_id)
    record_event(session, actor.user, "read", "case", case.id, actor.address, "partner view")
    return PartnerCase(
        case=case,
        partner=session.get(Partner, actor.partner_id),
        actions=actions,
        notes=partner_notes(session, [a.id for a in actions]),
        decisions=partner_decisions(session, case.id, actor.partner_id),
    )


def update_partner_action(
    uow: UnitOfWork, actor: Actor, case_id: int, action_id: int, change: ActionChange
) -> Action:
    """The partner sets their action's status, a short note and perhaps a new due date.
    Refused (naming the field and value) when the input cannot be used; NotFound when the
    case is not shared with them or the action is not their partner's."""
    case = _shared_case(uow, actor, case_id)
    session = uow.session
    action = session.get(Action, action_id)
    if action is None or action.case_id != case.id or action.partner_id != actor.partner_id:
        raise NotFound("No such action.")
    if change.status not in ACTION_STATUSES:
        problem = N_("Status: %(value)s is not one of the statuses of an action.")
        raise Refused(Wording(problem, value=change.status[:40]))
    note = change.note.replace("\x00", "").strip()  # PostgreSQL stores no NUL
    if len(note) > NOTE_LIMIT:
        problem = N_("Note: %(count)s characters is too long (at most %(limit)s).")
        raise Refused(Wording(problem, count=len(note), limit=NOTE_LIMIT))
    due_on = None
    if change.due_on.strip():
        try:
            due_on = date.fromisoformat(change.due_on.strip())
        except ValueError:
            due_on = None
            problem = N_("New due date: %(value)s is not a date (day, month and year).")
            raise Refused(Wording(problem, value=change.due_on.strip()[:40])) from None
        if due_date_out_of_range(due_on, local_today(session, actor.user)):
            problem = N_("New due date: %(value)s is too far from today.")
            raise Refused(Wording(problem, value=due_on.isoformat()))
    partner = session.get(Partner, actor.partner_id)
    _update, created = record_partner_update(
        session, actor.user, action, partner.name, status=change.status, note=note,
        due_on=due_on, at=datetime.now(UTC), client_uuid=change.client_uuid[:36] or None,
    )  # fmt: skip
    if created:
        record_event(
            session, actor.user, "update", "action", action.id, actor.address,
            f"case {case.id}: {change.status}",
        )  # fmt: skip
    return action


def partner_meetings(uow: UnitOfWork, actor: Actor) -> list[Meeting]:
    """The meetings of the partner person's team where their partner is at the table."""
    _partner(actor)
    meetings = [
        meeting
        for meeting in uow.session.scalars(
            select(Meeting)
            .where(Meeting.team_id == actor.team_id, Meeting.team_id.is_not(None))
            .order_by(Meeting.held_on.desc(), Meeting.id.desc())
        )
        if actor.partner_id in (meeting.partner_ids or [])
    ]
    record_event(
        uow.session, actor.user, "read", "partner_meetings", "", actor.address,
        f"{len(meetings)} meetings",
    )  # fmt: skip
    return meetings


def partner_meeting(uow: UnitOfWork, actor: Actor, meeting_id: int) -> tuple[Meeting, list]:
    """One meeting with the partner at the table: its agenda as the partner may see it (a
    tenant's details only with their consent) and the decisions for the partner only."""
    _partner(actor)
    meeting = uow.session.get(Meeting, meeting_id)
    if (
        meeting is None
        or meeting.team_id is None
        or meeting.team_id != actor.team_id
        or actor.partner_id not in (meeting.partner_ids or [])
    ):
        raise NotFound("No such meeting.")
    partner = uow.session.get(Partner, actor.partner_id)
    lines: list[AgendaLine] = agenda_for(uow.session, meeting, partner)
    record_event(
        uow.session, actor.user, "read", "meeting", meeting.id, actor.address, "partner copy"
    )
    return meeting, lines


def partner_cases(uow: UnitOfWork, actor: Actor) -> list[Case]:
    """The open cases of the partner person's team whose tenant's current consent covers
    their partner, most urgent first. Audited as one read of the list."""
    _partner(actor)
    ids = partner_case_ids(uow.session, actor.user)
    if not ids:
        return []
    cases = uow.session.scalars(
        select(Case)
        .options(joinedload(Case.tenancy).joinedload(Tenancy.household))
        .where(Case.id.in_(ids))
        .order_by(Case.next_deadline.is_(None), Case.next_deadline, Case.priority.desc())
    ).all()
    record_event(
        uow.session, actor.user, "read", "partner_cases", "", actor.address,
        f"{len(cases)} consented cases",
    )  # fmt: skip
    return list(cases)


def landlord_cases(uow: UnitOfWork, actor: Actor) -> list[Case]:
    """The landlord person's own tenants with an open case in their team's register (a
    closed case is no longer the municipality's work, and says nothing to the landlord)."""
    _landlord(actor)
    cases = uow.session.scalars(
        landlord_cases_query(actor.user)
        .where(Case.status.in_(OPEN_STATUSES))
        .options(joinedload(Case.tenancy).joinedload(Tenancy.household))
        .order_by(Case.opened_at.desc())
    ).all()
    record_event(
        uow.session, actor.user, "read", "landlord_cases", "", actor.address,
        f"{len(cases)} cases",
    )  # fmt: skip
    return list(cases)


@dataclass(frozen=True)
class TenantRow:
    """One line of the landlord's page: their tenancy reference and tenant's name; where the
    tenant consented to the landlord, the flags and the request waiting for an answer."""

    case_id: int
    reference: str
    name: str
    consented: bool
    flags: Flags | None
    waiting: HoldRequest | None


def landlord_tenants(uow: UnitOfWork, actor: Actor) -> list[TenantRow]:
    """The landlord person's own tenants with a case in their team's register, with status
    flags only where the tenant's current consent covers the landlord (services.flags).
    A fixed number of queries for the whole list; audited as one read."""
    cases = landlord_cases(uow, actor)
    ids = [case.id for case in cases]
    consented = landlord_consented(uow.session, ids) if ids else set()
    flags = case_flags(uow.session, sorted(consented))
    holds = latest_holds(uow.session, sorted(consented))
    rows = []
    for case in cases:
        hold = holds.get(case.id)
        rows.append(
            TenantRow(
                case_id=case.id,
                reference=case.tenancy.reference or "",
                name=case.tenancy.household.name,
                consented=case.id in consented,
                flags=flags.get(case.id),
                waiting=hold if hold is not None and hold.state == "requested" else None,
            )
        )
    return rows
