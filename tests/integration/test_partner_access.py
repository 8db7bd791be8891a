"""A partner person's pages (issue 21, section 1): the consented cases of their team, one case
with only their actions and decisions, their updates that the worker and the lead then see,
their meetings, their reminders; and a consent withdrawn (through the phone's /sync) or given
for other partners only ends all of it at once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import (
    Action,
    ActionUpdate,
    AuditEvent,
    Case,
    Consent,
    Need,
    Partner,
    PushDelivery,
    User,
    Visit,
)
from fieldapp.services.fieldwork import current_consent_texts, ensure_consent_texts
from fieldapp.services.meetings import add_to_agenda, create_meeting, record_decision
from tests.integration.test_access_matrix import give_consent
from tests.integration.test_push import local, push_app, send, service, subscribe  # noqa: F401
from tests.support import AuthActions

SYNC = {"X-Doorstep-Sync": "1", "Origin": "http://localhost"}
HEARING = date.today() + timedelta(days=20)
DEBT = "Gældsrådgivningen"


def add_action(app, case_id: int, worker_id: int, partner: str | None, text: str, **fields):
    with app.app_context():
        partner_id = (
            db.session.scalar(select(Partner.id).where(Partner.name == partner))
            if partner
            else None
        )
        action = Action(
            client_uuid=str(uuid.uuid4()), case_id=case_id, worker_id=worker_id,
            description=text, owner="partner" if partner else "tenant", partner_id=partner_id,
            recorded_at=datetime.now(UTC), **fields,
        )  # fmt: skip
        db.session.add(action)
        db.session.commit()
        return action.id


@pytest.fixture
def town(app, make_user, make_case):
    """Team A's worker and lead; the debt counselling partner's person in team A, the same
    partner's person in team B, a NAV person in team A; the shared case (consent for debt
    counselling) with an action for each partner, a visit note and a need note."""
    with app.app_context():
        ensure_consent_texts(db.session)
        db.session.commit()
    worker = make_user("worker", team="Team A", name="Mette Holm")
    people = {
        "worker": worker,
        "lead": make_user("lead", team="Team A"),
        "partner": make_user("partner", team="Team A", partner=DEBT, name="Pia Rådgiver"),
        "other_team": make_user("partner", team="Team B", partner=DEBT),
        "other_kind": make_user("partner", team="Team A", partner="NAV Øst", partner_kind="nav"),
    }
    case_id = make_case(
        name="Lars Bakken", address="Stengade 12", worker_id=worker.id, team="Team A",
        steps=[("hearing", HEARING)],
    )  # fmt: skip
    with app.app_context():
        db.session.get(Case, case_id).tenancy.household.phone = "+4512345678"
        db.session.add(
            Visit(
                client_uuid=str(uuid.uuid4()), case_id=case_id, worker_id=worker.id,
                channel="door", result="met", notes="Secret visit note",
                occurred_at=datetime.now(UTC),
            )
        )  # fmt: skip
        db.session.add(
            Need(
                client_uuid=str(uuid.uuid4()), case_id=case_id, worker_id=worker.id,
                need="mental_health", note="Secret need note", recorded_at=datetime.now(UTC),
            )
        )  # fmt: skip
        db.session.commit()
    give_consent(app, case_id, worker.id, ["debt_counselling"])
    ours = add_action(app, case_id, worker.id, DEBT, "Budget med gældsrådgiver", due_on=HEARING)
    theirs = add_action(app, case_id, worker.id, "NAV Øst", "Ansøgning om bostøtte")
    return people, case_id, ours, theirs


def login(app, user: User) -> AuthActions:
    auth = AuthActions(app.test_client())
    assert auth.login(user.email).status_code in (302, 303)
    return auth


def update(auth: AuthActions, case_id: int, action_id: int, headers=None, **fields):
    page = f"/partner/cases/{case_id}"
    data = {"status": "in_progress", "note": "", "due_on": "", **fields}
    return auth.post(f"{page}/actions/{action_id}", data, page=page, headers=headers or {})


def audit_lines(app, user: User, object_type: str) -> list[tuple[str, str]]:
    with app.app_context():
        return db.session.execute(
            select(AuditEvent.action, AuditEvent.object_id).where(
                AuditEvent.user_id == user.id, AuditEvent.object_type == object_type
            )
        ).all()


def sync_consent(app, worker: User, case_id: int, state: str, scopes: list[str]):
    """The worker's phone sends a consent record through /sync, as the outbox does."""
    with app.app_context():
        text_id = current_consent_texts(db.session)["da"].id
    record = {
        "uuid": str(uuid.uuid4()), "type": "consent", "case_id": case_id,
        "data": {"state": state, "scopes": scopes, "method": "paper", "language": "da",
                 "text_id": text_id},
    }  # fmt: skip
    answer = login(app, worker).client.post("/sync", json={"records": [record]}, headers=SYNC)
    assert answer.get_json()["results"][0]["status"] == "applied", answer.get_json()


