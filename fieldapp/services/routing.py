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
from ..models import OPEN_STATUSES, Case, Route, RouteStop, Team, Tenancy, User, Visit
from ..models.types import utcnow

# A mandatory visit is worth more than any day's travel (in seconds of travel).
MANDATORY_PRIZE = 10_000_000
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
}


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
class Candidate:
    """A case that could be visited that day."""

    case_id: int
    priority: int
    mandatory: bool
    lat: float | None
    lon: float | None
    language: str
    needs_interpreter: bool


@dataclass
class PlannedStop:
    case_id: int
    lat: float
    lon: float
    arrive: datetime  # aware, in the organisation's zone
    depart: datetime
    mandatory: bool = False


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


@dataclass
class Unassigned:
    case_id: int
    reason: str
    mandatory: bool = False


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
                        }
                        for stop in route.stops
                    ],
                    "travel_km": route.travel_km,
                }
                for route in self.routes
            ],
            "unassigned": [{"case_id": u.case_id, "reason": u.reason} for u in self.unassigned],
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
) -> tuple[list[Candidate], list[Unassigned]]:
    """Open cases of the team that need a visit, most urgent first, and those already seen.

    A case contacted within `recent_contact_days` is left out unless its deadline is close;
    one visited on the day itself is listed as already visited.
    """
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
        if recent and not mandatory and case_ids is None:
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
            )
        )
    return candidates, done


def solve_day(
    day: date,
    timezone: str,
    workers: list[WorkerDay],
    candidates: list[Candidate],
    settings: Mapping[str, Any],
    time_limit: float,
    service_minutes: int,
    seed: int = 1,
) -> tuple[list[PlannedRoute], list[Unassigned], float]:
    """Run PyVRP on the day; routes, unassigned candidates and the solver's wall time."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    zone = ZoneInfo(timezone)
    midnight = datetime.combine(day, time(0), zone).astimezone(UTC)

    def at(seconds: int) -> datetime:
        return (midnight + timedelta(seconds=int(seconds))).astimezone(zone)

    unassigned: list[Unassigned] = []
    routes = [
        PlannedRoute(w.user_id, w.email, w.mode, w.start, w.end, at(w.shift_start), at(w.shift_end))
        for w in workers
    ]
    placed = []
    for candidate in candidates:
        if candidate.lat is None or candidate.lon is None:
            unassigned.append(Unassigned(candidate.case_id, "no_coordinates", candidate.mandatory))
        elif not workers:
            unassigned.append(Unassigned(candidate.case_id, "no_workers", candidate.mandatory))
        else:
            placed.append(candidate)
    if not placed:
        return routes, unassigned, 0.0

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

    # Who may visit whom: the interpreter rule, then whether there and back fits the shift.
    allowed: list[list[int]] = []  # per candidate, indices into workers
    clients_in_model: list[int] = []  # candidate indices given to the solver
    for index, candidate in enumerate(placed):
        speakers = [
            w
            for w, worker in enumerate(workers)
            if not (candidate.needs_interpreter and candidate.language)
            or candidate.language in worker.languages
        ]
        if not speakers:
            unassigned.append(
                Unassigned(candidate.case_id, "no_worker_speaks_language", candidate.mandatory)
            )
            allowed.append([])
            continue
        loc = n_depots + index
        reachable = []
        for w in speakers:
            worker = workers[w]
            durations = matrices[worker.mode][1]
            out = durations[depot_points.index(worker.start), loc]
            back = durations[loc, depot_points.index(worker.end)]
            if worker.shift_start + out + service + back <= worker.shift_end:
                reachable.append(w)
        if not reachable:
            unassigned.append(
                Unassigned(candidate.case_id, "not_reachable_in_hours", candidate.mandatory)
            )
        else:
            clients_in_model.append(index)
        allowed.append(reachable)

    if not clients_in_model:
        return routes, unassigned, 0.0

    # The model's locations: the depots, then only the candidates given to the solver.
    model_locs = list(range(n_depots)) + [n_depots + i for i in clients_in_model]
    locations = [pyvrp.Location(x=points[i][1], y=points[i][0]) for i in model_locs]
    depots = [pyvrp.Depot(location=d) for d in range(n_depots)]
    clients = []
    for position, index in enumerate(clients_in_model):
        candidate = placed[index]
        prize = (
            MANDATORY_PRIZE
            if candidate.mandatory
            else (candidate.priority + 10) * per_point + service
        )
        clients.append(
            pyvrp.Client(
                location=n_depots + position,
                service_duration=service,
                prize=prize,
                required=False,
                name=str(candidate.case_id),
            )
        )
    selection = np.array(model_locs)
    distance_matrices, duration_matrices, vehicle_types = [], [], []
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
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=1,
                start_depot=depot_points.index(worker.start),
                end_depot=depot_points.index(worker.end),
                tw_early=worker.shift_start,
                tw_late=worker.shift_end,
                unit_distance_cost=0,
                unit_duration_cost=1,  # the scarce thing is the worker's time
                profile=w,
                name=str(worker.user_id),
            )
        )
    data = pyvrp.ProblemData(
        locations, clients, depots, vehicle_types, distance_matrices, duration_matrices
    )
    started = clock.perf_counter()
    result = pyvrp.solve(
        data, MaxRuntime(time_limit), seed=seed, collect_stats=False, display=False
    )
    seconds = clock.perf_counter() - started

    planned: set[int] = set()
    for route in result.best.routes():
        w = route.vehicle_type()
        if route.has_time_warp():  # never expected: the empty plan is feasible
            continue
        target = routes[w]
        target.travel_km = round(route.distance() / 1000, 2)
        target.starts_at, target.ends_at = at(route.start_time()), at(route.end_time())
        for activity in route.schedule():
            if not activity.is_client():
                continue
            candidate = placed[clients_in_model[activity.idx]]
            assert w in allowed[clients_in_model[activity.idx]], "interpreter rule broken"
            arrive = activity.start_time - activity.wait_duration
            target.stops.append(
                PlannedStop(
                    candidate.case_id,
                    candidate.lat,  # type: ignore[arg-type]
                    candidate.lon,  # type: ignore[arg-type]
                    at(arrive),
                    at(activity.end_time),
                    candidate.mandatory,
                )
            )
            planned.add(candidate.case_id)
    for index in clients_in_model:
        candidate = placed[index]
        if candidate.case_id not in planned:
            reason = "not_enough_hours" if candidate.mandatory else "optional_not_worth_it"
            unassigned.append(Unassigned(candidate.case_id, reason, candidate.mandatory))
    return routes, unassigned, seconds


def solver_name() -> str:
    return f"pyvrp {version('pyvrp')}"


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
) -> Plan:
    """Assign and order the team's visits for a day (reads only; see save_plan).

    By default every active worker of the team and every open case of the team that needs a
    visit; cases whose deadline is within `mandatory_days` are mandatory.
    """
    config = _settings(settings)
    team = session.get(Team, team_id)
    if team is None:
        raise PlanningError(f"no team with id {team_id}")
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
    )
    routes, unassigned, seconds = solve_day(
        day,
        team.organisation.timezone,
        workers,
        candidates,
        config,
        time_limit,
        service_minutes,
    )
    return Plan(
        day=day,
        team_id=team.id,
        timezone=team.organisation.timezone,
        routes=routes,
        unassigned=done + unassigned,
        solver=solver_name(),
        seconds=round(seconds, 2),
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
            )
            for position, stop in enumerate(planned.stops, start=1)
        ]
        session.add(route)
        saved.append(route)
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
