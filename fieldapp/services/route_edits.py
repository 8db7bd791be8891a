"""The lead's hand edits of a planned day: move a visit to another worker, drop it, and keep
the arrival times true (geodesic travel at the worker's speed, as the planner estimates)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import Route, RouteStop
from .routing import PlanningError, _settings, geodesic_matrix, speed_ms


def routes_of_day(session: Session, day, team_id: int | None) -> list[Route]:
    """The team's draft and published routes of the day, with stops, workers and cases."""
    query = (
        select(Route)
        .options(selectinload(Route.stops).selectinload(RouteStop.case), selectinload(Route.worker))
        .where(Route.day == day, Route.state.in_(("draft", "published")))
        .order_by(Route.state, Route.worker_id)
    )
    if team_id is not None:
        query = query.where(Route.team_id == team_id)
    return list(session.scalars(query))


def retime(route: Route, settings: Mapping[str, Any] | None = None) -> None:
    """Recompute arrival and departure times and kilometres along the route's order."""
    config = _settings(settings)
    points = [(route.start_lat, route.start_lon)]
    points += [(stop.lat, stop.lon) for stop in route.stops]
    points.append((route.end_lat, route.end_lon))
    metres = geodesic_matrix(points, float(config["ROUTING_DETOUR_FACTOR"]))
    speed = speed_ms(config, route.travel_mode)
    service = timedelta(minutes=int(config["ROUTING_SERVICE_MINUTES"]))
    clock = route.starts_at
    total = 0
    for index, stop in enumerate(route.stops, start=1):
        leg = int(metres[index - 1][index])
        total += leg
        clock = clock + timedelta(seconds=leg / speed)
        stop.position = index
        stop.arrive_at = clock
        clock = clock + service
        stop.depart_at = clock
    total += int(metres[len(points) - 2][len(points) - 1])
    route.travel_km = round(total / 1000, 1)


def _draft_stop(session: Session, stop_id: int, team_id: int | None) -> RouteStop:
    stop = session.get(RouteStop, stop_id)
    if stop is None or (team_id is not None and stop.route.team_id != team_id):
        raise PlanningError("That visit is not in your team's plan.")
    if stop.route.state != "draft":
        raise PlanningError("Published routes are changed by planning and publishing again.")
    return stop


def _renumber(session: Session, route: Route) -> None:
    # Positions are unique per route: park them out of the way before numbering afresh.
    for offset, stop in enumerate(route.stops, start=1):
        stop.position = 10_000 + offset
    session.flush()
    retime(route)
    session.flush()


def drop_stop(session: Session, stop_id: int, team_id: int | None) -> None:
    """Take a visit out of the draft plan (the case stays open for another day)."""
    stop = _draft_stop(session, stop_id, team_id)
    route = stop.route
    route.stops.remove(stop)
    session.delete(stop)
    session.flush()
    _renumber(session, route)


def move_stop(session: Session, stop_id: int, worker_id: int, team_id: int | None) -> Route:
    """Give a visit to another worker's draft route, at the end of their day."""
    stop = _draft_stop(session, stop_id, team_id)
    source = stop.route
    target = session.scalar(
        select(Route).where(
            Route.day == source.day,
            Route.team_id == source.team_id,
            Route.worker_id == worker_id,
            Route.state == "draft",
        )
    )
    if target is None:
        raise PlanningError("That worker has no route in this plan.")
    if target.id == source.id:
        return target
    # Appending to the other route moves the stop (no orphan delete: it has a new parent).
    stop.position = 10_000 + len(target.stops) + 1
    target.stops.append(stop)
    session.flush()
    _renumber(session, source)
    _renumber(session, target)
    return target


def past_working_hours(route: Route) -> bool:
    """True when the last visit ends after the worker's day (after a hand edit)."""
    return (
        bool(route.stops)
        and route.ends_at is not None
        and (route.stops[-1].depart_at > route.ends_at)
    )
