"""The lead's planning page on the demo town: plan, adjust by hand, publish; workers see it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Route, RouteStop, User
from fieldapp.services.demo import seed_demo
from tests.support import AuthActions

# Tomorrow where the demo town is (at 23:30 UTC it is already tomorrow in Copenhagen).
DAY = datetime.now(ZoneInfo("Europe/Copenhagen")).date() + timedelta(days=1)


@pytest.fixture
def lead(app, auth):
    app.config["ROUTING_TIME_LIMIT_SECONDS"] = 1
    with app.app_context():
        seed_demo(db.session, "demo")
        db.session.commit()
    auth.login("lead@example.org", "demo")
    return auth


def plan(auth):
    response = auth.post(
        "/routes/plan",
        {
            "day": DAY.isoformat(),
        },
        page=f"/routes?day={DAY.isoformat()}",
    )
    # Post/redirect/get: the plan is shown by the page it redirects to (a reload plans nothing).
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    assert response.headers["Location"].endswith(f"/routes?day={DAY.isoformat()}")
    return auth.client.get(response.headers["Location"]).get_data(as_text=True)


def draft_stops(app) -> dict[int, list[int]]:
    with app.app_context():
        routes = db.session.scalars(select(Route).where(Route.state == "draft")).all()
        return {r.worker_id: [s.case_id for s in r.stops] for r in routes}


def test_planning_shows_routes_map_and_what_was_left_out(app, lead):
    html = plan(lead)
    assert 'class="route-map"' in html and "visits planned" in html
    assert "Draft: the workers do not see it" in html
    stops = draft_stops(app)
    assert len(stops) == 3 and sum(map(len, stops.values())) > 0
    every = [case for cases in stops.values() for case in cases]
    assert len(every) == len(set(every))  # no case twice
    # Arrival times follow each other within each route.
    with app.app_context():
        for route in db.session.scalars(select(Route)):
            times = [s.arrive_at for s in route.stops]
            assert times == sorted(times)


def test_moving_and_dropping_a_stop_keeps_times_true(app, lead):
    plan(lead)
    stops = draft_stops(app)
    source = max(stops, key=lambda worker: len(stops[worker]))
    target = next(worker for worker in stops if worker != source)
    with app.app_context():
        stop_id = db.session.scalars(
            select(RouteStop.id)
            .join(Route)
            .where(Route.worker_id == source, Route.state == "draft")
            .order_by(RouteStop.position)
        ).first()
        moved_case = db.session.get(RouteStop, stop_id).case_id
    response = lead.post(
        f"/routes/stops/{stop_id}/move",
        {"worker": str(target), "day": DAY.isoformat()},
        page=f"/routes?day={DAY.isoformat()}",
    )
    assert response.status_code == 303
    after = draft_stops(app)
    assert moved_case in after[target] and moved_case not in after[source]
    assert after[target][-1] == moved_case
    with app.app_context():
        route = db.session.scalars(
            select(Route).where(Route.worker_id == target, Route.state == "draft")
        ).one()
        assert [s.position for s in route.stops] == list(range(1, len(route.stops) + 1))
        assert route.stops[-1].arrive_at >= route.stops[-2].depart_at
        dropped = route.stops[0].id
        dropped_case = route.stops[0].case_id
    lead.post(
        f"/routes/stops/{dropped}/drop",
        {"day": DAY.isoformat()},
        page=f"/routes?day={DAY.isoformat()}",
    )
    assert dropped_case not in draft_stops(app)[target]


def test_publishing_gives_each_worker_their_route_in_order(app, lead):
    plan(lead)
    response = lead.post(
        "/routes/publish", {"day": DAY.isoformat()}, page=f"/routes?day={DAY.isoformat()}"
    )
    assert response.status_code == 303
    page = lead.client.get(f"/routes?day={DAY.isoformat()}").get_data(as_text=True)
    assert "Published: the workers see these routes on their phones." in page
    with app.app_context():
        worker = db.session.scalar(select(User).where(User.email == "worker@example.org"))
        route = db.session.scalars(
            select(Route).where(Route.worker_id == worker.id, Route.state == "published")
        ).one()
        assert route.day == DAY


def test_published_routes_cannot_be_edited_by_hand_and_others_are_refused(app, lead, make_user):
    plan(lead)
    lead.post("/routes/publish", {"day": DAY.isoformat()}, page="/routes")
    with app.app_context():
        stop_id = db.session.scalars(select(RouteStop.id)).first()
    refused = lead.post(f"/routes/stops/{stop_id}/drop", {"day": DAY.isoformat()}, page="/routes")
    assert refused.status_code == 400
    assert "planning and publishing again" in refused.get_data(as_text=True)
    worker = AuthActions(app.test_client())
    worker.login("worker@example.org", "demo")
    assert worker.client.get("/routes").status_code == 403


def test_a_bad_day_is_named(lead):
    response = lead.client.get("/routes?day=tomorrow")
    assert response.status_code == 400 and "tomorrow" in response.get_data(as_text=True)
    assert re.search(r"is not a date", response.get_data(as_text=True))
