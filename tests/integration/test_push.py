"""Push reminders end to end against the local push service in tests/pushservice.py: the
subscription API, what is sent when (a fake clock: `send-reminders --now` semantics), to whom,
exactly once with two senders and after a crash, and the push protocol's answers."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from fieldapp.cli import run_reminders, start_reminder_scheduler
from fieldapp.extensions import db
from fieldapp.models import (
    Action,
    Case,
    LegalStep,
    PushAttempt,
    PushDelivery,
    PushSubscription,
    Reminder,
    Route,
    User,
)
from fieldapp.services.push import public_key_b64
from fieldapp.services.reminders import claim_deliveries, out_of_quiet_hours
from tests.pushservice import PushService
from tests.support import PASSWORD, AuthActions

ZONE = ZoneInfo("Europe/Copenhagen")
HEARING = date(2026, 12, 10)
PUSH = {"X-Doorstep-Push": "1"}


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).astimezone(UTC)


@pytest.fixture
def service():
    push = PushService().start()
    yield push
    push.stop()


@pytest.fixture
def push_app(app):
    app.config.update(
        VAPID_SUBJECT="mailto:it@helsingor.example",
        PUSH_SERVICES="http://127.0.0.1:*",
        PUSH_TIMEOUT_SECONDS=2.0,
    )
    return app


def server_key(app) -> str:
    return public_key_b64(app.extensions["doorstep_vapid"])


def logged_in(app, user: User):
    client = app.test_client()
    response = AuthActions(client).login(user.email, PASSWORD)
    assert response.status_code in (302, 303)
    return client


def subscribe(
    app, service: PushService, user: User, agent: str = "Chrome/130 Android", language: str = ""
):
    """A device of the user's subscribes through the real API (in `language`, when given,
    chosen first on the page); the Device."""
    device = service.subscribe(server_key(app))
    client = logged_in(app, user)
    if language:
        AuthActions(client).post("/language", {"lang": language, "back": "/today"}, page="/today")
    response = client.post(
        "/push/subscriptions",
        json=device.to_json(),
        headers={**PUSH, "User-Agent": agent},
    )
    assert response.status_code == 201, response.get_json()
    return device


def send(app, now: datetime):
    with app.app_context():
        report = run_reminders(now)
        db.session.remove()
        return report


@pytest.fixture
def team(push_app, make_user, make_case):
    worker = make_user("worker", name="Mette Holm")
    lead = make_user("lead", name="Lone Lead")
    case_id = make_case(
        name="Lars Bakken",
        address="Stengade 12",
        postcode="3000",
        worker_id=worker.id,
        steps=[("petition", date(2026, 11, 1)), ("hearing", HEARING)],
    )
    return worker, lead, case_id


# --- the subscription API and page ------------------------------------------------------------


def test_subscribing_answers_201_then_200_and_the_device_is_listed(push_app, service, team):
    worker, _, _ = team
    device = service.subscribe(server_key(push_app))
    client = logged_in(push_app, worker)
    first = client.post("/push/subscriptions", json=device.to_json(), headers=PUSH)
    again = client.post("/push/subscriptions", json=device.to_json(), headers=PUSH)
    assert (first.status_code, again.status_code) == (201, 200)
    page = client.get("/settings/reminders", headers={"User-Agent": "x"}).get_data(as_text=True)
    assert 'id="devices"' in page and server_key(push_app) in page
    with push_app.app_context():
        rows = db.session.scalars(select(PushSubscription)).all()
        assert [(r.user_id, r.endpoint) for r in rows] == [(worker.id, device.endpoint)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s["keys"].update(p256dh="AAAA"), "keys.p256dh"),
        (lambda s: s["keys"].update(auth="not base64!"), "keys.auth"),
        (lambda s: s.update(endpoint="https://evil.example/push/1"), "endpoint"),
        (lambda s: s.update(endpoint="http://10.0.0.5/admin"), "endpoint"),
        (lambda s: s.pop("keys"), "keys"),
    ],
)
def test_a_bad_subscription_is_refused_naming_the_field(push_app, service, team, change, field):
    worker, _, _ = team
    body = service.subscribe(server_key(push_app)).to_json()
    change(body)
    response = logged_in(push_app, worker).post("/push/subscriptions", json=body, headers=PUSH)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert response.get_json()["message"].startswith(field)
    with push_app.app_context():
        assert db.session.scalar(select(func.count(PushSubscription.id))) == 0


def test_the_api_needs_a_login_the_header_and_a_role_that_gets_reminders(
    push_app, service, team, make_user
):
    worker, _, _ = team
    body = service.subscribe(server_key(push_app)).to_json()
    assert (
        push_app.test_client().post("/push/subscriptions", json=body, headers=PUSH).status_code
        == 401
    )
    client = logged_in(push_app, worker)
    assert client.post("/push/subscriptions", json=body).status_code == 403  # no header
    cross_site = {**PUSH, "Origin": "https://evil.example"}
    assert client.post("/push/subscriptions", json=body, headers=cross_site).status_code == 403
    admin = logged_in(push_app, make_user("admin"))
    assert admin.post("/push/subscriptions", json=body, headers=PUSH).status_code == 403
    with push_app.app_context():
        assert db.session.scalar(select(func.count(PushSubscription.id))) == 0


def test_delete_removes_only_ones_own_device(push_app, service, team):
    worker, lead, _ = team
    device = subscribe(push_app, service, worker)
    lead_client = logged_in(push_app, lead)
    gone = {"endpoint": device.endpoint}
    assert lead_client.delete("/push/subscriptions", json=gone, headers=PUSH).status_code == 404
    worker_client = logged_in(push_app, worker)
    assert worker_client.delete("/push/subscriptions", json=gone, headers=PUSH).status_code == 200
    assert worker_client.delete("/push/subscriptions", json=gone, headers=PUSH).status_code == 404


def test_a_device_is_removed_from_the_page_and_gets_nothing_more(push_app, service, team):
    worker, _, _ = team
    subscribe(push_app, service, worker)
    with push_app.app_context():
        subscription_id = db.session.scalar(select(PushSubscription.id))
    client = logged_in(push_app, worker)
    auth = AuthActions(client)
    path = f"/settings/reminders/devices/{subscription_id}/remove"
    response = auth.post(path, page="/settings/reminders")
    assert response.status_code == 303
    send(push_app, local(HEARING - timedelta(days=7), 8))
    assert service.accepted == []


def test_someone_elses_device_cannot_be_removed(push_app, service, team):
    worker, lead, _ = team
    subscribe(push_app, service, worker)
    with push_app.app_context():
        subscription_id = db.session.scalar(select(PushSubscription.id))
    auth = AuthActions(logged_in(push_app, lead))
    path = f"/settings/reminders/devices/{subscription_id}/remove"
    assert auth.post(path, page="/settings/reminders").status_code == 404
    with push_app.app_context():
        assert db.session.get(PushSubscription, subscription_id) is not None


def test_disabling_a_user_removes_their_devices(push_app, service, team, make_user):
    worker, _, _ = team
    subscribe(push_app, service, worker)
    auth = AuthActions(logged_in(push_app, make_user("admin")))
    response = auth.post(f"/admin/users/{worker.id}/active", {"active": "0"}, page="/admin/users")
    assert response.status_code == 303
    with push_app.app_context():
        assert db.session.scalar(select(func.count(PushSubscription.id))) == 0


# --- when, to whom, what --------------------------------------------------------------------


def test_hearing_reminders_go_at_each_offset_to_the_worker_and_the_leads(push_app, service, team):
    worker, lead, case_id = team
    phone = subscribe(push_app, service, worker)
    lead_phone = subscribe(push_app, service, lead)
    lead_laptop = subscribe(push_app, service, lead, "Firefox/133 Windows")

    send(push_app, local(HEARING - timedelta(days=7), 7, 59))
    assert service.accepted == []
    send(push_app, local(HEARING - timedelta(days=7), 8, 0))
    assert sorted(d.token for d in service.accepted) == sorted(
        [phone.token, lead_phone.token, lead_laptop.token]
    )
    send(push_app, local(HEARING - timedelta(days=7), 8, 5))  # the next cron run: nothing new
    assert len(service.accepted) == 3
    send(push_app, local(HEARING - timedelta(days=2), 8, 0))
    send(push_app, local(HEARING - timedelta(days=1), 8, 0))
    send(push_app, local(HEARING, 8, 0))  # no reminder on the day itself (offsets 7, 2, 1)

    mine = service.for_device(phone)
    assert [d.payload["title"] for d in mine] == [
        "Hearing in 7 days",
        "Hearing in 2 days",
        "Hearing tomorrow",
    ]
    assert [d.urgency for d in mine] == ["normal", "normal", "high"]
    assert {d.topic for d in mine} == {f"case{case_id}-hearing"}
    assert {d.payload["url"] for d in mine} == {f"/field/cases/{case_id}"}
    assert {d.payload["url"] for d in service.for_device(lead_laptop)} == {f"/cases/{case_id}"}
    end_of_hearing_day = local(HEARING + timedelta(days=1), 0).timestamp()
    for delivery, sent_at in zip(
        mine, [local(HEARING - timedelta(days=n), 8) for n in (7, 2, 1)], strict=True
    ):
        assert delivery.ttl == int(end_of_hearing_day - sent_at.timestamp())
    assert len(service.accepted) == 9
    with push_app.app_context():
        assert db.session.scalar(select(func.count(PushAttempt.id))) == 9


def test_the_organisation_sets_the_offsets(push_app, service, team):
    worker, lead, _ = team
    phone = subscribe(push_app, service, worker)
    auth = AuthActions(logged_in(push_app, lead))
    bad = auth.post(
        "/settings/reminders/organisation",
        {"offsets": "3, x", "quiet_start": "20:00", "quiet_end": "25:99"},
        page="/settings/reminders",
    )
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "&#39;x&#39;" in text and "25:99" in text
    many = auth.post(
        "/settings/reminders/organisation",
        {"offsets": ",".join(str(n) for n in range(1, 30)), "quiet_start": "20:00",
         "quiet_end": "08:00"},
        page="/settings/reminders",
    )  # fmt: skip
    assert many.status_code == 400 and "at most 8" in many.get_data(as_text=True)
    good = auth.post(
        "/settings/reminders/organisation",
        {"offsets": "3", "quiet_start": "21:00", "quiet_end": "07:30"},
        page="/settings/reminders",
    )
    assert good.status_code == 303
    send(push_app, local(HEARING - timedelta(days=7), 8))
    assert service.accepted == []
    send(push_app, local(HEARING - timedelta(days=3), 7, 29))
    assert service.accepted == []
    send(push_app, local(HEARING - timedelta(days=3), 7, 30))
    assert [d.payload["title"] for d in service.for_device(phone)] == ["Hearing in 3 days"]
    assert service.for_device(phone)[0].urgency == "high"  # the only, so the last, reminder


def test_a_date_added_late_gets_only_the_latest_reminder_and_none_at_night(
    push_app, service, team, make_case
):
    worker, _, _ = team
    phone = subscribe(push_app, service, worker)
    late = make_case(worker_id=worker.id, steps=[("eviction_scheduled", HEARING)])
    send(push_app, local(HEARING - timedelta(days=2), 22, 30))  # quiet hours: wait
    send(push_app, local(HEARING - timedelta(days=1), 7, 59))
    assert service.for_device(phone) == []
    send(push_app, local(HEARING - timedelta(days=1), 8, 0))
    titles = sorted(d.payload["title"] for d in service.for_device(phone))
    # Both the original hearing and the late eviction date: one reminder each, the latest.
    assert titles == ["Eviction tomorrow", "Hearing tomorrow"]
    assert {d.topic for d in service.for_device(phone)} == {
        f"case{late}-eviction",
        f"case{team[2]}-hearing",
    }


def test_a_withdrawn_or_closed_case_gets_no_more_reminders(push_app, service, team):
    worker, _, case_id = team
    phone = subscribe(push_app, service, worker)
    send(push_app, local(HEARING - timedelta(days=7), 8))
    with push_app.app_context():
        db.session.add(LegalStep(case_id=case_id, kind="withdrawn", date=HEARING, source="test"))
        db.session.commit()
    send(push_app, local(HEARING - timedelta(days=2), 8))
    assert len(service.for_device(phone)) == 1


def test_a_published_route_is_announced_to_its_worker_after_quiet_hours(push_app, service, team):
    worker, lead, _ = team
    phone = subscribe(push_app, service, worker)
    lead_phone = subscribe(push_app, service, lead)
    day = date(2026, 12, 2)
    published = local(day - timedelta(days=1), 21, 30)
    with push_app.app_context():
        team_id = db.session.get(User, worker.id).team_id
        db.session.add(
            Route(
                day=day, team_id=team_id, worker_id=worker.id, state="published",
                start_lat=56.0, start_lon=12.6, end_lat=56.0, end_lon=12.6,
                published_at=published,
            )
        )  # fmt: skip
        db.session.commit()
    send(push_app, published + timedelta(minutes=1))
    send(push_app, local(day, 7, 59))
    assert service.accepted == []
    send(push_app, local(day, 8, 0))
    assert [d.payload for d in service.accepted] == [
        {
            "title": "Your route for Wed 2 Dec is ready",
            "body": "Open Doorstep to see your visits",
            "url": "/today",
            "tag": "route-20261202",
        }
    ]
    assert service.for_device(lead_phone) == []
    assert service.accepted[0].token == phone.token


def test_an_action_due_today_reminds_the_cases_worker(push_app, service, team):
    worker, _, case_id = team
    phone = subscribe(push_app, service, worker)
    with push_app.app_context():
        db.session.add(
            Action(
                client_uuid="6d2f1c1e-0000-4000-8000-000000000001",
                case_id=case_id,
                worker_id=worker.id,
                description="Ring til boligselskabet om afdragsordning",
                due_on=date(2026, 12, 4),
                recorded_at=local(date(2026, 12, 1), 10),
            )
        )
        db.session.commit()

    def actions():
        return [d for d in service.for_device(phone) if d.topic.endswith("-action")]

    send(push_app, local(date(2026, 12, 3), 9))
    assert actions() == []
    send(push_app, local(date(2026, 12, 4), 8))
    assert [(d.payload["title"], d.topic) for d in actions()] == [
        ("An agreed action is due today", f"case{case_id}-action")
    ]


def test_reminders_are_written_in_the_devices_language(push_app, service, team):
    worker, _, case_id = team
    device = subscribe(push_app, service, worker, language="da")
    send(push_app, local(HEARING - timedelta(days=2), 8))
    assert service.for_device(device)[0].payload["title"] == "Fogedretsmøde om 2 dage"
    assert service.for_device(device)[0].payload["body"] == f"Sag {case_id}"


def test_no_payload_holds_the_tenants_name_address_or_amount(push_app, service, team, make_case):
    worker, lead, _ = team
    make_case(
        name="Aisha Farah Mohamud", address="Kongevejen 118, 2. th", postcode="3000",
        arrears=2_345_600, worker_id=worker.id, children=3,
        steps=[("eviction_scheduled", HEARING - timedelta(days=3))],
    )  # fmt: skip
    for user in (worker, lead):
        subscribe(push_app, service, user)
    for day in range(12):
        send(push_app, local(date(2026, 12, 1) + timedelta(days=day), 8))
    assert len(service.accepted) >= 8
    with push_app.app_context():
        households = [case.tenancy.household for case in db.session.scalars(select(Case))]
        forbidden = {"23456", "23.456", "Mette", "Holm", "Helsingør"}
        for household in households:
            forbidden |= {*household.name.split(), household.address, household.postcode}
            forbidden |= set(household.address.replace(",", "").split()) - {"2.", "th"}
    for delivery in service.accepted:
        assert set(delivery.payload) == {"title", "body", "url", "tag"}
        text = json.dumps(delivery.payload, ensure_ascii=False)
        assert not [word for word in forbidden if word in text], text


# --- exactly once ----------------------------------------------------------------------------


def test_two_senders_at_once_deliver_each_reminder_once(push_app, service, team, make_case):
    worker, lead, _ = team
    for n in range(5):
        make_case(worker_id=worker.id, steps=[("hearing", HEARING + timedelta(days=n % 2))])
    devices = [subscribe(push_app, service, worker), subscribe(push_app, service, lead)]
    devices.append(subscribe(push_app, service, lead, "Safari/605 iPhone"))
    service.delay = 0.05  # so the two senders overlap
    now = local(HEARING - timedelta(days=1), 8)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            start.wait()
            send(push_app, now)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    seen = [(d.token, d.topic) for d in service.accepted]
    # 6 cases × 3 devices, each once.
    assert len(seen) == len(set(seen)) == 6 * len(devices)
    assert service.requests == len(seen)
    with push_app.app_context():
        assert db.session.scalar(select(func.count(Reminder.id))) == 6
        states = db.session.scalars(select(PushDelivery.state)).all()
        assert states == ["sent"] * 18


def test_a_sender_that_dies_mid_way_leaves_nothing_unsent(push_app, service, team):
    worker, lead, _ = team
    subscribe(push_app, service, worker)
    subscribe(push_app, service, lead)
    now = local(HEARING - timedelta(days=2), 8)
    with push_app.app_context():
        from fieldapp.services.reminders import schedule_reminders

        schedule_reminders(db.session, now)
        # This sender claims both deliveries and then dies before sending anything.
        claimed = claim_deliveries(db.session, now, "dead-sender", lease_seconds=300)
        assert len(claimed) == 2
        db.session.remove()
    send(push_app, now + timedelta(minutes=1))  # the lease still holds: nothing sent
    assert service.accepted == []
    send(push_app, now + timedelta(minutes=6))  # lease run out: the next run sends them
    assert len(service.accepted) == 2
    send(push_app, now + timedelta(minutes=12))
    assert len(service.accepted) == 2


# --- the push service's answers -------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
def test_404_and_410_remove_the_subscription(push_app, service, team, status):
    worker, lead, _ = team
    phone = subscribe(push_app, service, worker)
    lead_phone = subscribe(push_app, service, lead)
    service.script[phone.token] = [status]
    send(push_app, local(HEARING - timedelta(days=7), 8))
    with push_app.app_context():
        endpoints = db.session.scalars(select(PushSubscription.endpoint)).all()
        assert endpoints == [lead_phone.endpoint]
        attempts = db.session.execute(
            select(PushAttempt.status_code, PushAttempt.outcome).order_by(PushAttempt.id)
        ).all()
        assert sorted(attempts) == sorted([(status, "gone"), (201, "sent")])
    send(push_app, local(HEARING - timedelta(days=2), 8))
    assert service.for_device(phone) == [] and len(service.for_device(lead_phone)) == 2
    assert service.requests == 3  # nothing more was sent to the removed endpoint


def test_429_waits_for_retry_after_then_sends(push_app, service, team):
    worker, _, _ = team
    phone = subscribe(push_app, service, worker)
    service.script[phone.token] = [429]
    service.retry_after = "120"
    now = local(HEARING - timedelta(days=7), 8)
    send(push_app, now)
    send(push_app, now + timedelta(seconds=60))
    assert service.accepted == []
    send(push_app, now + timedelta(seconds=121))
    assert len(service.for_device(phone)) == 1
    with push_app.app_context():
        attempts = db.session.execute(
            select(PushAttempt.status_code, PushAttempt.outcome).order_by(PushAttempt.id)
        ).all()
        assert [tuple(a) for a in attempts] == [(429, "retrying"), (201, "sent")]


def test_5xx_backs_off_and_gives_up_after_the_last_attempt(push_app, service, team):
    worker, _, _ = team
    push_app.config["PUSH_MAX_ATTEMPTS"] = 3
    phone = subscribe(push_app, service, worker)
    service.script[phone.token] = [500, 503, 502, 201]
    now = local(HEARING - timedelta(days=7), 8)
    for minutes in (0, 1, 2, 5, 10, 20):
        send(push_app, now + timedelta(minutes=minutes))
    assert service.accepted == []
    with push_app.app_context():
        attempts = db.session.execute(
            select(PushAttempt.at, PushAttempt.status_code, PushAttempt.outcome).order_by(
                PushAttempt.id
            )
        ).all()
        assert [(a.status_code, a.outcome) for a in attempts] == [
            (500, "retrying"),
            (503, "retrying"),
            (502, "failed"),
        ]
        gaps = [(b.at - a.at).total_seconds() for a, b in pairwise(attempts)]
        assert gaps[0] >= 60 and gaps[1] >= 120  # doubling waits
        assert db.session.scalar(select(PushDelivery.state)) == "failed"


def test_a_push_service_that_does_not_answer_times_out_and_is_retried(push_app, service, team):
    worker, _, _ = team
    push_app.config["PUSH_TIMEOUT_SECONDS"] = 0.3
    phone = subscribe(push_app, service, worker)
    service.delay = 1.0
    now = local(HEARING - timedelta(days=7), 8)
    send(push_app, now)
    with push_app.app_context():
        attempt = db.session.scalar(select(PushAttempt))
        assert (attempt.status_code, attempt.outcome) == (None, "retrying")
        assert "Timeout" in attempt.detail
    service.delay = 0
    send(push_app, now + timedelta(minutes=2))
    assert len(service.for_device(phone)) == 1


def test_each_push_service_gets_its_own_audience_claim(push_app, service, team):
    """pywebpush writes `aud` into the claims dict; a shared dict would carry the first
    service's audience to the second, which refuses it."""
    worker, _, _ = team
    other = PushService().start()
    try:
        first = subscribe(push_app, service, worker)
        second = subscribe(push_app, other, worker, "Firefox/133 Linux")
        send(push_app, local(HEARING - timedelta(days=7), 8))
        assert len(service.for_device(first)) == 1 and len(other.for_device(second)) == 1
        assert other.refused == [] and service.refused == []
        assert service.accepted[0].claims["aud"] != other.accepted[0].claims["aud"]
    finally:
        other.stop()


