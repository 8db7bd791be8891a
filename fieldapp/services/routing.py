"""Planning a team's day of visits with PyVRP, saving it as routes, and publishing them.

The model: one vehicle type per worker (their start and end point, shift as its time window,
their own routing profile so each travels at their mode's speed), one client per candidate
case. Every client is optional with a prize: a case whose deadline is within N days carries a
prize far above any day's travel, so the solver plans it whenever it fits at all, and one it
cannot fit is reported with the reason instead of making the whole plan infeasible. The others
earn a prize from their priority. PyVRP has no per-vehicle client restriction, so the
interpreter rule is expressed in the profiles: in the profile of a worker who does not speak
the language of a household that needs an interpreter, that household is a day's travel away,
so no feasible route of theirs can contain it (and the result is checked afterwards).
"""

from __future__ import annotations

import json
import math
import time as clock
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import version
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from geopy.distance import EARTH_RADIUS
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..config import Config
from ..models import (
    OPEN_STATUSES,
    Case,
    Route,
    RouteLeftOut,
    RouteStop,
    Team,
    Tenancy,
    User,
    Visit,
)
from ..models.types import utcnow

# A mandatory visit is worth more than any day's travel (in seconds of travel), and a visit
# the lead locked or agreed a time for is worth more than any mandatory one.
MANDATORY_PRIZE = 10_000_000
BOOKED_PRIZE = 100_000_000
# Travel time that makes a place unreachable for one worker's profile (about 115 days).
UNREACHABLE = 10_000_000
OSRM_PROFILES = {"walk": "foot", "bike": "bike", "car": "driving"}

REASONS = {
    "no_coordinates": "the address has no position yet (geocode it or place a pin)",
    "no_worker_speaks_language": "needs an interpreter; no chosen worker speaks the language",
    "not_reachable_in_hours": "no chosen worker can get there and back within their hours",
    "not_enough_hours": "mandatory, but the chosen workers' hours are full",
    "optional_not_worth_it": "optional; other visits were worth more of the day",
    "already_visited": "already visited that day",
    "no_workers": "no worker to plan for",
    "locked_worker_not_out": "locked to a worker who is not out that day",
    "window_outside_hours": "the agreed time is outside the worker's hours",
    "booking_not_met": "locked or agreed time, but it cannot be met with the other visits",
    "case_not_open": "locked, but the case is not open in this team's register",
}
# The ways to plan a day again: from scratch (locks and agreed times kept), keep who visits
# whom and only reorder, or keep who visits whom and fit in the cases not yet planned.
PLAN_MODES = ("afresh", "reorder", "fit_new")


class PlanningError(ValueError):
    """The day cannot be planned as asked (no such team, no start point, routing server down)."""


@dataclass
class WorkerDay:
    """A worker as the solver sees them."""

    user_id: int
    email: str
    mode: str
    start: tuple[float, float]
    end: tuple[float, float]
    shift_start: int  # seconds after the day's local midnight
    shift_end: int
    languages: frozenset[str]


@dataclass
class Booking:
    """What the lead fixed for a case on a day: the worker (when locked, or kept by a re-plan
    that keeps the assignments) and the time agreed with the tenant, in seconds after the
    day's local midnight."""

    case_id: int
    worker_id: int | None = None
    locked: bool = False
    window: tuple[int, int] | None = None
    note: str = ""


@dataclass
class Candidate:
    """A case that could be visited that day."""

    case_id: int
    priority: int
    mandatory: bool
    lat: float | None
    lon: float | None
    language: str
    needs_interpreter: bool
    booking: Booking | None = None


@dataclass
class PlannedStop:
    case_id: int
    lat: float
    lon: float
    arrive: datetime  # aware, in the organisation's zone
    depart: datetime
    mandatory: bool = False
    locked: bool = False
    window: tuple[datetime, datetime] | None = None
    note: str = ""


@dataclass
class PlannedRoute:
    worker_id: int
    worker: str  # e-mail, which names the worker uniquely
    travel_mode: str
    start: tuple[float, float]
    end: tuple[float, float]
    starts_at: datetime
    ends_at: datetime
    stops: list[PlannedStop] = field(default_factory=list)
    travel_km: float = 0.0
    work_starts_at: datetime | None = None
    work_ends_at: datetime | None = None


