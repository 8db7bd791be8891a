"""Travel times from an OSRM `table` service (`FIELDAPP_ROUTING_URL`), against a real HTTP server
on 127.0.0.1 that answers `GET /table/v1/{profile}/{lon,lat;...}?annotations=...` as OSRM does:
the plan follows its durations and distances, asks for the worker's profile, and an error
answer, a timeout or an unreachable (`null`) pair gives a clear error or a reason."""

from __future__ import annotations

import json
import math
import threading
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from fieldapp.models import Case, Organisation, Team, User
from fieldapp.services.routing import PlanningError, plan_day

OFFICE = (56.0361, 12.6136)
ZONE = ZoneInfo("Europe/Copenhagen")
# Metres per second per OSRM profile: the walker is much slower, so their legs differ.
SPEEDS = {"foot": 1.0, "bike": 4.0, "driving": 8.0}
LEG_METRES = 1000  # every distance the server gives, so travel_km is easy to check


def _key(lat: float, lon: float) -> tuple[float, float]:
    return (round(lat, 5), round(lon, 5))


class FakeOsrm(ThreadingHTTPServer):
    """State of the server: what it was asked, and how it should answer."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), OsrmHandler)
        self.requests: list[dict] = []
        self.slow: dict[frozenset, int] = {}  # pair of points -> seconds, both ways
        self.unreachable: set[tuple[float, float]] = set()
        self.failure: tuple[int, bytes] | None = None  # (status, body) instead of a table
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def duration(self, profile: str, a: tuple[float, float], b: tuple[float, float]) -> int | None:
        """Seconds from a to b: 1.3 × great-circle distance at the profile's speed, unless set."""
        a, b = _key(*a), _key(*b)
        if a == b:
            return 0
        if a in self.unreachable or b in self.unreachable:
            return None
        if frozenset((a, b)) in self.slow:
            return self.slow[frozenset((a, b))]
        lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
        h = (
            math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        )
        metres = 2 * 6_371_009 * math.asin(math.sqrt(h)) * 1.3
        return math.ceil(metres / SPEEDS[profile])


class OsrmHandler(BaseHTTPRequestHandler):
    server: FakeOsrm

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        segments = parts.path.strip("/").split("/")
        if len(segments) != 4 or segments[:2] != ["table", "v1"]:
            self._send(400, json.dumps({"code": "InvalidUrl", "message": "URL"}).encode())
            return
        profile, coordinates = segments[2], segments[3]
        points = []
        for pair in coordinates.split(";"):
            lon, lat = (float(v) for v in pair.split(","))  # OSRM: longitude first
            points.append((lat, lon))
        annotations = query.get("annotations", ["duration"])[0].split(",")
        self.server.requests.append(
            {"profile": profile, "points": points, "annotations": annotations}
        )
        if self.server.delay:
            clock.sleep(self.server.delay)
        if self.server.failure:
            self._send(*self.server.failure)
            return
        if profile not in SPEEDS:
            self._send(400, json.dumps({"code": "InvalidOptions", "message": "profile"}).encode())
            return
        body: dict = {"code": "Ok"}
        durations = [[self.server.duration(profile, a, b) for b in points] for a in points]
        if "duration" in annotations:
            body["durations"] = durations
        if "distance" in annotations:
            body["distances"] = [
                [None if d is None else (0 if i == j else LEG_METRES) for j, d in enumerate(row)]
                for i, row in enumerate(durations)
            ]
        body["sources"] = body["destinations"] = [
            {"location": [lon, lat], "name": "", "distance": 0.0} for lat, lon in points
        ]
        self._send(200, json.dumps(body).encode())


@pytest.fixture
def osrm(app):
    server = FakeOsrm()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["ROUTING_URL"] = server.url
    app.config["ROUTING_TIMEOUT_SECONDS"] = 5.0
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _today() -> date:
    return datetime.now(UTC).astimezone(ZONE).date()


