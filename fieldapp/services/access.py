"""Who may read and who may change a case: one place, used by every view and by sync.

- A lead: the cases of their team (a lead without a team: all).
- A worker changes the cases assigned to them and the cases on their own route; they read,
  without changing, the open cases of their team (to cover a visit, the lead reassigns).
- Nothing recorded in the field is lost to a reassignment: a record made while the case was
  the worker's is still accepted when it arrives after the case was given to someone else.
- Administrators and the data protection officer read no case here (administrators break the
  glass on the case page).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ..models import OPEN_STATUSES, Case, CaseEvent, Route, RouteStop, User


def _leads(user: User, case: Case) -> bool:
    return user.role == "lead" and (user.team_id is None or case.team_id in (None, user.team_id))


def on_own_route(session: Session, worker: User, case: Case, around: date) -> bool:
    """Whether the case is a stop on one of the worker's published routes within a day of
    `around` (a record made late in the evening, a route published for tomorrow)."""
    return bool(
        session.scalar(
            select(
                exists()
                .where(RouteStop.case_id == case.id, RouteStop.route_id == Route.id)
                .where(
                    Route.worker_id == worker.id,
                    Route.state.in_(("published", "replaced")),
                    Route.day.between(around - timedelta(days=1), around + timedelta(days=1)),
                )
            )
        )
    )


def _was_theirs_when(session: Session, worker: User, case: Case, recorded_at: datetime) -> bool:
    """Whether the case was taken from this worker after the moment the record was made."""
    moves = session.scalars(
        select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "assigned", CaseEvent.at >= recorded_at
        )
    )
    return any((move.detail or {}).get("from") == worker.id for move in moves)


def may_change(
    session: Session, user: User, case: Case, recorded_at: datetime | None = None
) -> bool:
    """Whether this person may record on the case or change it (recorded_at: when a record
    from the phone's outbox was made, so a later reassignment does not refuse it)."""
    if _leads(user, case):
        return True
    if user.role != "worker":
        return False
    if case.assigned_worker_id == user.id:
        return True
    if user.team_id is None or case.team_id not in (None, user.team_id):
        return False
    moment = recorded_at or datetime.now().astimezone()
    if on_own_route(session, user, case, moment.date()):
        return True
    return recorded_at is not None and _was_theirs_when(session, user, case, recorded_at)


def may_read(session: Session, user: User, case: Case) -> bool:
    """Whether this person may read the case: whoever may change it, and a worker any open
    case of their team."""
    if user.role == "worker" and user.team_id is not None and case.team_id == user.team_id:
        if case.status in OPEN_STATUSES:
            return True
    return may_change(session, user, case)