@dataclass
class Unassigned:
    case_id: int
    reason: str
    mandatory: bool = False
    booked: bool = False  # it was locked or had an agreed time: a booking not met
    booking: Booking | None = None  # kept with the day, so the next plan tries again


@dataclass
class Plan:
    """A solved day: routes with their stops in order, and what could not be planned."""

    day: date
    team_id: int
    timezone: str
    routes: list[PlannedRoute]
    unassigned: list[Unassigned]
    solver: str
    seconds: float
    mode: str = "afresh"
    balance_limits: dict[int, int] | None = None  # worker id → most visits, when balanced

    def to_dict(self) -> dict[str, Any]:
        """The shape `fieldapp plan-routes --json` prints, times in ISO 8601 with offset."""

        def point(pair: tuple[float, float]) -> dict[str, float]:
            return {"lat": pair[0], "lon": pair[1]}

        return {
            "date": self.day.isoformat(),
            "routes": [
                {
                    "worker": route.worker,
                    "start": point(route.start),
                    "end": point(route.end),
                    "stops": [
                        {
                            "case_id": stop.case_id,
                            "lat": stop.lat,
                            "lon": stop.lon,
                            "arrive": stop.arrive.isoformat(timespec="seconds"),
                            "depart": stop.depart.isoformat(timespec="seconds"),
                            "locked": stop.locked,
                            "window": None
                            if stop.window is None
                            else {
                                "start": stop.window[0].isoformat(timespec="seconds"),
                                "end": stop.window[1].isoformat(timespec="seconds"),
                            },
                        }
                        for stop in route.stops
                    ],
                    "travel_km": route.travel_km,
                    "visits": len(route.stops),
                }
                for route in self.routes
            ],
            "unassigned": [
                {
                    "case_id": u.case_id,
                    "reason": u.reason,
                    "explanation": REASONS.get(u.reason, u.reason),
                    "mandatory": u.mandatory,
                    "booked": u.booked,
                }
                for u in self.unassigned
            ],
            "mode": self.mode,
            "balance_limits": None
            if self.balance_limits is None
            else {str(worker): most for worker, most in self.balance_limits.items()},
            "solver": self.solver,
            "seconds": self.seconds,
        }


