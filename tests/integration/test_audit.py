"""The audit log: every read of a case is written; a lead searches their team's part of it, the
data protection officer all of it; CSV export; the database refuses to change or delete a
line."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, UserSession
from tests.support import PASSWORD, AuthActions


def logged_in(app, user):
    client = app.test_client()
    assert AuthActions(client).login(user.email, PASSWORD).status_code in (302, 303)
    return client


@pytest.fixture
def teams(app, make_user, make_case):
    people = {
        "worker": make_user("worker", name="Mette Holm"),
        "lead": make_user("lead", name="Lone Lead"),
        "other_lead": make_user("lead", team="Team B", name="Bo Lead"),
        "other_worker": make_user("worker", team="Team B", name="Bent Worker"),
        "dpo": make_user("dpo", name="Dorte DPO"),
    }
    case_a = make_case(worker_id=people["worker"].id)
    case_b = make_case(worker_id=people["other_worker"].id, team="Team B")
    return people, case_a, case_b


def test_every_read_of_a_case_is_written_to_the_log(app, teams):
    people, case_a, _ = teams
    logged_in(app, people["lead"]).get(f"/cases/{case_a}")
    logged_in(app, people["worker"]).get(f"/field/cases/{case_a}")
    with app.app_context():
        reads = db.session.execute(
            select(AuditEvent.user_id, AuditEvent.address).where(
                AuditEvent.action == "view",
                AuditEvent.object_type == "case",
                AuditEvent.object_id == str(case_a),
            )
        ).all()
    assert sorted(user for user, _ in reads) == sorted([people["lead"].id, people["worker"].id])
    assert all(address for _, address in reads)


def test_each_line_says_from_which_device(app, teams):
    people, case_a, _ = teams
    phones = {}
    for agent in ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/156", "Safari/iPhone 17"):
        client = app.test_client()
        client.environ_base["HTTP_USER_AGENT"] = agent
        assert AuthActions(client).login(people["worker"].email).status_code in (302, 303)
        client.get(f"/field/cases/{case_a}")
        phones[agent] = client
    with app.app_context():
        reads = db.session.execute(
            select(AuditEvent.session_id, UserSession.user_agent)
            .join(UserSession, UserSession.id == AuditEvent.session_id)
            .where(AuditEvent.action == "view", AuditEvent.object_id == str(case_a))
        ).all()
        logins = db.session.scalars(
            select(AuditEvent.session_id).where(AuditEvent.action == "login")
        ).all()
    # two devices, two sessions: each read is tied to the phone it came from
    assert sorted(agent for _, agent in reads) == sorted(phones)
    assert len({session for session, _ in reads}) == 2 and None not in logins
    dpo = logged_in(app, people["dpo"])
    page = dpo.get(f"/audit?case={case_a}").get_data(as_text=True)
    for session_id, agent in reads:
        assert f"session {session_id}: {agent}" in page
    rows = list(
        csv.DictReader(io.StringIO(dpo.get(f"/audit.csv?case={case_a}").get_data(as_text=True)))
    )
    assert sorted(row["device"] for row in rows) == sorted(
        f"session {session_id}: {agent}" for session_id, agent in reads
    )


def test_a_lead_searches_their_teams_part_and_the_dpo_all_of_it(app, teams):
    people, case_a, case_b = teams
    logged_in(app, people["lead"]).get(f"/cases/{case_a}")
    logged_in(app, people["other_lead"]).get(f"/cases/{case_b}")

    lead = logged_in(app, people["lead"])
    page = lead.get("/audit?action=view").get_data(as_text=True)
    assert f"case {case_a}" in page and f"case {case_b}" not in page
    assert "Bo Lead" not in page

    dpo = logged_in(app, people["dpo"])
    assert dpo.get("/login").status_code in (200, 302)
    everything = dpo.get("/audit?action=view").get_data(as_text=True)
    assert f"case {case_a}" in everything and f"case {case_b}" in everything
    only_b = dpo.get(f"/audit?case={case_b}").get_data(as_text=True)
    assert f"case {case_b}" in only_b and f"case {case_a}" not in only_b

    bad = dpo.get("/audit?case=abc&from=2026-02-30")
    assert bad.status_code == 400
    assert "case: &#39;abc&#39;" in bad.get_data(as_text=True)

    exported = dpo.get("/audit.csv?action=view")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert {row["object_id"] for row in rows} >= {str(case_a), str(case_b)}
    with app.app_context():
        assert (
            db.session.scalar(select(AuditEvent.detail).where(AuditEvent.object_type == "audit"))
            == f"{len(rows)} events"
        )


def test_workers_and_administrators_cannot_read_the_log(app, teams, make_user):
    people, _, _ = teams
    assert logged_in(app, people["worker"]).get("/audit").status_code == 403
    assert logged_in(app, make_user("admin")).get("/audit.csv").status_code == 403


def test_the_database_refuses_to_change_or_delete_a_line(app, teams):
    people, case_a, _ = teams
    logged_in(app, people["lead"]).get(f"/cases/{case_a}")
    with app.app_context():
        for statement in (
            "UPDATE audit_event SET detail = 'changed'",
            "DELETE FROM audit_event",
        ):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.scalar(select(AuditEvent.id)) is not None


def test_a_dpo_lands_on_the_audit_log(app, teams):
    people, _, _ = teams
    client = app.test_client()
    response = AuthActions(client).login(people["dpo"].email, PASSWORD)
    assert response.headers["Location"].endswith("/audit")


def test_an_administrator_breaks_the_glass_with_a_reason_read_only_and_logged(
    app, teams, make_user
):
    people, case_a, _ = teams
    admin = make_user("admin", name="Ada Admin")
    client = logged_in(app, admin)
    auth = AuthActions(client)
    refused = client.get(f"/cases/{case_a}")
    assert refused.status_code == 403
    assert 'name="reason"' in refused.get_data(as_text=True)
    short = auth.post(f"/cases/{case_a}/break-glass", {"reason": "because"}, page="/admin/users")
    assert short.status_code == 400
    reason = "Complaint 2026-114 from the tenant: check what was recorded"
    opened = auth.post(f"/cases/{case_a}/break-glass", {"reason": reason}, page="/admin/users")
    assert opened.status_code == 303
    page = client.get(f"/cases/{case_a}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert reason in html and "Lars Bakken" in html
    assert f'action="/cases/{case_a}"' not in html  # no forms: read only
    changed = auth.post(f"/cases/{case_a}", {"status": "closed"}, page="/admin/users")
    assert changed.status_code == 403
    with app.app_context():
        lines = db.session.execute(
            select(AuditEvent.action, AuditEvent.detail).where(
                AuditEvent.user_id == admin.id, AuditEvent.object_id == str(case_a)
            )
        ).all()
    assert ("break_glass", reason) in [tuple(line) for line in lines]
    assert "view" in [line.action for line in lines]
    # The grant lasts BREAK_GLASS_MINUTES; at 0 it has run out at once.
    app.config["BREAK_GLASS_MINUTES"] = 0
    assert client.get(f"/cases/{case_a}").status_code == 403


def test_records_of_processing_cover_every_table_and_read_the_live_settings(app, teams):
    from fieldapp.services.processing import ACTIVITIES

    people, _, _ = teams
    covered = [name for activity in ACTIVITIES for name in activity.tables]
    assert len(covered) == len(set(covered)), "a table in two activities"
    assert set(covered) == {t.name for t in db.metadata.sorted_tables}
    with app.app_context():
        from fieldapp.models import Organisation

        db.session.scalar(select(Organisation)).retention_months = 18
        db.session.commit()
    app.config["CONSENT_RETENTION_MONTHS"] = 48
    client = logged_in(app, people["dpo"])
    record = json.loads(client.get("/records-of-processing.json").get_data(as_text=True))
    by_key = {a["activity"]: a for a in record["activities"]}
    assert by_key["register"]["retention"].startswith("anonymised 18 months")
    assert by_key["consent"]["retention"].startswith("kept whole 48 months")
    assert by_key["register"]["tables"]["case_file"] == 2 and record["households_held"] == 2
    assert client.get("/records-of-processing").status_code == 200
    assert logged_in(app, people["lead"]).get("/records-of-processing").status_code == 403


def test_downloads_from_the_log_are_never_cached(app, teams):
    people, _, _ = teams
    dpo = logged_in(app, people["dpo"])
    for path in ("/audit.csv", "/records-of-processing.json"):
        response = dpo.get(path)
        assert (
            response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
        )
        assert response.headers.get("Cache-Control") == "no-store", path


@pytest.fixture
def behind_proxy(app, tmp_path):
    """The same database served behind one trusted proxy hop (FIELDAPP_PROXY_HOPS=1)."""
    from fieldapp import create_app
    from tests.conftest import base_config

    proxied = create_app({**base_config(app.config["DATABASE_URL"], tmp_path), "PROXY_HOPS": 1})
    yield proxied
    with proxied.app_context():
        db.session.remove()
        db.engine.dispose()


def test_only_an_ip_address_is_kept_as_where_an_event_came_from(behind_proxy, teams):
    people, _, _ = teams
    for forwarded in ('=HYPERLINK("http://x")', "203.0.113.9", "2001:db8::7"):
        client = behind_proxy.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded
        assert AuthActions(client).login(people["worker"].email).status_code == 303
    with behind_proxy.app_context():
        addresses = db.session.scalars(
            select(AuditEvent.address).where(AuditEvent.action == "login")
        ).all()
    assert sorted(addresses) == ["2001:db8::7", "203.0.113.9", "invalid"]


def test_no_cell_of_the_csv_reads_as_a_formula(app, teams):
    people, case_a, _ = teams
    with app.app_context():  # as an earlier version stored it, or any text yet to come
        db.session.add(
            AuditEvent(
                user_id=people["lead"].id,
                action="view",
                object_type="+case",
                object_id=str(case_a),
                address='=HYPERLINK("http://x")',
                detail="@SUM(1)",
            )
        )
        db.session.commit()
    exported = logged_in(app, people["dpo"]).get("/audit.csv?action=view")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))[1:]
    assert rows
    for row in rows:
        assert not [cell for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")], row
    assert '\'=HYPERLINK("http://x")' in [row[7] for row in rows]
