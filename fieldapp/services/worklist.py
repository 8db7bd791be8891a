"""Lists of cases for the people who work them: the worker's day, the lead's overview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from ..domain.organisation import zone_of
from ..models import OPEN_STATUSES, Case, Route, RouteStop, Tenancy, User


def _with_household():
    return joinedload(Case.tenancy).joinedload(Tenancy.household)


def _zone(session: Session, worker: User) -> ZoneInfo:
    """The time zone of the worker's organisation (or the first organisation's)."""
    return zone_of(session, worker.team_id)


def local_today(session: Session, worker: User) -> date:
    """Today's date in the zone of the worker's organisation."""
    return datetime.now(UTC).astimezone(_zone(session, worker)).date()


def todays_cases(
    session: Session, worker: User, limit: int = 40, today: date | None = None
) -> list[Case]:
    """The worker's day: the open cases of their published route for today in route order,
    or without a published route, their open cases most urgent first."""
    route_id = session.scalar(
        select(Route.id).where(
            Route.worker_id == worker.id,
            Route.day == (today or local_today(session, worker)),
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


def team_open_cases(session: Session, worker: User, limit: int = 200) -> list[Case]:
    """The open cases of the worker's team, most urgent first: what they may read to cover
    for a colleague (changing one takes the lead giving it to them)."""
    if worker.team_id is None:
        return []
    return list(
        session.scalars(
            select(Case)
            .options(_with_household(), joinedload(Case.assigned_worker))
            .where(Case.team_id == worker.team_id, Case.status.in_(OPEN_STATUSES))
            .order_by(Case.priority.desc(), Case.id)
            .limit(limit)
        )
    )


def _end_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def tomorrows_cases(session: Session, worker: User, tomorrow: date) -> list[Case]:
    """The open cases of the worker's published route for tomorrow, in route order."""
    return list(
        session.scalars(
            select(Case)
            .join(RouteStop, RouteStop.case_id == Case.id)
            .join(Route, Route.id == RouteStop.route_id)
            .options(_with_household())
            .where(
                Route.worker_id == worker.id,
                Route.day == tomorrow,
                Route.state == "published",
                Case.status.in_(OPEN_STATUSES),
            )
            .order_by(RouteStop.position)
        )
    )


def route_times(session: Session, worker: User, *days: date) -> dict[date, dict[int, RouteStop]]:
    """The worker's published stops of those days, by day and case (in one query): the
    arrival time and any time agreed with the tenant, shown on Today and Tomorrow (the
    route's order is the list's order)."""
    found: dict[date, dict[int, RouteStop]] = {day: {} for day in days}
    for day, stop in session.execute(
        select(Route.day, RouteStop)
        .join(Route, Route.id == RouteStop.route_id)
        .where(Route.worker_id == worker.id, Route.day.in_(days), Route.state == "published")
    ):
        found[day][stop.case_id] = stop
    return found


@dataclass(frozen=True)
class OfflineDays:
    """Today and tomorrow in the organisation's zone, and when each ends (in UTC): what the
    phone keeps for use without network is kept until the end of the day it is for."""

    today: date
    today_ends: datetime
    tomorrow_ends: datetime

    @property
    def tomorrow(self) -> date:
        return self.today + timedelta(days=1)


def offline_days(session: Session, worker: User) -> OfflineDays:
    zone = _zone(session, worker)
    today = datetime.now(UTC).astimezone(zone).date()
    return OfflineDays(today, _end_of(today, zone), _end_of(today + timedelta(days=1), zone))


def keep_card_until(
    session: Session, worker: User, case: Case, days: OfflineDays | None = None
) -> datetime | None:
    """Until when the phone may keep this case card: the end of today for a case on the
    worker's list today (their published route, or without one their own open cases), the
    end of tomorrow for one on tomorrow's published route; None for any other case."""
    if case.status not in OPEN_STATUSES:
        return None
    days = days or offline_days(session, worker)
    on_route = dict(
        session.execute(
            select(Route.day, func.count(RouteStop.id).filter(RouteStop.case_id == case.id))
            .outerjoin(RouteStop, RouteStop.route_id == Route.id)
            .where(
                Route.worker_id == worker.id,
                Route.state == "published",
                Route.day.in_((days.today, days.tomorrow)),
            )
            .group_by(Route.day)
        ).all()
    )
    if on_route.get(days.tomorrow):
        return days.tomorrow_ends
    if on_route.get(days.today) or (
        days.today not in on_route and case.assigned_worker_id == worker.id
    ):
        return days.today_ends
    return None