# Households a few hundred metres apart on Stengade, Helsingør.
SPOTS = {
    "a": (56.0370, 12.6100),
    "b": (56.0372, 12.6106),
    "c": (56.0376, 12.6090),
    "d": (56.0360, 12.6080),
}


@pytest.fixture
def street(app, session, make_user, make_case):
    """Walker (8-12), cyclist (8-16), driver (8-16) and four cases on one street, all due
    at a hearing in three days (mandatory)."""
    people = [
        make_user("worker", email="walker@example.org"),
        make_user("worker", email="cyclist@example.org"),
        make_user("worker", email="driver@example.org"),
    ]
    hearing = [("hearing", _today() + timedelta(days=3))]
    ids = {name: make_case(name=f"Tenant {name}", steps=hearing) for name in SPOTS}
    organisation = session.scalar(select(Organisation))
    organisation.office_lat, organisation.office_lon = OFFICE
    organisation.timezone = "Europe/Copenhagen"
    for person, mode, end in zip(
        people, ("walk", "bike", "car"), (time(12), time(16), time(16)), strict=True
    ):
        user = session.get(User, person.id)
        user.travel_mode, user.work_start, user.work_end = mode, time(8), end
    for name, case_id in ids.items():
        household = session.get(Case, case_id).tenancy.household
        household.lat, household.lon = SPOTS[name]
        household.geo_source = "test"
    session.commit()
    team = session.scalar(select(Team).where(Team.name == "Team A"))
    return {
        "team_id": team.id,
        "workers": {p.email.split("@")[0]: p.id for p in people},
        "cases": ids,
    }


def _legs(route):
    """(from point, to point, seconds between leaving one and arriving at the next)."""
    previous, left = route.start, route.starts_at
    for stop in route.stops:
        yield previous, (stop.lat, stop.lon), (stop.arrive - left).total_seconds()
        previous, left = (stop.lat, stop.lon), stop.depart
    yield previous, route.end, (route.ends_at - left).total_seconds()


def test_the_plan_follows_the_servers_durations_and_distances(app, session, street, osrm):
    # a <-> b takes three hours by the routing server (a river without a bridge, say);
    # the great-circle estimate would say a minute.
    osrm.slow[frozenset((_key(*SPOTS["a"]), _key(*SPOTS["b"])))] = 3 * 3600
    driver = street["workers"]["driver"]
    plan = plan_day(session, _today(), street["team_id"], worker_ids=[driver], time_limit=1)

    assert [r["profile"] for r in osrm.requests] == ["driving"]
    assert set(osrm.requests[0]["annotations"]) >= {"duration"}
    assert osrm.requests[0]["points"][0] == pytest.approx(OFFICE)  # sent as lon,lat
    assert plan.unassigned == []
    (route,) = plan.routes
    by_point = {_key(*point): name for name, point in SPOTS.items()}
    order = [by_point[_key(s.lat, s.lon)] for s in route.stops]
    assert sorted(order) == ["a", "b", "c", "d"]
    # The slow pair is never driven directly: c or d goes between them.
    for first, second in zip(order, order[1:], strict=False):
        assert {first, second} != {"a", "b"}, order
    # Every leg takes at least the server's duration (PyVRP may wait, never be faster).
    for origin, target, seconds in _legs(route):
        assert seconds >= osrm.duration("driving", origin, target), (origin, target)
    # The distances are the server's too: 1 km a leg, five legs.
    assert route.travel_km == pytest.approx(5 * LEG_METRES / 1000)


