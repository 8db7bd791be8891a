"""Route planning: every plan is feasible, the JSON has its shape, publishing keeps visits,
and a worker's Today follows their published route."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from geopy.distance import geodesic
from sqlalchemy import func, select

from fieldapp.models import Case, Organisation, Route, Team, User, Visit
from fieldapp.services.routing import (
    REASONS,
    Plan,
    geodesic_matrix,
    plan_day,
    publish_routes,
    save_plan,
    speed_ms,
)
from fieldapp.services.worklist import local_today, todays_cases

OFFICE = (56.0361, 12.6136)  # Helsingør town hall
ZONE = ZoneInfo("Europe/Copenhagen")
SETTINGS_KEYS = ("ROUTING_DETOUR_FACTOR", "ROUTING_SPEED_KMH_WALK")


def _day(session) -> date:
    return datetime.now(UTC).astimezone(ZONE).date()


@pytest.fixture
def town(app, session, make_user, make_case):
    """A team of three workers and forty cases around Helsingør, some awkward on purpose."""
    workers = [
        make_user("worker", email="walker@example.org"),
        make_user("worker", email="cyclist@example.org"),
        make_user("worker", email="driver@example.org"),
    ]
    rng = random.Random(7)
    today = _day(session)
    case_ids = []
    for n in range(40):
        steps = [("hearing", today + timedelta(days=3))] if n < 8 else []
        case_ids.append(make_case(name=f"Tenant {n}", steps=steps, months=1 + n % 5))
    organisation = session.scalar(select(Organisation))
    organisation.office_lat, organisation.office_lon = OFFICE
    organisation.timezone = "Europe/Copenhagen"
    shifts = [("walk", time(8), time(12), ""), ("bike", time(9), time(15), "da,en")]
    shifts.append(("car", time(8), time(16), "da,ar"))
    for worker, (mode, start, end, languages) in zip(workers, shifts, strict=True):
        user = session.get(User, worker.id)
        user.travel_mode, user.work_start, user.work_end, user.languages = (
            mode,
            start,
            end,
            languages,
        )
    cases = {c.id: c for c in session.scalars(select(Case))}
    for n, case_id in enumerate(case_ids):
        household = cases[case_id].tenancy.household
        household.lat = OFFICE[0] + rng.uniform(-0.03, 0.03)
        household.lon = OFFICE[1] + rng.uniform(-0.05, 0.03)
        household.geo_source = "test"
        if n in (3, 10, 11, 12):  # Arabic with an interpreter: only the driver may go
            household.language, household.needs_interpreter = "ar", True
        if n in (4, 13):  # Somali: nobody chosen speaks it
            household.language, household.needs_interpreter = "so", True
        if n in (5, 14):  # no position yet
            household.lat = household.lon = None
        if n == 6:  # a wrong pin in Tromsø: nobody gets there and back in a day
            household.lat, household.lon = 69.65, 18.96
    session.commit()
    team = session.scalar(select(Team).where(Team.name == "Team A"))
    return {"team_id": team.id, "workers": [w.id for w in workers], "cases": case_ids}


def assert_feasible(session, plan: Plan, app) -> None:
    """Hours, no case twice, travel times possible, mandatory cases accounted for, languages."""
    users = {u.id: u for u in session.scalars(select(User))}
    seen: list[int] = []
    detour = app.config["ROUTING_DETOUR_FACTOR"]
    for route in plan.routes:
        user = users[route.worker_id]
        shift_start = datetime.combine(plan.day, user.work_start, ZONE)
        shift_end = datetime.combine(plan.day, user.work_end, ZONE)
        previous, left = route.start, shift_start
        for stop in route.stops:
            assert shift_start <= stop.arrive < stop.depart <= shift_end, (user.email, stop)
            metres = geodesic_matrix([previous, (stop.lat, stop.lon)], detour)[0, 1]
            travel = metres / speed_ms(app.config, user.travel_mode)
            assert (stop.arrive - left).total_seconds() >= travel - 2, (user.email, stop)
            previous, left = (stop.lat, stop.lon), stop.depart
            seen.append(stop.case_id)
            household = session.get(Case, stop.case_id).tenancy.household
            if household.needs_interpreter:
                assert household.language in user.languages.split(","), (user.email, stop)
        back = geodesic_matrix([previous, route.end], detour)[0, 1]
        back_seconds = back / speed_ms(app.config, user.travel_mode)
        assert left + timedelta(seconds=back_seconds - 2) <= shift_end
    assert len(seen) == len(set(seen)), "a case is planned twice"
    unassigned = {u.case_id: u.reason for u in plan.unassigned}
    assert not set(seen) & set(unassigned)
    assert all(reason in REASONS for reason in unassigned.values())
    mandatory = set(
        session.scalars(
            select(Case.id).where(
                Case.team_id == plan.team_id,
                Case.next_deadline.between(plan.day, plan.day + timedelta(days=7)),
            )
        )
    )
    assert mandatory <= set(seen) | set(unassigned), "a mandatory case vanished"


def test_a_planned_day_is_feasible_and_says_why_cases_are_left_out(app, session, town):
    plan = plan_day(session, _day(session), town["team_id"], time_limit=1)
    assert_feasible(session, plan, app)
    reasons = {u.case_id: u.reason for u in plan.unassigned}
    ids = town["cases"]
    assert reasons[ids[4]] == reasons[ids[13]] == "no_worker_speaks_language"
    assert reasons[ids[5]] == reasons[ids[14]] == "no_coordinates"
    assert reasons[ids[6]] == "not_reachable_in_hours"
    planned = {s.case_id: r.worker for r in plan.routes for s in r.stops}
    # Every mandatory case that can be reached is planned: three workers have the hours.
    for case_id in ids[:8]:
        if case_id not in (ids[4], ids[5], ids[6]):
            assert case_id in planned, reasons.get(case_id)
    for n in (3, 10, 11, 12):
        assert planned.get(ids[n], "driver@example.org") == "driver@example.org"
    assert plan.solver.startswith("pyvrp ")


def test_mandatory_cases_beyond_the_hours_are_listed_not_dropped(app, session, town):
    cyclist = town["workers"][1]
    user = session.get(User, cyclist)
    user.work_start, user.work_end = time(9), time(10, 30)
    session.commit()
    plan = plan_day(session, _day(session), town["team_id"], worker_ids=[cyclist], time_limit=1)
    assert_feasible(session, plan, app)
    reasons = [u.reason for u in plan.unassigned if u.mandatory]
    assert "not_enough_hours" in reasons
    assert 1 <= sum(len(r.stops) for r in plan.routes) <= 3


def test_plan_routes_json_has_the_documented_shape(app, session, town, runner):
    day = _day(session)
    result = runner.invoke(
        args=["plan-routes", "--date", day.isoformat(), "--time-limit", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body) == {
        "date", "routes", "unassigned", "mode", "balance_limits", "solver", "seconds"
    }  # fmt: skip
    assert body["date"] == day.isoformat()
    assert body["mode"] == "afresh" and body["balance_limits"] is None
    assert len(body["routes"]) == 3
    for route in body["routes"]:
        assert set(route) == {"worker", "start", "end", "stops", "travel_km", "visits"}
        assert route["visits"] == len(route["stops"])
        assert set(route["start"]) == set(route["end"]) == {"lat", "lon"}
        for stop in route["stops"]:
            assert set(stop) == {"case_id", "lat", "lon", "arrive", "depart", "locked", "window"}
            assert stop["locked"] is False and stop["window"] is None
            arrive = datetime.fromisoformat(stop["arrive"])
            assert arrive.utcoffset() is not None and arrive < datetime.fromisoformat(
                stop["depart"]
            )
    assert {"case_id", "reason", "explanation", "mandatory", "booked"} == set(body["unassigned"][0])
    assert sum(len(r["stops"]) for r in body["routes"]) > 10
    # Without --publish nothing is stored.
    assert session.scalar(select(func.count(Route.id))) == 0


def test_republishing_replaces_routes_and_keeps_recorded_visits(app, session, town):
    day = _day(session)
    team_id = town["team_id"]
    first = plan_day(session, day, team_id, time_limit=1)
    save_plan(session, first, None)
    publish_routes(session, day, team_id, None)
    session.commit()
    driver = session.get(User, town["workers"][2])
    route = next(r for r in first.routes if r.worker_id == driver.id)
    assert route.stops, "the driver has visits"
    # Today follows the route, in its order.
    assert [c.id for c in todays_cases(session, driver)] == [s.case_id for s in route.stops]
    assert local_today(session, driver) == day

    visited = route.stops[0].case_id
    session.add(
        Visit(
            client_uuid="5a3c8c2e-0000-4000-8000-000000000001",
            case_id=visited,
            worker_id=driver.id,
            channel="door",
            result="met",
            occurred_at=datetime.now(UTC),
        )
    )
    session.commit()

    second = plan_day(session, day, team_id, time_limit=1)
    assert {u.case_id: u.reason for u in second.unassigned}[visited] == "already_visited"
    save_plan(session, second, None)
    publish_routes(session, day, team_id, None)
    session.commit()
    states = dict(
        session.execute(select(Route.state, func.count(Route.id)).group_by(Route.state)).all()
    )
    assert states == {"published": 3, "replaced": 3}
    assert session.scalar(select(func.count(Visit.id)).where(Visit.case_id == visited)) == 1
    new_route = next(r for r in second.routes if r.worker_id == driver.id)
    assert [c.id for c in todays_cases(session, driver)] == [s.case_id for s in new_route.stops]
    assert visited not in [c.id for c in todays_cases(session, driver)]


def test_without_a_published_route_today_is_the_priority_list(app, session, make_user, make_case):
    worker = make_user("worker")
    low = make_case(worker_id=worker.id, months=1)
    high = make_case(worker_id=worker.id, months=4, children=2)
    assert [c.id for c in todays_cases(session, session.get(User, worker.id))] == [high, low]


def test_travel_distances_match_geopy_geodesic():
    points = [OFFICE, (56.0, 12.5), (55.676, 12.568), (59.91, 10.75)]
    matrix = geodesic_matrix(points, 1.0)
    for i, a in enumerate(points):
        for j, b in enumerate(points):
            if i != j:
                assert matrix[i, j] == pytest.approx(geodesic(a, b).meters, rel=0.005)
