"""The lead's hand edits of a planned day: move a visit to another worker, drop it, and keep
the arrival times true (geodesic travel at the worker's speed, as the planner estimates)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import Route, RouteStop
from .routing import PlanningError, _settings, geodesic_matrix, speed_ms


def routes_of_day(session: Session, day, team_id: int | None) -> list[Route]:
    """The team's draft and published routes of the day, with stops, workers and cases;
    nothing for someone without a team (a team's routes are its own)."""
    if team_id is None:
        return []
    query = (
        select(Route)
        .options(selectinload(Route.stops).selectinload(RouteStop.case), selectinload(Route.worker))
        .where(Route.day == day, Route.state.in_(("draft", "published")))
        .order_by(Route.state, Route.worker_id)
    )
    return list(session.scalars(query.where(Route.team_id == team_id)))


def retime(route: Route, settings: Mapping[str, Any] | None = None) -> None:
    """Recompute arrival and departure times, kilometres and the day's end along the route's
    order: geodesic travel at the worker's speed, as the planner estimates, waiting at a visit
    whose agreed time has not begun. The worker leaves as the solver lets them, as late as
    saves a wait without moving any later visit or missing an agreed time: from the start of
    work, delayed by the first wait (no more than the visits before it allow)."""
    config = _settings(settings)
    points = [(route.start_lat, route.start_lon)]
    points += [(stop.lat, stop.lon) for stop in route.stops]
    points.append((route.end_lat, route.end_lon))
    metres = geodesic_matrix(points, float(config["ROUTING_DETOUR_FACTOR"]))
    speed = speed_ms(config, route.travel_mode)
    service = timedelta(minutes=int(config["ROUTING_SERVICE_MINUTES"]))

    def schedule(leave):
        clock, times, first_wait, slack = leave, [], None, None
        for index, stop in enumerate(route.stops, start=1):
            clock = clock + timedelta(seconds=int(metres[index - 1][index]) / speed)
            if stop.window_start is not None and clock < stop.window_start:
                if first_wait is None:
                    first_wait = stop.window_start - clock
                clock = stop.window_start
            elif first_wait is None and stop.window_end is not None:
                room = stop.window_end - clock  # how much later this visit may still begin
                slack = room if slack is None else min(slack, room)
            times.append((clock, clock + service))
            clock = clock + service
        return times, clock, first_wait, slack

    leave = route.work_starts_at or route.starts_at
    times, clock, first_wait, slack = schedule(leave)
    if first_wait is not None:
        delay = first_wait if slack is None else max(min(first_wait, slack), timedelta(0))
        if delay > timedelta(0):
            leave = leave + delay
            times, clock, _, _ = schedule(leave)
    route.starts_at = leave
    for index, (stop, (arrive, depart)) in enumerate(zip(route.stops, times, strict=True), 1):
        stop.position, stop.arrive_at, stop.depart_at = index, arrive, depart
    back = int(metres[len(points) - 2][len(points) - 1])
    route.ends_at = clock + timedelta(seconds=back / speed)
    total = sum(int(metres[i][i + 1]) for i in range(len(points) - 1))
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


def drop_stop(session: Session, stop_id: int, team_id: int | None) -> Route:
    """Take a visit out of the draft plan (the case stays open for another day)."""
    stop = _draft_stop(session, stop_id, team_id)
    route = stop.route
    route.stops.remove(stop)
    session.delete(stop)
    session.flush()
    _renumber(session, route)
    return route


def move_stop(
    session: Session,
    stop_id: int,
    worker_id: int,
    team_id: int | None,
    position: int | None = None,
) -> list[Route]:
    """Put a visit at `position` (1 = first; None or past the end = last) of a worker's draft
    route: the same worker's (a reorder) or another's. Both routes are retimed at once; a
    locked visit stays locked, now to its new worker. Returns the routes that changed."""
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
    if position is not None and position < 1:
        raise PlanningError(f"Place {position}: the first place is 1.")
    order = [s for s in target.stops if s.id != stop.id]
    index = len(order) if position is None else min(position - 1, len(order))
    order.insert(index, stop)
    if target.id != source.id:
        # Appending to the other route moves the stop (no orphan delete: it has a new parent).
        stop.position = 20_000  # out of the way of both routes' numbering
        target.stops.append(stop)
        session.flush()
        _renumber(session, source)
    # Park every stop of the target out of the way, then number it in the new order.
    for offset, item in enumerate(order, start=1):
        item.position = 10_000 + offset
    target.stops[:] = order
    session.flush()
    retime(target)
    session.flush()
    return [source, target] if target.id != source.id else [target]


def book_stop(
    session: Session,
    stop_id: int,
    team_id: int | None,
    *,
    locked: bool,
    window: tuple[datetime, datetime] | None,
    note: str = "",
) -> Route:
    """Lock a visit to its worker and/or set the time agreed with the tenant (None clears
    it); the route is retimed, and re-planning keeps both."""
    stop = _draft_stop(session, stop_id, team_id)
    if window is not None:
        start, end = window
        if end <= start:
            raise PlanningError(
                f"Agreed time {start:%H:%M}–{end:%H:%M}: the end must come after the start."
            )
    new_window = window if window is not None else (None, None)
    moved = (stop.window_start, stop.window_end) != new_window
    stop.locked = locked
    stop.window_start, stop.window_end = new_window
    stop.appointment_note = note.strip()[:200]
    session.flush()
    if moved:  # a lock or a note alone changes no time: the solver's stay as they are
        retime(stop.route)
        session.flush()
    return stop.route


def past_working_hours(route: Route) -> bool:
    """True when the day, back at the end point, ends after the worker's hours."""
    end_of_work = route.work_ends_at
    if end_of_work is None or not route.stops or route.ends_at is None:
        # A route planned before the hours were kept: its last visit against the day's end.
        return (
            bool(route.stops)
            and route.ends_at is not None
            and (route.stops[-1].depart_at > route.ends_at)
        )
    return route.ends_at > end_of_work


def missed_windows(route: Route) -> set[int]:
    """The stops whose visit begins after the time agreed with the tenant."""
    return {
        stop.id
        for stop in route.stops
        if stop.window_end is not None and stop.arrive_at > stop.window_end
    }