def test_the_slow_pair_costs_its_hours_when_it_cannot_be_avoided(app, session, street, osrm):
    driver = street["workers"]["driver"]
    a, b = street["cases"]["a"], street["cases"]["b"]
    osrm.slow[frozenset((_key(*SPOTS["a"]), _key(*SPOTS["b"])))] = 3 * 3600
    plan = plan_day(
        session, _today(), street["team_id"], worker_ids=[driver], case_ids=[a, b], time_limit=1
    )
    (route,) = plan.routes
    assert [s.case_id for s in route.stops] in ([a, b], [b, a])
    first, second = route.stops
    assert (second.arrive - first.depart).total_seconds() >= 3 * 3600
    assert second.depart.astimezone(ZONE).time() <= time(16)

    # With a shift too short for the slow leg, one mandatory case is listed, not dropped.
    user = session.get(User, driver)
    user.work_end = time(10)
    session.commit()
    osrm.requests.clear()
    plan = plan_day(
        session, _today(), street["team_id"], worker_ids=[driver], case_ids=[a, b], time_limit=1
    )
    assert len(plan.routes[0].stops) == 1
    assert [(u.reason, u.mandatory) for u in plan.unassigned] == [("not_enough_hours", True)]


def test_each_worker_travels_by_their_own_profile(app, session, street, osrm):
    plan = plan_day(session, _today(), street["team_id"], time_limit=1)
    assert sorted(r["profile"] for r in osrm.requests) == ["bike", "driving", "foot"]
    for request in osrm.requests:
        assert len(request["points"]) == 1 + len(SPOTS)  # the office, then each case
    profiles = {"walk": "foot", "bike": "bike", "car": "driving"}
    assert sum(len(r.stops) for r in plan.routes) == len(SPOTS)
    for route in plan.routes:
        for origin, target, seconds in _legs(route):
            assert seconds >= osrm.duration(profiles[route.travel_mode], origin, target)

    osrm.requests.clear()
    walker = street["workers"]["walker"]
    plan = plan_day(session, _today(), street["team_id"], worker_ids=[walker], time_limit=1)
    assert [r["profile"] for r in osrm.requests] == ["foot"]
    (route,) = plan.routes
    assert route.travel_mode == "walk" and route.stops
    for origin, target, seconds in _legs(route):
        assert seconds >= osrm.duration("foot", origin, target)


def test_an_unreachable_pair_is_a_reason_not_a_crash(app, session, street, osrm):
    # OSRM answers null where no route exists (an island without a ferry, say).
    osrm.unreachable.add(_key(*SPOTS["d"]))
    plan = plan_day(session, _today(), street["team_id"], time_limit=1)
    reasons = {u.case_id: (u.reason, u.mandatory) for u in plan.unassigned}
    assert reasons == {street["cases"]["d"]: ("not_reachable_in_hours", True)}
    planned = sorted(s.case_id for r in plan.routes for s in r.stops)
    assert planned == sorted(street["cases"][n] for n in "abc")


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, b"<html>Internal Server Error</html>", r"answered HTTP 500$"),
        (
            400,
            b'{"code": "InvalidQuery", "message": "Query string malformed close to position 9"}',
            r"answered HTTP 400 'InvalidQuery': Query string malformed",
        ),
        (200, b'{"code": "NoTable", "message": "No table found"}', r"answered 'NoTable'"),
        (200, b'{"code": "Ok", "durations": [[0]]}', r"table of the wrong size"),
        (200, b"not json", r"did not answer"),
    ],
)
def test_an_error_answer_is_a_clear_planning_error(
    app, session, street, osrm, runner, status, body, message
):
    osrm.failure = (status, body)
    with pytest.raises(PlanningError, match=f"routing server {osrm.url} .*{message}"):
        plan_day(session, _today(), street["team_id"], time_limit=1)
    session.rollback()
    # The command says so in one line, without a traceback.
    result = runner.invoke(
        args=["plan-routes", "--date", _today().isoformat(), "--time-limit", "1"]
    )
    assert result.exit_code == 1
    assert f"Error: routing server {osrm.url}" in result.output
    assert "Traceback" not in result.output


def test_a_routing_server_that_does_not_answer_in_time_is_a_clear_error(app, session, street, osrm):
    app.config["ROUTING_TIMEOUT_SECONDS"] = 0.3
    osrm.delay = 1.5
    with pytest.raises(PlanningError, match=f"routing server {osrm.url} did not answer"):
        plan_day(session, _today(), street["team_id"], time_limit=1)