# --- the list and the case page -----------------------------------------------------------------


def test_the_list_shows_the_consented_open_cases_with_contact_date_and_open_actions(
    app, town, make_case
):
    people, case_id, _ours, _theirs = town
    worker = people["worker"]
    unshared = make_case(name="Ida Uden", worker_id=worker.id, team="Team A")
    closed = make_case(name="Ole Lukket", worker_id=worker.id, team="Team A", status="closed")
    give_consent(app, closed, worker.id, ["debt_counselling"])
    elsewhere = make_case(name="Bo Andetsted", team="Team B")
    give_consent(app, elsewhere, worker.id, ["debt_counselling"])
    page = login(app, people["partner"]).client.get("/partner/").get_data(as_text=True)
    assert "Lars Bakken" in page and "Stengade 12" in page
    assert 'href="tel:+4512345678"' in page
    assert f"/partner/cases/{case_id}" in page
    assert "1 open action for you" in page
    assert HEARING.strftime("%Y") in page  # the next legal date, with its kind's word
    for name in ("Ida Uden", "Ole Lukket", "Bo Andetsted"):
        assert name not in page
    assert unshared and audit_lines(app, people["partner"], "partner_cases")


def test_the_case_page_shows_their_actions_and_never_notes_needs_or_other_partners(app, town):
    people, case_id, _ours, _theirs = town
    response = login(app, people["partner"]).client.get(f"/partner/cases/{case_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Lars Bakken" in page and "Budget med gældsrådgiver" in page
    assert "agreed to share this case with Gældsrådgivningen" in page
    for secret in ("Secret visit note", "Secret need note", "Ansøgning om bostøtte", "NAV Øst"):
        assert secret not in page, secret
    assert ("read", str(case_id)) in audit_lines(app, people["partner"], "case")


@pytest.mark.parametrize("who", ["other_team", "other_kind", "worker"])
def test_someone_the_case_is_not_shared_with_gets_no_hint_of_it(app, town, who):
    people, case_id, ours, _theirs = town
    auth = login(app, people[who])
    expected = 403 if who == "worker" else 404
    assert auth.client.get(f"/partner/cases/{case_id}").status_code == expected
    assert update(auth, case_id, ours, status="done").status_code == expected
    if who != "worker":
        assert "Lars Bakken" not in auth.client.get("/partner/").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ActionUpdate)) == 0


@pytest.mark.parametrize("state", ["declined", "no consent", "closed"])
def test_a_case_without_a_current_consent_or_closed_is_absent(app, town, make_case, state):
    people, _case_id, _ours, _theirs = town
    worker = people["worker"]
    other = make_case(name="Eva Anden", worker_id=worker.id, team="Team A",
                      status="closed" if state == "closed" else "new")  # fmt: skip
    if state != "no consent":
        give_consent(app, other, worker.id, ["debt_counselling"])
    if state == "declined":
        sync_consent(app, worker, other, "declined", [])
    action = add_action(app, other, worker.id, DEBT, "Rådgivning")
    auth = login(app, people["partner"])
    assert auth.client.get(f"/partner/cases/{other}").status_code == 404
    assert update(auth, other, action, status="done").status_code == 404


def test_an_action_of_another_partner_on_the_shared_case_cannot_be_updated(app, town):
    people, case_id, _ours, theirs = town
    auth = login(app, people["partner"])
    assert update(auth, case_id, theirs, status="done").status_code == 404
    with app.app_context():
        assert db.session.get(Action, theirs).status == "agreed"


# --- updates: the worker and the lead see them ------------------------------------------------


def test_an_update_is_stored_and_the_worker_and_the_lead_see_it(app, town):
    people, case_id, ours, _theirs = town
    auth = login(app, people["partner"])
    new_due = date.today() + timedelta(days=30)
    answer = update(auth, case_id, ours, status="in_progress", note="Første møde holdt",
                    due_on=new_due.isoformat())  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/partner/cases/{case_id}#action-{ours}")
    with app.app_context():
        action = db.session.get(Action, ours)
        row = db.session.scalar(select(ActionUpdate).where(ActionUpdate.action_id == ours))
        assert (action.status, action.due_on) == ("in_progress", new_due)
        assert (row.worker_id, row.note, row.due_on) == (
            people["partner"].id,
            "Første møde holdt",
            new_due,
        )
    assert ("update", str(ours)) in audit_lines(app, people["partner"], "action")
    card = login(app, people["worker"]).client.get(f"/field/cases/{case_id}").get_data(as_text=True)
    assert "Updated by Gældsrådgivningen" in card and "Første møde holdt" in card
    lead_page = login(app, people["lead"]).client.get(f"/cases/{case_id}").get_data(as_text=True)
    state = lead_page.split('id="state-actions"')[1].split("</dd>")[0]
    assert "Updated by Gældsrådgivningen" in state and "Første møde holdt" in state
    assert "Action updated by the partner" in lead_page  # the history has it too


