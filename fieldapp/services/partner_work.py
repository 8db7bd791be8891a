"""A partner's work on a case: the actions assigned to their partner, the meeting decisions for
it, and their updates of an action (status, a short note, a new due date), which the worker's
card and the lead's case page show with the partner's name.

An update is an ActionUpdate like the phone's status change (the latest one counts for the
action's status and due date); it is also a CaseEvent, so the case's history has it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Action, ActionUpdate, CaseEvent, MeetingItem, Partner, User
from ..models.types import new_uuid

NOTE_LIMIT = 500
# A new due date further from today than this is a typing error (a year, not a month).
DUE_PAST = timedelta(days=365)
DUE_AHEAD = timedelta(days=2 * 365)


@dataclass(frozen=True)
class PartnerNote:
    """The latest update a partner person made of an action, as the worker and lead see it."""

    status: str
    note: str
    due_on: date | None
    by: str  # the partner organisation's name
    at: datetime


def partner_actions(session: Session, case_id: int, partner_id: int) -> list[Action]:
    """The case's actions assigned to this partner (never another's), soonest due first."""
    return list(
        session.scalars(
            select(Action)
            .where(Action.case_id == case_id, Action.partner_id == partner_id)
            .order_by(Action.due_on.is_(None), Action.due_on, Action.id)
        )
    )


def partner_decisions(session: Session, case_id: int, partner_id: int) -> list[MeetingItem]:
    """The meeting decisions on the case that give this partner something to do."""
    return list(
        session.scalars(
            select(MeetingItem).where(
                MeetingItem.case_id == case_id,
                MeetingItem.partner_id == partner_id,
                MeetingItem.decided_at.is_not(None),
            )
        )
    )


def partner_notes(session: Session, action_ids: list[int]) -> dict[int, PartnerNote]:
    """Each action's latest update by a partner person, with the partner's name (one
    statement, whatever the number of actions)."""
    if not action_ids:
        return {}
    rows = session.execute(
        select(ActionUpdate, Partner.name)
        .join(User, User.id == ActionUpdate.worker_id)
        .join(Partner, Partner.id == User.partner_id)
        .where(ActionUpdate.action_id.in_(action_ids), User.role == "partner")
        .order_by(ActionUpdate.recorded_at, ActionUpdate.id)
    ).all()
    notes = {}
    for update, name in rows:
        notes[update.action_id] = PartnerNote(
            update.status, update.note, update.due_on, name, update.recorded_at
        )
    return notes


def due_date_out_of_range(day: date, today: date) -> bool:
    """A new due date before a year ago or more than two years ahead."""
    return day < today - DUE_PAST or day > today + DUE_AHEAD


def record_partner_update(
    session: Session,
    user: User,
    action: Action,
    partner_name: str,
    *,
    status: str,
    note: str,
    due_on: date | None,
    at: datetime,
    client_uuid: str | None = None,
) -> tuple[ActionUpdate, bool]:
    """Store the update (checked by the caller); (update, created). A client UUID seen
    before returns the stored update: a double submit changes nothing."""
    if client_uuid:
        existing = session.scalar(
            select(ActionUpdate).where(ActionUpdate.client_uuid == client_uuid)
        )
        if existing is not None:
            return existing, False
    latest = session.scalar(
        select(func.max(ActionUpdate.recorded_at)).where(ActionUpdate.action_id == action.id)
    )
    update = ActionUpdate(
        client_uuid=client_uuid or new_uuid(),
        action_id=action.id,
        worker_id=user.id,
        status=status,
        note=note,
        due_on=due_on,
        recorded_at=at,
    )
    session.add(update)
    if latest is None or at >= latest:
        action.status = status
        if due_on is not None:
            action.due_on = due_on
    detail = {
        "action_id": action.id,
        "description": action.description,
        "status": status,
        "note": note,
        "due_on": due_on.isoformat() if due_on else None,
        "partner": partner_name,
    }
    session.add(
        CaseEvent(case_id=action.case_id, user_id=user.id, kind="partner_update", detail=detail)
    )
    session.flush()
    return update, True
