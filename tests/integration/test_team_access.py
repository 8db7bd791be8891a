"""Record-level access in the field: a worker changes their own cases and those on their own
route, reads their team's open cases without changing them, and loses nothing recorded to a
reassignment. What the phone may keep offline, and until when."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import Case, CaseEvent, Route, RouteStop, User, Visit
from fieldapp.services.cases import assign_cases
from tests.support import AuthActions

HEADERS = {"X-Doorstep-Sync": "1", "Origin": "http://localhost"}
ZONE = ZoneInfo("Europe/Copenhagen")


def visit(case_id: int, recorded_at: datetime | None = None) -> dict:
    moment = recorded_at or datetime.now(UTC)
    return {
        "uuid": str(uuid.uuid4()),
        "type": "visit",
        "case_id": case_id,
        "recorded_at": moment.isoformat(),
        "data": {"channel": "door", "result": "met", "notes": ""},
    }


def send(client, *records) -> list[dict]:
    response = client.post("/sync", json={"records": list(records)}, headers=HEADERS)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


def visits(app, case_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Visit.id)).where(Visit.case_id == case_id))


def local_today():
    return datetime.now(UTC).astimezone(ZONE).date()


def end_of(day) -> str:
    moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZONE).astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def publish_route(app, worker: User, day, case_ids: list[int]) -> None:
    with app.app_context():
        team_id = db.session.get(User, worker.id).team_id
        route = Route(
            day=day, team_id=team_id, worker_id=worker.id, state="published",
            start_lat=56.0, start_lon=12.6, end_lat=56.0, end_lon=12.6,
        )  # fmt: skip
        now = datetime.now(UTC)
        for position, case_id in enumerate(case_ids, 1):
            route.stops.append(
                RouteStop(
                    case_id=case_id,
                    position=position,
                    arrive_at=now,
                    depart_at=now,
                    lat=56.0,
                    lon=12.6,
                )  # fmt: skip
            )
        db.session.add(route)
        db.session.commit()


def give(app, case_id: int, worker: User, lead: User) -> None:
    """The lead reassigns the case, as from the case page."""
    with app.app_context():
        assign_cases(
            db.session,
            [db.session.get(Case, case_id)],
            db.session.get(User, worker.id),
            db.session.get(User, lead.id),
        )
        db.session.commit()


@pytest.fixture
def team(app, make_user, make_case):
    owner = make_user("worker", team="Team A", name="Ane Ejer")
    colleague = make_user("worker", team="Team A")
    lead = make_user("lead", team="Team A")
    stranger = make_user("worker", team="Team B")
    case = make_case(worker_id=owner.id, team="Team A")
    return owner, colleague, lead, stranger, case


def logged_in(app, user: User) -> AuthActions:
    client = AuthActions(app.test_client())
    client.login(user.email)
    return client


def test_a_colleague_reads_the_card_without_the_forms_and_cannot_record(app, team):
    owner, colleague, lead, stranger, case = team
    card = logged_in(app, colleague).client.get(f"/field/cases/{case}")
    text = card.get_data(as_text=True)
    assert card.status_code == 200
    assert 'id="read-only"' in text and "Ane Ejer" in text
    assert "data-outbox" not in text  # no form that would record anything
    assert "X-Doorstep-Keep-Until" not in card.headers  # and the phone keeps none of it
    results = send(logged_in(app, colleague).client, visit(case))
    assert results[0]["status"] == "rejected" and results[0]["field"] == "case_id"
    assert visits(app, case) == 0
    own = logged_in(app, owner).client.get(f"/field/cases/{case}")
    assert own.status_code == 200 and 'data-outbox="visit"' in own.get_data(as_text=True)
    assert 'id="read-only"' not in own.get_data(as_text=True)
    assert send(logged_in(app, owner).client, visit(case))[0]["status"] == "applied"
    assert send(logged_in(app, lead).client, visit(case))[0]["status"] == "applied"
    assert logged_in(app, stranger).client.get(f"/field/cases/{case}").status_code == 403
    assert visits(app, case) == 2


def test_a_closed_case_of_the_team_is_not_for_colleagues(app, team, make_case):
    owner, colleague, _lead, _stranger, _case = team
    closed = make_case(worker_id=owner.id, team="Team A", status="closed")
    assert logged_in(app, colleague).client.get(f"/field/cases/{closed}").status_code == 403
    assert logged_in(app, colleague).client.get(f"/cases/{closed}").status_code == 403
    assert logged_in(app, owner).client.get(f"/cases/{closed}").status_code == 200


def test_a_colleague_cannot_change_the_case_page_either(app, team):
    owner, colleague, _lead, _stranger, case = team
    client = logged_in(app, colleague)
    with app.app_context():
        version = db.session.get(Case, case).version
    for url, form in (
        (f"/cases/{case}", {"version": str(version), "status": "in_contact"}),
        (f"/cases/{case}/legal-steps", {"kind": "hearing", "date": "2026-12-24"}),
    ):
        assert client.post(url, form, page=f"/cases/{case}").status_code == 403, url
    with app.app_context():
        again = db.session.get(Case, case)
        assert again.version == version and not again.legal_steps


def test_a_case_on_the_workers_route_may_be_recorded_on(app, team):
    owner, colleague, _lead, _stranger, case = team
    publish_route(app, colleague, local_today(), [case])
    card = logged_in(app, colleague).client.get(f"/field/cases/{case}")
    assert 'data-outbox="visit"' in card.get_data(as_text=True)
    assert card.headers["X-Doorstep-Keep-Until"] == end_of(local_today())
    assert send(logged_in(app, colleague).client, visit(case))[0]["status"] == "applied"
    assert visits(app, case) == 1


def test_what_was_recorded_before_a_reassignment_still_arrives(app, team):
    owner, colleague, lead, _stranger, case = team
    before = datetime.now(UTC) - timedelta(minutes=30)
    give(app, case, colleague, lead)
    after = datetime.now(UTC) + timedelta(minutes=6)  # past the 5 minutes allowed a fast clock
    late, too_late = visit(case, before), visit(case, after)
    results = send(logged_in(app, owner).client, late, too_late)
    assert [r["status"] for r in results] == ["applied", "rejected"]
    assert visits(app, case) == 1
    # the new worker records from now on; the former one now only reads
    assert send(logged_in(app, colleague).client, visit(case))[0]["status"] == "applied"
    text = logged_in(app, owner).client.get(f"/field/cases/{case}").get_data(as_text=True)
    assert 'id="read-only"' in text


def test_the_team_page_lists_the_teams_open_cases_only(app, team, make_case):
    owner, colleague, _lead, stranger, case = team
    closed = make_case(worker_id=owner.id, team="Team A", status="closed", address="Lukket 1")
    elsewhere = make_case(worker_id=stranger.id, team="Team B", address="Andetsteds 2")
    page = logged_in(app, colleague).client.get("/team")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"/field/cases/{case}" in text
    assert f"/field/cases/{closed}" not in text and "Lukket 1" not in text
    assert f"/field/cases/{elsewhere}" not in text and "Andetsteds 2" not in text
    assert (
        logged_in(app, stranger).client.get("/team").get_data(as_text=True).count("/field/cases/")
        == 1
    )


def test_the_phone_keeps_today_until_midnight_and_tomorrows_route_until_the_next(app, team):
    owner, colleague, _lead, _stranger, case = team
    tomorrow = local_today() + timedelta(days=1)
    publish_route(app, colleague, tomorrow, [case])
    client = logged_in(app, colleague).client
    today = client.get("/today")
    # with a route for tomorrow, Today is kept until tomorrow night too (it lists that route)
    assert today.headers["X-Doorstep-Keep-Until"] == end_of(tomorrow)
    assert logged_in(app, owner).client.get("/today").headers["X-Doorstep-Keep-Until"] == end_of(
        local_today()
    )
    assert f'data-offline-url="/field/cases/{case}"' in today.get_data(as_text=True)
    card = client.get(f"/field/cases/{case}")
    assert card.headers["X-Doorstep-Keep-Until"] == end_of(tomorrow)
    # the owner keeps it until tonight: it is on their own list for today
    mine = logged_in(app, owner).client.get(f"/field/cases/{case}")
    assert mine.headers["X-Doorstep-Keep-Until"] == end_of(local_today())


def test_a_made_up_old_time_opens_nothing(app, team, make_user):
    owner, colleague, lead, _stranger, case = team
    third = make_user("worker", team="Team A")

    while_owners = datetime.now(UTC) - timedelta(minutes=20)
    give(app, case, colleague, lead)  # owner -> colleague
    while_colleagues = datetime.now(UTC) + timedelta(minutes=10)  # past the clock slack
    with app.app_context():
        for event in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case)):
            event.at = event.at - timedelta(hours=1)  # the first move was an hour ago
        db.session.commit()
    give(app, case, third, lead)  # colleague -> third
    client = logged_in(app, colleague).client
    results = send(
        client,
        visit(case, while_owners - timedelta(hours=1)),  # before the case was the colleague's
        visit(case, datetime(2020, 1, 1, tzinfo=UTC)),  # long ago
        visit(case, while_colleagues - timedelta(minutes=40)),  # while it was theirs
    )
    assert [r["status"] for r in results] == ["rejected", "rejected", "applied"]
    # the first owner cannot reach back past the grace period either
    old = visit(case, datetime.now(UTC) - timedelta(days=40))
    assert send(logged_in(app, owner).client, old)[0]["status"] == "rejected"
    assert visits(app, case) == 1


def test_off_the_route_or_on_yesterdays_the_card_is_read_only(app, team):
    owner, colleague, _lead, _stranger, case = team
    publish_route(app, colleague, local_today() - timedelta(days=1), [case])
    client = logged_in(app, colleague)
    assert 'id="read-only"' in client.client.get(f"/field/cases/{case}").get_data(as_text=True)
    publish_route(app, colleague, local_today(), [case])
    assert 'id="read-only"' not in client.client.get(f"/field/cases/{case}").get_data(as_text=True)
    with app.app_context():  # the lead plans the day again without this case
        for route in db.session.scalars(select(Route).where(Route.day == local_today())):
            route.state = "replaced"
        db.session.commit()
    card = client.client.get(f"/field/cases/{case}")
    assert 'id="read-only"' in card.get_data(as_text=True)
    assert "X-Doorstep-Keep-Until" not in card.headers
    with app.app_context():
        version = db.session.get(Case, case).version
    refused = client.post(
        f"/cases/{case}", {"version": str(version), "status": "in_contact"}, page="/team"
    )
    assert refused.status_code == 403