# --- settings, keys and the command ---------------------------------------------------------


def test_quiet_hours_move_a_night_time_to_the_start_of_the_working_day():
    from datetime import time

    quiet = (time(20), time(8))
    day = date(2026, 12, 1)
    assert out_of_quiet_hours(local(day, 21), ZONE, *quiet) == local(day + timedelta(days=1), 8)
    assert out_of_quiet_hours(local(day, 3), ZONE, *quiet) == local(day, 8)
    assert out_of_quiet_hours(local(day, 12), ZONE, *quiet) == local(day, 12)
    assert out_of_quiet_hours(local(day, 12, 30), ZONE, time(12), time(13)) == local(day, 13)


def test_send_reminders_needs_a_vapid_subject(app, runner):
    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 1
    assert "FIELDAPP_VAPID_SUBJECT" in result.output


def test_send_reminders_command_sends_what_is_due(push_app, service, team):
    worker, _, _ = team
    subscribe(push_app, service, worker)
    runner = push_app.test_cli_runner()
    when = local(HEARING - timedelta(days=2), 8).isoformat()
    result = runner.invoke(args=["send-reminders", "--now", when])
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output and len(service.accepted) == 1
    bad = runner.invoke(args=["send-reminders", "--now", "tomorrow"])
    assert bad.exit_code == 2 and "'tomorrow'" in bad.output


