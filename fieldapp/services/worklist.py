"""Lists of cases for the people who work them: the worker's day, the lead's overview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from ..models import OPEN_STATUSES, Case, Organisation, Route, RouteStop, Team, Tenancy, User


def _with_household():
    return joinedload(Case.tenancy).joinedload(Tenancy.household)


def local_today(session: Session, worker: User) -> date:
    """Today's date in the zone of the worker's organisation (or the first organisation's)."""
    zone = session.scalar(
        select(Organisation.timezone).join(Team).where(Team.id == worker.team_id)
    ) or session.scalar(select(Organisation.timezone).order_by(Organisation.id))
    return datetime.now(UTC).astimezone(ZoneInfo(zone or "Europe/Copenhagen")).date()


def todays_cases(session: Session, worker: User, limit: int = 40) -> list[Case]:
    """The worker's day: the open cases of their published route for today in route order,
    or without a published route, their open cases most urgent first."""
    route_id = session.scalar(
        select(Route.id).where(
            Route.worker_id == worker.id,
            Route.day == local_today(session, worker),
            Route.state == "published",
        )
    )
    if route_id is not None:
        return list(
            session.scalars(
                select(Case)
                .join(RouteStop, RouteStop.case_id == Case.id)
                .options(_with_household())
                .where(RouteStop.route_id == route_id, Case.status.in_(OPEN_STATUSES))
                .order_by(RouteStop.position)
                .limit(limit)
            )
        )
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
