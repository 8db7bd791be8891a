"""The sync endpoint: each outbox record applied at most once and answered on its own."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import Case, CaseConflict, Consent, Need, Visit
from fieldapp.services.fieldwork import ensure_consent_texts

HEADERS = {"X-Doorstep-Sync": "1", "Origin": "http://localhost"}
SIGNATURE = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture
def worker(make_user, auth):
    user = make_user("worker", team="Team A")
    auth.login(user.email)
    return user


@pytest.fixture
def case_id(app, make_case, worker):
    with app.app_context():
        ensure_consent_texts(db.session)
        db.session.commit()
    return make_case(worker_id=worker.id)


def visit(case_id, **data):
    return {
        "uuid": str(uuid.uuid4()),
        "type": "visit",
        "case_id": case_id,
        "recorded_at": "2026-11-20T10:15:00+01:00",
        "data": {"channel": "door", "result": "met", "notes": "", **data},
    }


def send(client, *records, headers=HEADERS):
    return client.post("/sync", json={"records": list(records)}, headers=headers)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_records_are_applied_once_however_often_they_come(app, auth, case_id):
    record = visit(case_id)
    answers = [send(auth.client, record).get_json()["results"][0]["status"] for _ in range(10)]
    assert answers == ["applied"] + ["duplicate"] * 9
    assert count(app, Visit) == 1
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.status == "in_contact" and case.last_contact_at is not None


def test_each_record_gets_its_own_answer(app, auth, case_id):
    good = visit(case_id)
    bad = visit(case_id, result="exploded")
    response = send(auth.client, good, bad, {"uuid": "not-a-uuid"})
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected"]
    assert results[1]["field"] == "result" and "exploded" in results[1]["message"]
    assert results[2]["field"] == "uuid"
    assert count(app, Visit) == 1


def test_consent_needs_and_their_checks(app, auth, case_id):
    with app.app_context():
        from fieldapp.services.fieldwork import current_consent_texts

        text_id = current_consent_texts(db.session)["da"].id
    consent = {
        "uuid": str(uuid.uuid4()),
        "type": "consent",
        "case_id": case_id,
        "data": {
            "state": "given",
            "scopes": ["debt_counselling", "nav"],
            "method": "signature",
            "language": "da",
            "text_id": text_id,
            "signature": SIGNATURE,
        },
    }
    unsigned = {**consent, "uuid": str(uuid.uuid4()), "data": {**consent["data"], "signature": ""}}
    needs = [
        {"uuid": str(uuid.uuid4()), "type": "need", "case_id": case_id, "data": {"need": need}}
        for need in ("debt_counselling", "budget")
    ]
    results = send(auth.client, consent, unsigned, *needs).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied", "applied"]
    assert results[1]["field"] == "signature"
    assert count(app, Consent) == 1 and count(app, Need) == 2


def test_sync_needs_the_header_and_our_origin_but_no_csrf_token(app, auth, case_id):
    assert send(auth.client, visit(case_id), headers={}).status_code == 403
    evil = {"X-Doorstep-Sync": "1", "Origin": "https://evil.example"}
    assert send(auth.client, visit(case_id), headers=evil).status_code == 403
    assert send(auth.client, visit(case_id)).status_code == 200
    assert count(app, Visit) == 1


def test_expired_session_gets_401_and_nothing_is_applied(app, case_id):
    response = send(app.test_client(), visit(case_id))
    assert response.status_code == 401 and response.get_json()["error"] == "login_required"
    assert count(app, Visit) == 0


def test_a_worker_of_another_team_cannot_record(app, make_user, make_case, auth):
    outsider = make_user("worker", team="Team B")
    auth.login(outsider.email)
    case = make_case(team="Team A")
    result = send(auth.client, visit(case)).get_json()["results"][0]
    assert result["status"] == "rejected" and result["field"] == "case_id"


def test_stale_edit_becomes_a_conflict_for_the_lead(app, auth, case_id, make_user):
    def edit(phone):
        return {
            "uuid": str(uuid.uuid4()),
            "type": "case_edit",
            "case_id": case_id,
            "data": {"base_version": 1, "changes": {"phone": phone}},
        }

    first = send(auth.client, edit("+45 11 11 11 11")).get_json()["results"][0]
    second = send(auth.client, edit("+45 22 22 22 22")).get_json()["results"][0]
    assert (first["status"], second["status"]) == ("applied", "conflict")
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.tenancy.household.phone == "+4511111111" and case.version == 2
        conflict = db.session.scalars(select(CaseConflict)).one()
        assert conflict.proposed == {"phone": "+4522222222"}
        assert conflict.current == {"phone": "+4511111111"}


def test_bad_payloads_get_400_not_500(auth, case_id):
    assert auth.client.post("/sync", data="nonsense", headers=HEADERS).status_code == 400
    assert send(auth.client, *[visit(case_id)] * 51).status_code == 400
    assert auth.client.post("/sync", json={"records": "x"}, headers=HEADERS).status_code == 400


def test_case_card_shows_the_forms_and_is_audited(auth, case_id):
    html = auth.client.get(f"/field/cases/{case_id}").get_data(as_text=True)
    for form in ("visit-form", "consent-form", "needs-form", "action-form", "contact-form"):
        assert f'id="{form}"' in html
    assert 'data-text-for="da"' in html


def test_lead_sees_and_resolves_the_conflict(app, auth, case_id, make_user):
    from tests.support import AuthActions

    def edit(phone):
        return {
            "uuid": str(uuid.uuid4()),
            "type": "case_edit",
            "case_id": case_id,
            "data": {"base_version": 1, "changes": {"phone": phone}},
        }

    send(auth.client, edit("+4511111111"))
    send(auth.client, edit("+4522222222"))
    lead = AuthActions(app.test_client())
    lead.login(make_user("lead", team="Team A").email)
    page = lead.client.get("/dashboard").get_data(as_text=True)
    assert "Conflicting edits to resolve" in page and "+4522222222" in page
    with app.app_context():
        conflict_id = db.session.scalars(select(CaseConflict.id)).one()
    response = lead.post(f"/conflicts/{conflict_id}", {"accept": "1"}, page="/dashboard")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Case, case_id).tenancy.household.phone == "+4522222222"
        assert db.session.get(CaseConflict, conflict_id).resolution == "accepted"
    assert "Conflicting edits" not in lead.client.get("/dashboard").get_data(as_text=True)


def test_admin_publishes_a_new_consent_text_version_and_keeps_the_old(app, make_user):
    from fieldapp.models import ConsentText
    from tests.support import AuthActions

    with app.app_context():
        ensure_consent_texts(db.session)
        db.session.commit()
    admin = AuthActions(app.test_client())
    admin.login(make_user("admin").email)
    too_short = admin.post("/admin/consent-texts", {"language": "da", "body": "Ja."})
    assert too_short.status_code == 422 and "too short" in too_short.get_data(as_text=True)
    body = "Jeg giver samtykke til deling af oplysninger med de afkrydsede parter (ny version)."
    assert admin.post("/admin/consent-texts", {"language": "da", "body": body}).status_code == 303
    with app.app_context():
        versions = db.session.execute(
            select(ConsentText.version, ConsentText.body)
            .where(ConsentText.language == "da")
            .order_by(ConsentText.version)
        ).all()
    assert [v for v, _ in versions] == [1, 2] and versions[1][1] == body
    assert "(current)" in admin.client.get("/admin/consent-texts").get_data(as_text=True)


def test_lead_case_page_shows_field_records_newest_first(app, auth, case_id, make_user):
    from tests.support import AuthActions

    first = visit(case_id, result="not_home")
    first["recorded_at"] = "2026-11-18T09:00:00+01:00"
    second = visit(case_id, notes="Agreed to see debt counselling")
    need = {
        "uuid": str(uuid.uuid4()),
        "type": "need",
        "case_id": case_id,
        "recorded_at": "2026-11-20T10:30:00+01:00",
        "data": {"need": "budget"},
    }
    send(auth.client, first, second, need)
    lead = AuthActions(app.test_client())
    lead.login(make_user("lead", team="Team A").email)
    html = lead.client.get(f"/cases/{case_id}").get_data(as_text=True)
    timeline = html.split('id="timeline"', 1)[1]
    assert (
        timeline.index("Budget") < timeline.index("Met the tenant") < timeline.index("Not at home")
    )
    assert "Agreed to see debt counselling" in timeline


def test_action_status_updates_latest_wins_and_history_is_kept(app, auth, case_id):
    from fieldapp.models import Action, ActionUpdate

    action = {
        "uuid": str(uuid.uuid4()),
        "type": "action",
        "case_id": case_id,
        "recorded_at": "2026-11-20T10:00:00+01:00",
        "data": {
            "description": "Book debt counselling",
            "owner": "worker",
            "need": "debt_counselling",
            "due_on": "2026-12-01",
        },
    }
    assert send(auth.client, action).get_json()["results"][0]["status"] == "applied"
    with app.app_context():
        action_id = db.session.scalars(select(Action.id)).one()

    def update(status, at):
        return {
            "uuid": str(uuid.uuid4()),
            "type": "action_status",
            "case_id": case_id,
            "recorded_at": at,
            "data": {"action_id": action_id, "status": status},
        }

    late_done = update("done", "2026-11-22T12:00:00+01:00")
    early_progress = update("in_progress", "2026-11-21T12:00:00+01:00")  # delivered later
    wrong = {
        **update("done", "2026-11-22T12:00:00+01:00"),
        "data": {"action_id": 99999, "status": "done"},
    }
    results = send(auth.client, late_done, early_progress, wrong).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "applied", "rejected"]
    assert results[2]["field"] == "action_id"
    with app.app_context():
        assert db.session.get(Action, action_id).status == "done"
        assert count(app, ActionUpdate) == 2


def test_a_record_of_another_user_is_not_taken_under_this_login(app, auth, case_id, worker):
    record = {**visit(case_id), "user": worker.id + 1000}
    result = send(auth.client, record).get_json()["results"][0]
    assert (result["status"], result["field"]) == ("rejected", "user")
    assert send(auth.client, {**visit(case_id), "user": worker.id}).status_code == 200
    assert count(app, Visit) == 1


@pytest.mark.parametrize(
    "hostile",
    [
        {"data": {"channel": "door", "result": "met", "notes": "null\x00byte"}},
        {"recorded_at": "0001-01-01T00:00:00+05:00"},
        {"case_id": 2**70},
        {"case_id": True},
        {"data": {"channel": "door", "result": "met", "follow_up_on": "9999-99-99"}},
    ],
)
def test_hostile_values_are_refused_or_cleaned_and_the_rest_goes_through(
    app, auth, case_id, hostile
):
    bad = {**visit(case_id), **hostile}
    good = visit(case_id)
    response = send(auth.client, bad, good)
    assert response.status_code == 200
    statuses = [r["status"] for r in response.get_json()["results"]]
    assert statuses[1] == "applied" and statuses[0] in ("applied", "rejected")
    with app.app_context():
        assert all("\x00" not in v.notes for v in db.session.scalars(select(Visit)))


# SQLite lets one writer in at a time, so the race is run on PostgreSQL only.
@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_edits_at_the_same_moment_make_one_change_and_one_conflict(app, case_id, worker):
    import threading

    from tests.support import AuthActions

    clients = []
    for _ in range(2):
        phone = AuthActions(app.test_client())
        phone.login(worker.email)
        clients.append(phone.client)
    barrier = threading.Barrier(2)
    answers: list[str] = []

    def edit(client, phone_number):
        record = {
            "uuid": str(uuid.uuid4()),
            "type": "case_edit",
            "case_id": case_id,
            "data": {"base_version": 1, "changes": {"phone": phone_number}},
        }
        barrier.wait()
        answers.append(send(client, record).get_json()["results"][0]["status"])

    threads = [
        threading.Thread(target=edit, args=(c, n))
        for c, n in zip(clients, ("+4511111111", "+4522222222"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["applied", "conflict"]
    with app.app_context():
        assert db.session.get(Case, case_id).version == 2
        assert count(app, CaseConflict) == 1


def test_one_edit_sent_twice_at_once_is_a_duplicate_not_a_conflict(app, case_id, worker):
    # The page and the service worker (or two tabs) send the same record at the same moment:
    # the second request looked for the UUID before the first had committed (prefetch found
    # nothing), then lost the compare-and-set to that same record. Found by the three-engine
    # offline round, where it made a false conflict for the lead.
    from fieldapp.models import User
    from fieldapp.services.sync import apply_record

    record = {
        "uuid": str(uuid.uuid4()),
        "type": "case_edit",
        "case_id": case_id,
        "data": {"base_version": 1, "changes": {"phone": "+4511111111"}},
    }
    with app.app_context():
        first = apply_record(db.session, db.session.get(User, worker.id), record)
        db.session.commit()
        second = apply_record(db.session, db.session.get(User, worker.id), record, known=set())
        db.session.commit()
    assert (first.status, second.status) == ("applied", "duplicate")
    assert count(app, CaseConflict) == 0


def test_sync_behind_a_proxy_checks_the_configured_public_origin(app, auth, case_id):
    app.config["PUBLIC_ORIGIN"] = "https://doorstep.example.dk"
    ours = {"X-Doorstep-Sync": "1", "Origin": "https://doorstep.example.dk"}
    plain = {"X-Doorstep-Sync": "1", "Origin": "http://doorstep.example.dk"}
    assert send(auth.client, visit(case_id), headers=plain).status_code == 403
    assert send(auth.client, visit(case_id), headers=ours).status_code == 200