def test_the_vapid_key_is_made_once_private_and_shown(app, runner):
    path = app.config["VAPID_PRIVATE_KEY"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    before = open(path).read()
    result = runner.invoke(args=["vapid-keys"])
    assert result.exit_code == 0
    assert public_key_b64(app.extensions["doorstep_vapid"]) in result.output
    from fieldapp import create_app

    again = create_app(
        {**{k: app.config[k] for k in ("DATABASE_URL", "SECRET_KEY")}, "VAPID_PRIVATE_KEY": path}
    )
    assert public_key_b64(again.extensions["doorstep_vapid"]) == server_key(app)
    assert open(path).read() == before


def test_a_lead_adds_a_hearing_and_every_device_gets_one_reminder_per_offset(
    push_app, service, make_user, make_case
):
    worker = make_user("worker")
    lead = make_user("lead")
    other_lead = make_user("lead")
    case_id = make_case(worker_id=worker.id)
    devices = [subscribe(push_app, service, user) for user in (worker, lead, other_lead)]
    auth = AuthActions(logged_in(push_app, lead))
    page = auth.client.get(f"/cases/{case_id}").get_data(as_text=True)
    version = page.split('name="version" value="')[1].split('"')[0]
    response = auth.post(
        f"/cases/{case_id}/legal-steps",
        {"kind": "hearing", "date": HEARING.isoformat(), "version": version},
        page=f"/cases/{case_id}",
    )
    assert response.status_code in (200, 303)
    for days in range(9, -1, -1):
        for hour in (6, 8, 12, 21):
            send(push_app, local(HEARING - timedelta(days=days), hour))
    for device in devices:
        assert [d.payload["title"] for d in service.for_device(device)] == [
            "Hearing in 7 days",
            "Hearing in 2 days",
            "Hearing tomorrow",
        ]
    assert service.requests == 9


def test_the_embedded_scheduler_sends_without_cron(push_app, service, make_user, make_case):
    worker = make_user("worker")
    make_case(worker_id=worker.id)
    phone = subscribe(push_app, service, worker)
    with push_app.app_context():
        from fieldapp.models import Organisation

        organisation = db.session.scalar(select(Organisation))
        # No quiet hours and a reminder the day before: a hearing tomorrow is due right now.
        organisation.reminder_offsets = "1"
        organisation.quiet_hours_start = organisation.quiet_hours_end = datetime.min.time()
        tomorrow = datetime.now(ZONE).date() + timedelta(days=1)
        case_id = db.session.scalar(select(Case.id))
        db.session.add(LegalStep(case_id=case_id, kind="hearing", date=tomorrow, source="test"))
        db.session.commit()
    stop = start_reminder_scheduler(push_app, 0.2)
    try:
        for _ in range(100):
            if service.for_device(phone):
                break
            threading.Event().wait(0.1)
    finally:
        stop.set()
    assert [d.payload["title"] for d in service.for_device(phone)] == ["Hearing tomorrow"]


# --- one device's trouble is its own (issue 16, findings 5 and 6) ----------------------------


def test_a_subscription_that_cannot_be_encrypted_to_stops_no_other_device(push_app, service, team):
    """Finding 5: one stored subscription with a malformed key made every send-reminders run
    abort, so nobody was reminded."""
    worker, lead, _ = team
    lead_phone = subscribe(push_app, service, lead)
    with push_app.app_context():
        broken = PushSubscription(
            user_id=worker.id,
            endpoint=f"{service.origin}/push/broken",
            endpoint_hash="b" * 64,
            p256dh="AAAA",  # not a P-256 point: the encryption raises, not the network
            auth="AAAAAAAAAAAAAAAAAAAAAA",
            language="da",
        )
        no_host = PushSubscription(
            user_id=worker.id,
            endpoint="http:///push/no-host",  # py_vapid raised VapidException on it
            endpoint_hash="c" * 64,
            p256dh=lead_phone.to_json()["keys"]["p256dh"],
            auth=lead_phone.to_json()["keys"]["auth"],
            language="da",
        )
        db.session.add_all([broken, no_host])
        db.session.commit()
    report = send(push_app, local(HEARING - timedelta(days=7), 8))
    assert len(service.for_device(lead_phone)) == 1
    assert dict(report.outcomes) == {"gone": 2, "sent": 1}
    with push_app.app_context():
        endpoints = db.session.scalars(select(PushSubscription.endpoint)).all()
        assert endpoints == [lead_phone.endpoint]  # the broken one is removed, never retried


def test_a_redirect_from_the_push_service_is_not_followed(push_app, service, team):
    """Finding 6: redirects were followed, so a push service (or whoever answers for it)
    could send the server's request anywhere."""
    worker, lead, _ = team
    phone = subscribe(push_app, service, worker)
    lead_phone = subscribe(push_app, service, lead)
    service.redirect_to[phone.token] = f"{service.origin}/push/{lead_phone.token}"
    send(push_app, local(HEARING - timedelta(days=7), 8))
    assert service.requests == 2  # one each; the 307 was not followed to the lead's phone
    assert len(service.for_device(lead_phone)) == 1 and service.for_device(phone) == []
    with push_app.app_context():
        outcome = db.session.scalar(
            select(PushAttempt.outcome).where(PushAttempt.status_code == 307)
        )
    assert outcome == "failed"


@pytest.mark.parametrize(
    ("endpoint", "services", "allowed"),
    [
        ("https://web.push.apple.com/QGk1", "https://*.push.apple.com", True),
        ("https://127.0.0.1\\.push.apple.com/x", "https://*.push.apple.com", False),
        ("https://user@a.push.apple.com/x", "https://*.push.apple.com", False),
        ("https://a.push.apple.com@127.0.0.1/x", "https://*.push.apple.com", False),
        ("https://a.push.apple.com%2f@127.0.0.1/x", "https://*.push.apple.com", False),
        ("https://a.push.apple.com /x", "https://*.push.apple.com", False),
        ("https://10.0.0.5/x", "https://*", False),
        ("https://[::1]/x", "https://*", False),
        ("https://intranet/x", "https://*", False),
        ("https://push.example.internal/x", "https://*", False),
        ("https://fcm.googleapis.com/fcm/send/x", "https://*", True),
        ("http://127.0.0.1:8123/push/x", "http://127.0.0.1:*", True),
        ("http://127.0.0.1:8123/push/x", "https://*.push.apple.com", False),
    ],
)
def test_the_push_allow_list_judges_the_address_the_client_connects_to(endpoint, services, allowed):
    from fieldapp.services.push import endpoint_allowed

    assert endpoint_allowed(endpoint, services) is allowed


def test_a_stored_subscription_outside_the_allow_list_is_not_sent_to(push_app, service, team):
    """A subscription stored under an older, laxer rule is checked again when sending."""
    worker, lead, _ = team
    phone = subscribe(push_app, service, worker)
    lead_phone = subscribe(push_app, service, lead)
    push_app.config["PUSH_SERVICES"] = f"{service.origin}/nothing-matches,https://*.push.apple.com"
    send(push_app, local(HEARING - timedelta(days=7), 8))
    assert service.requests == 0 and service.for_device(lead_phone) == []
    with push_app.app_context():
        assert db.session.scalars(select(PushSubscription.endpoint)).all() == []
    assert phone.token not in service.redirect_to


def test_a_retry_after_that_is_no_number_is_taken_as_absent():
    """ "²".isdigit() is true and float("²") raises: a push service's odd header must not
    break the sender."""
    from fieldapp.services.push import _retry_after

    assert [_retry_after(v) for v in ("120", " 7 ", "²", "1e3", "", None)] == [
        120.0, 7.0, None, None, None, None,
    ]  # fmt: skip


def test_a_hearings_reminder_says_its_hour_and_court_never_the_tenants_address(
    push_app, service, team
):
    """The court and the hour are nobody's personal data; a court field that names the
    tenant's street (or a part of their name) is left off the lock screen, and an eviction's
    place (the home itself) never goes."""
    from datetime import time

    worker, _, case_id = team
    with push_app.app_context():
        step = db.session.scalar(select(LegalStep).where(LegalStep.kind == "hearing"))
        step.at_time, step.place = time(10, 0), "Fogedretten i Helsingør, Kongevejen 2"
        step_id = step.id
        db.session.commit()
    phone = subscribe(push_app, service, worker)
    danish = subscribe(push_app, service, worker, language="da")

    send(push_app, local(HEARING - timedelta(days=2), 8))
    assert service.for_device(phone)[0].payload["body"] == (
        f"Case {case_id} · at 10:00 · Fogedretten i Helsingør, Kongevejen 2"
    )
    assert service.for_device(danish)[0].payload["body"] == (
        f"Sag {case_id} · kl. 10.00 · Fogedretten i Helsingør, Kongevejen 2"
    )

    with push_app.app_context():
        step = db.session.get(LegalStep, step_id)
        step.place = "Hos lejer, Stengade 12, 3000"  # the team's fixture household's street
        db.session.commit()
    send(push_app, local(HEARING - timedelta(days=1), 8))
    assert service.for_device(phone)[1].payload["body"] == f"Case {case_id} · at 10:00"
    with push_app.app_context():
        step = db.session.get(LegalStep, step_id)
        step.kind, step.place = "eviction_scheduled", "Fogedretten i Helsingør"
        db.session.commit()
    send(push_app, local(HEARING - timedelta(days=1), 8, 10))
    eviction = [d for d in service.for_device(phone) if d.topic.endswith("-eviction")]
    assert [d.payload["body"] for d in eviction] == [f"Case {case_id} · at 10:00"]