def test_an_action_done_leaves_the_open_count_and_shows_in_the_leads_history(app, town):
    people, case_id, ours, _theirs = town
    auth = login(app, people["partner"])
    assert update(auth, case_id, ours, status="done", note="Budget lagt").status_code == 303
    assert "0 open actions for you" in auth.client.get("/partner/").get_data(as_text=True)
    lead_page = login(app, people["lead"]).client.get(f"/cases/{case_id}").get_data(as_text=True)
    history = lead_page.split('id="timeline"')[1]
    assert "Budget lagt" in history and "Gældsrådgivningen" in history


def test_htmx_swaps_the_action_in_place(app, town):
    people, case_id, ours, _theirs = town
    auth = login(app, people["partner"])
    answer = update(auth, case_id, ours, headers={"HX-Request": "true"}, note="Ringet op")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<html" not in html
    assert f'id="action-{ours}"' in html and 'role="status"' in html and "Ringet op" in html


def test_a_double_submit_with_the_same_form_is_stored_once(app, town):
    people, case_id, ours, _theirs = town
    auth = login(app, people["partner"])
    form_id = str(uuid.uuid4())
    for _ in range(2):
        assert update(auth, case_id, ours, note="Én gang", client_uuid=form_id).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ActionUpdate)) == 1


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"status": "exploded"}, "Status: exploded"),
        ({"note": "x" * 501}, "Note: 501"),
        ({"due_on": "2026-02-31"}, "New due date: 2026-02-31"),
        ({"due_on": "31-12-2026"}, "New due date: 31-12-2026"),
        ({"due_on": (date.today() + timedelta(days=800)).isoformat()}, "New due date:"),
        ({"due_on": (date.today() - timedelta(days=400)).isoformat()}, "New due date:"),
    ],
)
def test_bad_input_is_named_and_nothing_is_stored(app, town, fields, named):
    people, case_id, ours, _theirs = town
    auth = login(app, people["partner"])
    answer = update(auth, case_id, ours, **{"status": "done", "note": "ok", **fields})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert named in page and 'role="alert"' in page
    htmx = update(
        auth, case_id, ours, headers={"HX-Request": "true"}, **{"status": "done", **fields}
    )
    assert named in htmx.get_data(as_text=True) and 'role="alert"' in htmx.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ActionUpdate)) == 0
        assert db.session.get(Action, ours).status == "agreed"


# --- a consent withdrawn or narrowed ends access at once ---------------------------------------


@pytest.mark.parametrize(("state", "scopes"), [("withdrawn", []), ("given", ["nav"])])
def test_a_consent_withdrawn_or_given_to_others_only_ends_access_at_once(app, town, state, scopes):
    people, case_id, ours, _theirs = town
    auth = login(app, people["partner"])
    assert auth.client.get(f"/partner/cases/{case_id}").status_code == 200
    sync_consent(app, people["worker"], case_id, state, scopes)
    assert "Lars Bakken" not in auth.client.get("/partner/").get_data(as_text=True)
    assert auth.client.get(f"/partner/cases/{case_id}").status_code == 404
    answer = auth.client.post(
        f"/partner/cases/{case_id}/actions/{ours}",
        data={"status": "done", "csrf_token": auth.csrf("/partner/")},
    )
    assert answer.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ActionUpdate)) == 0


# --- meetings -------------------------------------------------------------------------------------