def _settings(settings: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if settings is not None:
        return settings
    try:
        from flask import current_app

        return current_app.config
    except RuntimeError:  # outside an app context (the benchmark): the embedded defaults
        return {key: getattr(Config, key) for key in dir(Config) if key.isupper()}


def speed_ms(settings: Mapping[str, Any], mode: str) -> float:
    """A travel mode's speed in metres per second."""
    return float(settings[f"ROUTING_SPEED_KMH_{mode.upper()}"]) / 3.6


def geodesic_matrix(points: list[tuple[float, float]], detour: float) -> np.ndarray:
    """Road distance estimate in metres: great-circle distance × detour factor.

    Vectorised haversine on geopy's mean Earth radius: within 0.5 % of geopy's ellipsoidal
    `geodesic` (checked by a test), far below the detour factor's own error, and a 320-point
    matrix takes milliseconds instead of the seconds of 50,000 `geodesic` calls.
    """
    coords = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    lat, lon = coords[:, 0][:, None], coords[:, 1][:, None]
    a = (
        np.sin((lat - lat.T) / 2) ** 2
        + np.cos(lat) * np.cos(lat.T) * np.sin((lon - lon.T) / 2) ** 2
    )
    metres = 2 * EARTH_RADIUS * 1000 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    return np.rint(metres * detour).astype(np.int64)


def osrm_table(
    base_url: str, mode: str, points: list[tuple[float, float]], timeout: float
) -> tuple[np.ndarray | None, np.ndarray]:
    """Distances (if given) and durations between all points from an OSRM `table` service."""
    coords = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
    url = (
        f"{base_url.rstrip('/')}/table/v1/{OSRM_PROFILES[mode]}/{coords}"
        "?annotations=duration,distance"
    )
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - configured
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:  # OSRM answers 400 with {"code", "message"}
        try:
            detail = json.loads(error.read())
            said = f" {detail.get('code')!r}: {detail.get('message', '')}".rstrip(": ")
        except (ValueError, AttributeError, OSError):
            said = ""
        raise PlanningError(f"routing server {base_url} answered HTTP {error.code}{said}") from None
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        raise PlanningError(f"routing server {base_url} did not answer: {error}") from None
    if not isinstance(body, dict) or body.get("code") != "Ok" or "durations" not in body:
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message", "") if isinstance(body, dict) else ""
        raise PlanningError(f"routing server {base_url} answered {code!r} {message}".rstrip())
    size = len(points)
    if len(body["durations"]) != size or any(len(row) != size for row in body["durations"]):
        raise PlanningError(f"routing server {base_url} answered a table of the wrong size")

    def matrix(rows: list[list[float | None]]) -> np.ndarray:
        return np.array(
            [[UNREACHABLE if v is None else math.ceil(v) for v in row] for row in rows],
            dtype=np.int64,
        )

    distances = matrix(body["distances"]) if body.get("distances") else None
    return distances, matrix(body["durations"])


def _travel_matrices(
    settings: Mapping[str, Any], points: list[tuple[float, float]], modes: set[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(distance m, duration s) per travel mode, from the routing server or geodesic."""
    geodesic = geodesic_matrix(points, float(settings["ROUTING_DETOUR_FACTOR"]))
    result = {}
    for mode in sorted(modes):
        if settings.get("ROUTING_URL"):
            distances, durations = osrm_table(
                settings["ROUTING_URL"], mode, points, float(settings["ROUTING_TIMEOUT_SECONDS"])
            )
            result[mode] = (geodesic if distances is None else distances, durations)
        else:
            durations = np.ceil(geodesic / speed_ms(settings, mode)).astype(np.int64)
            result[mode] = (geodesic, durations)
    return result


def _languages(text: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in (text or "").split(",") if part.strip())


def select_workers(
    session: Session, team: Team, day: date, worker_ids: list[int] | None
) -> list[WorkerDay]:
    """The workers to plan for: those given, or every active worker of the team. Only ever
    the team's own active workers: an id of another team's worker, a lead or the data
    protection officer is refused like an id nobody has."""
    organisation = team.organisation
    zone = ZoneInfo(organisation.timezone)
    query = (
        select(User)
        .where(User.active.is_(True), User.team_id == team.id, User.role == "worker")
        .order_by(User.id)
    )
    if worker_ids is not None:
        query = query.where(User.id.in_(worker_ids))
    users = list(session.scalars(query))
    if worker_ids is not None and len(users) != len(set(worker_ids)):
        missing = set(worker_ids) - {u.id for u in users}
        raise PlanningError(f"no active worker of this team with id {sorted(missing)}")
    office = None
    if organisation.office_lat is not None and organisation.office_lon is not None:
        office = (organisation.office_lat, organisation.office_lon)
    midnight = datetime.combine(day, time(0), zone).astimezone(UTC)

    def seconds(at: time) -> int:
        return int((datetime.combine(day, at, zone).astimezone(UTC) - midnight).total_seconds())

    workers = []
    for user in users:
        home = None
        if user.start_lat is not None and user.start_lon is not None:
            home = (user.start_lat, user.start_lon)
        start = home or office
        if start is None:
            raise PlanningError(
                f"{user.email} has no start point and the organisation no office position"
            )
        workers.append(
            WorkerDay(
                user_id=user.id,
                email=user.email,
                mode=user.travel_mode if user.travel_mode in OSRM_PROFILES else "bike",
                start=start,
                end=start,
                shift_start=seconds(user.work_start),
                shift_end=seconds(user.work_end),
                languages=_languages(user.languages),
            )
        )
    return workers


def select_candidates(
    session: Session,
    team: Team,
    day: date,
    mandatory_days: int,
    recent_contact_days: int,
    case_ids: list[int] | None = None,
    bookings: Mapping[int, Booking] | None = None,
) -> tuple[list[Candidate], list[Unassigned]]:
    """Open cases of the team that need a visit, most urgent first, and those already seen.

    A case contacted within `recent_contact_days` is left out unless its deadline is close or
    the lead booked it (locked it or agreed a time); one visited on the day itself is listed as
    already visited; a booked case that is no longer open is listed with that reason.
    """
    bookings = bookings or {}
    zone = ZoneInfo(team.organisation.timezone)
    query = (
        select(Case)
        .options(joinedload(Case.tenancy).joinedload(Tenancy.household))
        .where(Case.team_id == team.id, Case.status.in_(OPEN_STATUSES))
        .order_by(Case.priority.desc(), Case.id)
    )
    if case_ids is not None:
        query = query.where(Case.id.in_(case_ids))
    cases = list(session.scalars(query).unique())
    day_start = datetime.combine(day, time(0), zone).astimezone(UTC)
    visited = set(
        session.scalars(
            select(Visit.case_id).where(
                Visit.case_id.in_([c.id for c in cases]),
                Visit.occurred_at >= day_start,
                Visit.occurred_at < day_start + timedelta(days=1),
            )
        )
    )
    recent_limit = day_start - timedelta(days=recent_contact_days)
    candidates, done = [], []
    for case in cases:
        mandatory = case.next_deadline is not None and day <= case.next_deadline <= day + timedelta(
            days=mandatory_days
        )
        if case.id in visited:
            done.append(Unassigned(case.id, "already_visited", mandatory))
            continue
        recent = case.last_contact_at is not None and case.last_contact_at >= recent_limit
        if recent and not mandatory and case_ids is None and case.id not in bookings:
            continue
        household = case.tenancy.household
        candidates.append(
            Candidate(
                case_id=case.id,
                priority=case.priority,
                mandatory=mandatory,
                lat=household.lat,
                lon=household.lon,
                language=(household.language or "").strip().lower(),
                needs_interpreter=household.needs_interpreter,
                booking=bookings.get(case.id),
            )
        )
    seen = {c.id for c in cases}
    for case_id, booking in bookings.items():
        if case_id not in seen and (booking.locked or booking.window):
            done.append(Unassigned(case_id, "case_not_open", False, True, booking))
    return candidates, done


def _is_booked(candidate: Candidate) -> bool:
    booking = candidate.booking
    return booking is not None and (booking.locked or booking.window is not None)


def _left_out(candidate: Candidate, reason: str) -> Unassigned:
    booked = _is_booked(candidate)
    return Unassigned(
        candidate.case_id,
        reason,
        candidate.mandatory,
        booked,
        candidate.booking if booked else None,
    )


def balance_limits(workers: list[WorkerDay], planned: int, tolerance: int) -> dict[int, int]:
    """The most visits each worker gets in a balanced plan: their share of the day's visits
    by working hours, rounded up, plus the tolerance."""
    hours = {w.user_id: max(w.shift_end - w.shift_start, 0) for w in workers}
    total = sum(hours.values()) or 1
    return {
        user_id: math.ceil(planned * share / total) + tolerance for user_id, share in hours.items()
    }


def solve_day(
    day: date,
    timezone: str,
    workers: list[WorkerDay],
    candidates: list[Candidate],
    settings: Mapping[str, Any],
    time_limit: float,
    service_minutes: int,
    seed: int = 1,
    balance: bool = False,
) -> tuple[list[PlannedRoute], list[Unassigned], float, dict[int, int] | None]:
    """Run PyVRP on the day: routes, unassigned candidates, the solver's wall time and, when
    balanced, the most visits each worker was allowed.

    A booked candidate (locked to a worker, or with a time agreed with the tenant) is worth
    more than any other visit; a lock is kept by making the visit unreachable for every other
    worker, an agreed time is the client's time window. One that cannot be met is reported
    with the reason, never moved or retimed silently. `balance` solves twice: once freely (half
    the time), then with each worker's visits capped at their share plus the tolerance.
    """
    zone = ZoneInfo(timezone)
    midnight = datetime.combine(day, time(0), zone).astimezone(UTC)

    def at(seconds: int) -> datetime:
        return (midnight + timedelta(seconds=int(seconds))).astimezone(zone)

    def fresh_routes() -> list[PlannedRoute]:
        return [
            PlannedRoute(
                w.user_id,
                w.email,
                w.mode,
                w.start,
                w.end,
                at(w.shift_start),
                at(w.shift_end),
                work_starts_at=at(w.shift_start),
                work_ends_at=at(w.shift_end),
            )  # fmt: skip
            for w in workers
        ]

    unassigned: list[Unassigned] = []
    routes = fresh_routes()
    worker_index = {w.user_id: i for i, w in enumerate(workers)}
    placed = []
    for candidate in candidates:
        booking = candidate.booking
        if booking is not None and not booking.locked and booking.worker_id not in worker_index:
            # Kept with a worker by "keep who visits whom", but that worker is not out: free.
            booking = candidate.booking = Booking(
                booking.case_id, None, False, booking.window, booking.note
            )
        if candidate.lat is None or candidate.lon is None:
            unassigned.append(_left_out(candidate, "no_coordinates"))
        elif not workers:
            unassigned.append(_left_out(candidate, "no_workers"))
        elif (
            booking is not None
            and booking.worker_id is not None
            and (booking.worker_id not in worker_index)
        ):
            unassigned.append(_left_out(candidate, "locked_worker_not_out"))
        else:
            placed.append(candidate)
    if not placed:
        return routes, unassigned, 0.0, None

    # Locations: the distinct start/end points first, then one per candidate.
    depot_points: list[tuple[float, float]] = []
    for worker in workers:
        for point in (worker.start, worker.end):
            if point not in depot_points:
                depot_points.append(point)
    points = depot_points + [(c.lat, c.lon) for c in placed]  # type: ignore[misc]
    n_depots = len(depot_points)
    matrices = _travel_matrices(settings, points, {w.mode for w in workers})
    service = int(service_minutes * 60)
    per_point = int(settings["ROUTING_PRIZE_SECONDS_PER_POINT"])

    # Who may visit whom: the lock, the interpreter rule, then whether there and back fits
    # the shift (and the agreed time, when there is one).
    allowed: list[list[int]] = []  # per candidate, indices into workers
    clients_in_model: list[int] = []  # candidate indices given to the solver
    for index, candidate in enumerate(placed):
        booking = candidate.booking
        speakers = [
            w
            for w, worker in enumerate(workers)
            if (booking is None or booking.worker_id in (None, worker.user_id))
            and (
                not (candidate.needs_interpreter and candidate.language)
                or candidate.language in worker.languages
            )
        ]
        if not speakers:
            unassigned.append(_left_out(candidate, "no_worker_speaks_language"))
            allowed.append([])
            continue
        loc = n_depots + index
        reachable, in_hours = [], []
        for w in speakers:
            worker = workers[w]
            durations = matrices[worker.mode][1]
            out = durations[depot_points.index(worker.start), loc]
            back = durations[loc, depot_points.index(worker.end)]
            early, late = worker.shift_start + out, worker.shift_end - back - service
            if booking is not None and booking.window is not None:
                if booking.window[1] < early or booking.window[0] > late:
                    continue
                in_hours.append(w)
            if early <= late:
                reachable.append(w)
        if booking is not None and booking.window is not None and not in_hours:
            unassigned.append(_left_out(candidate, "window_outside_hours"))
            allowed.append([])
            continue
        if booking is not None and booking.window is not None:
            reachable = [w for w in reachable if w in in_hours]
        if not reachable:
            unassigned.append(_left_out(candidate, "not_reachable_in_hours"))
        else:
            clients_in_model.append(index)
        allowed.append(reachable)

    if not clients_in_model:
        return routes, unassigned, 0.0, None

    import pyvrp
    from pyvrp.stop import MaxRuntime

    # The model's locations: the depots, then only the candidates given to the solver.
    model_locs = list(range(n_depots)) + [n_depots + i for i in clients_in_model]
    locations = [pyvrp.Location(x=points[i][1], y=points[i][0]) for i in model_locs]
    depots = [pyvrp.Depot(location=d) for d in range(n_depots)]
    clients = []
    for position, index in enumerate(clients_in_model):
        candidate = placed[index]
        if _is_booked(candidate):
            prize = BOOKED_PRIZE
        elif candidate.mandatory:
            prize = MANDATORY_PRIZE
        else:
            prize = (candidate.priority + 10) * per_point + service
        window = candidate.booking.window if candidate.booking is not None else None
        clients.append(
            pyvrp.Client(
                location=n_depots + position,
                # One optional visit is one unit of the load a balanced plan caps per worker;
                # mandatory and booked visits never count against the cap (a cap must not
                # cost a must-do visit).
                delivery=[0 if prize >= MANDATORY_PRIZE else 1],
                service_duration=service,
                tw_early=window[0] if window else 0,
                tw_late=window[1] if window else np.iinfo(np.int64).max,
                prize=prize,
                required=False,
                name=str(candidate.case_id),
            )
        )
    selection = np.array(model_locs)
    distance_matrices, duration_matrices = [], []
    for w, worker in enumerate(workers):
        distances, durations = matrices[worker.mode]
        distances = distances[np.ix_(selection, selection)].copy()
        durations = durations[np.ix_(selection, selection)].copy()
        for position, index in enumerate(clients_in_model):
            if w not in allowed[index]:
                durations[:, n_depots + position] = UNREACHABLE
                durations[n_depots + position, :] = UNREACHABLE
        np.fill_diagonal(distances, 0)
        np.fill_diagonal(durations, 0)
        distance_matrices.append(distances)
        duration_matrices.append(durations)

    def vehicle_types(limits: dict[int, int] | None) -> list:
        return [
            pyvrp.VehicleType(
                num_available=1,
                capacity=[len(clients) if limits is None else limits[worker.user_id]],
                start_depot=depot_points.index(worker.start),
                end_depot=depot_points.index(worker.end),
                tw_early=worker.shift_start,
                tw_late=worker.shift_end,
                unit_distance_cost=0,
                unit_duration_cost=1,  # the scarce thing is the worker's time
                profile=w,
                name=str(worker.user_id),
            )
            for w, worker in enumerate(workers)
        ]

    def run(limits: dict[int, int] | None, seconds: float):
        data = pyvrp.ProblemData(
            locations, clients, depots, vehicle_types(limits), distance_matrices,
            duration_matrices,
        )  # fmt: skip
        return pyvrp.solve(
            data, MaxRuntime(seconds), seed=seed, collect_stats=False, display=False
        ).best

    started = clock.perf_counter()
    limits = None
    if balance and len(workers) > 1:
        first = run(None, time_limit / 2)
        optional = sum(
            1
            for route in first.routes()
            for activity in route.schedule()
            if activity.is_client() and clients[activity.idx].delivery[0] == 1
        )
        limits = balance_limits(
            workers, optional, int(settings.get("ROUTING_BALANCE_TOLERANCE", 1))
        )
        best = run(limits, time_limit / 2)
        if not best.is_feasible():  # never expected now; the free plan then stands
            best, limits = first, None
    else:
        best = run(None, time_limit)
    seconds = clock.perf_counter() - started

    planned: set[int] = set()
    for route in best.routes():
        w = route.vehicle_type()
        if route.has_time_warp() or route.has_excess_load():  # never kept: the empty plan is
            continue  # feasible, and a visit it left off is reported below
        target = routes[w]
        target.travel_km = round(route.distance() / 1000, 2)
        target.starts_at, target.ends_at = at(route.start_time()), at(route.end_time())
        for activity in route.schedule():
            if not activity.is_client():
                continue
            candidate = placed[clients_in_model[activity.idx]]
            assert w in allowed[clients_in_model[activity.idx]], "lock or interpreter rule broken"
            booking = candidate.booking
            arrive = activity.start_time - activity.wait_duration
            if booking is not None and booking.window is not None:
                arrive = activity.start_time  # the agreed time: ring the bell when it begins
            target.stops.append(
                PlannedStop(
                    candidate.case_id,
                    candidate.lat,  # type: ignore[arg-type]
                    candidate.lon,  # type: ignore[arg-type]
                    at(arrive),
                    at(activity.end_time),
                    candidate.mandatory,
                    locked=bool(booking and booking.locked),
                    window=None
                    if booking is None or booking.window is None
                    else (at(booking.window[0]), at(booking.window[1])),
                    note=booking.note if booking is not None else "",
                )
            )
            planned.add(candidate.case_id)
    for index in clients_in_model:
        candidate = placed[index]
        if candidate.case_id not in planned:
            if _is_booked(candidate):
                reason = "booking_not_met"
            elif candidate.mandatory:
                reason = "not_enough_hours"
            else:
                reason = "optional_not_worth_it"
            unassigned.append(_left_out(candidate, reason))
    return routes, unassigned, seconds, limits


def solver_name() -> str:
    return f"pyvrp {version('pyvrp')}"


def bookings_of_day(
    session: Session, day: date, team_id: int, mode: str = "afresh"
) -> dict[int, Booking]:
    """What the lead fixed on the team's current plan of the day (the draft, else what is
    published): locks and agreed times always; with `reorder` or `fit_new`, every visit also
    stays with its worker."""
    if mode not in PLAN_MODES:
        raise PlanningError(f"no such way to plan: {mode!r} (one of {', '.join(PLAN_MODES)})")
    routes = list(
        session.scalars(
            select(Route).where(
                Route.day == day, Route.team_id == team_id, Route.state.in_(("draft", "published"))
            )
        )
    )
    current = [r for r in routes if r.state == "draft"] or routes
    team = session.get(Team, team_id)
    if team is None:
        raise PlanningError(f"no team with id {team_id}")
    midnight = datetime.combine(day, time(0), ZoneInfo(team.organisation.timezone)).astimezone(UTC)
    bookings: dict[int, Booking] = {}

    def seconds(moment: datetime) -> int:
        return int((moment - midnight).total_seconds())

    # A booking the last plan could not keep is tried again (the lead removes it by hand).
    for item in session.scalars(
        select(RouteLeftOut).where(RouteLeftOut.day == day, RouteLeftOut.team_id == team_id)
    ):
        window = None
        if item.window_start is not None and item.window_end is not None:
            window = (seconds(item.window_start), seconds(item.window_end))
        if item.locked_worker_id is not None or window is not None:
            bookings[item.case_id] = Booking(
                item.case_id,
                item.locked_worker_id,
                item.locked_worker_id is not None,
                window,
                item.appointment_note,
            )
    for route in current:
        for stop in route.stops:
            window = None
            if stop.window_start is not None and stop.window_end is not None:
                window = (seconds(stop.window_start), seconds(stop.window_end))
            if not (stop.locked or window or mode != "afresh"):
                continue
            keeps_worker = stop.locked or mode != "afresh"
            bookings[stop.case_id] = Booking(
                stop.case_id,
                route.worker_id if keeps_worker else None,
                stop.locked,
                window,
                stop.appointment_note,
            )
    return bookings


def plan_day(
    session: Session,
    day: date,
    team_id: int,
    worker_ids: list[int] | None = None,
    time_limit: float | None = None,
    mandatory_days: int | None = None,
    service_minutes: int | None = None,
    case_ids: list[int] | None = None,
    settings: Mapping[str, Any] | None = None,
    bookings: Mapping[int, Booking] | None = None,
    mode: str = "afresh",
    balance: bool = False,
) -> Plan:
    """Assign and order the team's visits for a day (reads only; see save_plan).

    By default every active worker of the team and every open case of the team that needs a
    visit; cases whose deadline is within `mandatory_days` are mandatory. `bookings` are the
    lead's locks and agreed times (see bookings_of_day); with mode `reorder` only the booked
    cases are planned.
    """
    config = _settings(settings)
    team = session.get(Team, team_id)
    if team is None:
        raise PlanningError(f"no team with id {team_id}")
    if mode not in PLAN_MODES:
        raise PlanningError(f"no such way to plan: {mode!r} (one of {', '.join(PLAN_MODES)})")
    bookings = dict(bookings or {})
    if mode == "reorder":
        case_ids = sorted(bookings)
        if not case_ids:
            raise PlanningError("there is no plan of the day to reorder: plan it first")
    mandatory_days = (
        int(config["ROUTING_MANDATORY_DAYS"]) if mandatory_days is None else mandatory_days
    )
    service_minutes = (
        int(config["ROUTING_SERVICE_MINUTES"]) if service_minutes is None else service_minutes
    )
    time_limit = float(config["ROUTING_TIME_LIMIT_SECONDS"]) if time_limit is None else time_limit
    workers = select_workers(session, team, day, worker_ids)
    candidates, done = select_candidates(
        session,
        team,
        day,
        mandatory_days,
        int(config["ROUTING_RECENT_CONTACT_DAYS"]),
        case_ids,
        bookings,
    )
    routes, unassigned, seconds, limits = solve_day(
        day,
        team.organisation.timezone,
        workers,
        candidates,
        config,
        time_limit,
        service_minutes,
        balance=balance,
    )
    return Plan(
        day=day,
        team_id=team.id,
        timezone=team.organisation.timezone,
        routes=routes,
        unassigned=done + unassigned,
        solver=solver_name(),
        seconds=round(seconds, 2),
        mode=mode,
        balance_limits=limits,
    )


def save_plan(session: Session, plan: Plan, by: User | None) -> list[Route]:
    """Store the plan as the team's draft routes for the day, replacing earlier drafts."""
    for old in session.scalars(
        select(Route).where(
            Route.day == plan.day, Route.team_id == plan.team_id, Route.state == "draft"
        )
    ):
        session.delete(old)
    session.flush()
    saved = []
    for planned in plan.routes:
        route = Route(
            day=plan.day,
            team_id=plan.team_id,
            worker_id=planned.worker_id,
            state="draft",
            start_lat=planned.start[0],
            start_lon=planned.start[1],
            end_lat=planned.end[0],
            end_lon=planned.end[1],
            travel_mode=planned.travel_mode,
            starts_at=planned.starts_at,
            ends_at=planned.ends_at,
            work_starts_at=planned.work_starts_at,
            work_ends_at=planned.work_ends_at,
            travel_km=planned.travel_km,
            solver=plan.solver,
            solve_seconds=plan.seconds,
            created_by_id=by.id if by else None,
        )
        route.stops = [
            RouteStop(
                case_id=stop.case_id,
                position=position,
                arrive_at=stop.arrive,
                depart_at=stop.depart,
                lat=stop.lat,
                lon=stop.lon,
                mandatory=stop.mandatory,
                locked=stop.locked,
                window_start=stop.window[0] if stop.window else None,
                window_end=stop.window[1] if stop.window else None,
                appointment_note=stop.note,
            )
            for position, stop in enumerate(planned.stops, start=1)
        ]
        session.add(route)
        saved.append(route)
    # What the plan could not place stays with the day, after publishing too, until the day
    # is planned again.
    for old in session.scalars(
        select(RouteLeftOut).where(
            RouteLeftOut.day == plan.day, RouteLeftOut.team_id == plan.team_id
        )
    ):
        session.delete(old)
    session.flush()
    midnight = datetime.combine(plan.day, time(0), ZoneInfo(plan.timezone)).astimezone(UTC)
    team_cases = set(
        session.scalars(
            select(Case.id).where(
                Case.team_id == plan.team_id,
                Case.id.in_([u.case_id for u in plan.unassigned]),
            )
        )
    )
    for item in {u.case_id: u for u in plan.unassigned}.values():
        if item.case_id not in team_cases:
            continue  # a booking named a case that is not the team's: reported, not stored
        booking = item.booking
        window = booking.window if booking is not None else None
        session.add(
            RouteLeftOut(
                day=plan.day,
                team_id=plan.team_id,
                case_id=item.case_id,
                reason=item.reason,
                mandatory=item.mandatory,
                locked_worker_id=booking.worker_id if booking and booking.locked else None,
                window_start=midnight + timedelta(seconds=window[0]) if window else None,
                window_end=midnight + timedelta(seconds=window[1]) if window else None,
                appointment_note=booking.note if booking is not None else "",
            )
        )
    session.flush()
    return saved


def publish_routes(session: Session, day: date, team_id: int, by: User | None) -> list[Route]:
    """Make the team's draft routes of the day the workers' "today".

    Routes published before for that day (of this team, or of the same workers) are marked
    replaced and kept; visits are records of their own and are never touched.
    """
    drafts = list(
        session.scalars(
            select(Route).where(Route.day == day, Route.team_id == team_id, Route.state == "draft")
        )
    )
    if not drafts:
        raise PlanningError(f"no saved plan for {day.isoformat()} to publish")
    workers = [route.worker_id for route in drafts]
    for old in session.scalars(
        select(Route).where(
            Route.day == day,
            Route.state == "published",
            (Route.team_id == team_id) | Route.worker_id.in_(workers),
        )
    ):
        old.state = "replaced"
    session.flush()  # before the drafts take their place under the unique index
    now = utcnow()
    for route in drafts:
        route.state = "published"
        route.published_at = now
        route.published_by_id = by.id if by else None
    session.flush()
    return drafts


def published_route(session: Session, worker_id: int, day: date) -> Route | None:
    """The worker's published route for the day, if there is one."""
    return session.scalar(
        select(Route).where(
            Route.worker_id == worker_id, Route.day == day, Route.state == "published"
        )
    )
