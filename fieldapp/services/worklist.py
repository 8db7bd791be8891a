"""Lists of cases for the people who work them: the worker's day, the lead's overview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from ..models import OPEN_STATUSES, Case, Tenancy, User


def _with_household():
    return joinedload(Case.tenancy).joinedload(Tenancy.household)


def todays_cases(session: Session, worker: User, limit: int = 40) -> list[Case]:
    """The worker's open cases, most urgent first (until a route is planned for the day)."""
    return list(
        session.scalars(
            select(Case)
            .options(_with_household())
            .where(Case.assigned_worker_id == worker.id, Case.status.in_(OPEN_STATUSES))
            .order_by(Case.priority.desc(), Case.id)
            .limit(limit)
        )
    )


@dataclass
class DashboardFigures:
    """What a lead sees first on Monday morning."""

    open_cases: int
    unassigned: int
    deadlines_soon: int
    no_contact: int
    next_deadlines: list[Case]


def dashboard_figures(
    session: Session, team_id: int | None, today: date | None = None
) -> DashboardFigures:
    """Counts of the team's open cases and the next ten deadlines."""
    today = today or date.today()
    open_team = [Case.status.in_(OPEN_STATUSES)]
    if team_id is not None:
        open_team.append(Case.team_id == team_id)

    def count(*extra) -> int:
        return session.scalar(select(func.count(Case.id)).where(*open_team, *extra)) or 0

    soon = today + timedelta(days=14)
    next_deadlines = session.scalars(
        select(Case)
        .options(_with_household(), joinedload(Case.assigned_worker))
        .where(*open_team, Case.next_deadline.is_not(None), Case.next_deadline >= today)
        .order_by(Case.next_deadline, Case.id)
        .limit(10)
    ).all()
    return DashboardFigures(
        open_cases=count(),
        unassigned=count(Case.assigned_worker_id.is_(None)),
        deadlines_soon=count(Case.next_deadline.is_not(None), Case.next_deadline <= soon),
        no_contact=count(Case.last_contact_at.is_(None)),
        next_deadlines=list(next_deadlines),
    )