def test_meetings_with_the_partner_at_the_table_show_their_decisions_only(app, town, make_case):
    people, case_id, _ours, _theirs = town
    worker, lead = people["worker"], people["lead"]
    nav_case = make_case(name="Nina Navsag", worker_id=worker.id, team="Team A")
    give_consent(app, nav_case, worker.id, ["debt_counselling", "nav"])
    hidden = make_case(name="Hans Skjult", worker_id=worker.id, team="Team A")
    with app.app_context():
        s = db.session
        debt = s.scalar(select(Partner).where(Partner.name == DEBT))
        nav = s.scalar(select(Partner).where(Partner.name == "NAV Øst"))
        boss = s.get(User, lead.id)
        at_table = create_meeting(s, boss.team_id, date.today(), boss, "Fællesmøde",
                                  [debt.id, nav.id], agenda_size=0)  # fmt: skip
        for one, partner, text in ((case_id, debt, "Gældsplan lægges"),
                                   (nav_case, nav, "NAV vurderer bostøtte"),
                                   (hidden, None, "")):  # fmt: skip
            item, _added = add_to_agenda(s, at_table, s.get(Case, one))
            if partner is not None:
                record_decision(s, item, boss, text, partner.id, "", None)
        away = create_meeting(s, boss.team_id, date.today(), boss, "Uden rådgiver", [nav.id],
                              agenda_size=0)  # fmt: skip
        s.commit()
        at_table_id, away_id = at_table.id, away.id
    auth = login(app, people["partner"])
    listing = auth.client.get("/partner/meetings").get_data(as_text=True)
    assert f"/partner/meetings/{at_table_id}" in listing and "Uden rådgiver" not in listing
    page = auth.client.get(f"/partner/meetings/{at_table_id}").get_data(as_text=True)
    assert "Gældsplan lægges" in page and "Lars Bakken" in page
    assert "NAV vurderer bostøtte" not in page  # another partner's decision
    assert "Hans Skjult" not in page and "Discussed without you" in page
    assert auth.client.get(f"/partner/meetings/{away_id}").status_code == 404
    other = login(app, people["other_team"])
    assert other.client.get(f"/partner/meetings/{at_table_id}").status_code == 404
    assert ("read", str(at_table_id)) in audit_lines(app, people["partner"], "meeting")
    case_page = auth.client.get(f"/partner/cases/{case_id}").get_data(as_text=True)
    assert "Gældsplan lægges" in case_page.split('id="partner-decisions"')[1]


# --- reminders by push ------------------------------------------------------------------------


def _partner_pushes(service, device):  # noqa: F811
    return [d for d in service.for_device(device) if d.topic.endswith("-action")]


DUE = date(2026, 12, 4)


def due_on_the_partners_phone(app, push, town):
    """The partner's action due on DUE, and the partner's phone subscribed."""
    people, case_id, ours, _theirs = town
    with app.app_context():
        db.session.get(Action, ours).due_on = DUE
        db.session.commit()
    return people, case_id, subscribe(app, push, people["partner"])


def test_a_due_action_reminds_the_partner_the_day_before_and_on_the_day(
    push_app,  # noqa: F811
    service,  # noqa: F811
    town,
):
    people, case_id, phone = due_on_the_partners_phone(push_app, service, town)
    elsewhere = subscribe(push_app, service, people["other_team"])
    send(push_app, local(DUE - timedelta(days=2), 9))
    assert _partner_pushes(service, phone) == []
    send(push_app, local(DUE - timedelta(days=1), 9))
    send(push_app, local(DUE - timedelta(days=1), 12))  # a second run sends nothing again
    send(push_app, local(DUE, 9))
    got = [(d.payload["title"], d.payload["url"]) for d in _partner_pushes(service, phone)]
    assert got == [
        ("An action for you is due tomorrow", f"/partner/cases/{case_id}"),
        ("An action for you is due today", f"/partner/cases/{case_id}"),
    ]
    for delivery in _partner_pushes(service, phone):
        text = str(delivery.payload)
        assert "Lars" not in text and "Stengade" not in text and "Budget" not in text
    assert _partner_pushes(service, elsewhere) == []  # the same partner in another team


def test_no_reminder_goes_out_once_the_consent_is_withdrawn(
    push_app,  # noqa: F811
    service,  # noqa: F811
    town,
):
    people, case_id, phone = due_on_the_partners_phone(push_app, service, town)
    sync_consent(push_app, people["worker"], case_id, "withdrawn", [])
    send(push_app, local(DUE, 9))
    assert _partner_pushes(service, phone) == []


def test_a_reminder_queued_before_a_withdrawal_is_cancelled_at_send_time(
    push_app,  # noqa: F811
    service,  # noqa: F811
    town,
):
    """Scheduled while the case was shared, sent after the consent was withdrawn: cancelled."""
    from fieldapp.services.reminders import schedule_reminders

    people, case_id, phone = due_on_the_partners_phone(push_app, service, town)
    with push_app.app_context():
        schedule_reminders(db.session, local(DUE, 9))
        queued = db.session.scalar(select(func.count()).select_from(PushDelivery))
        db.session.remove()
    assert queued == 1
    sync_consent(push_app, people["worker"], case_id, "withdrawn", [])
    send(push_app, local(DUE, 9, 5))
    assert _partner_pushes(service, phone) == []
    with push_app.app_context():
        assert db.session.scalar(select(PushDelivery.state)) == "cancelled"


def test_a_partner_turns_reminders_on_from_the_reminders_page(app, town):
    people, _case_id, _ours, _theirs = town
    client = login(app, people["partner"]).client
    assert 'href="/settings/reminders"' in client.get("/partner/").get_data(as_text=True)
    page = client.get("/settings/reminders").get_data(as_text=True)
    assert 'id="push-on"' in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Consent)) == 1
