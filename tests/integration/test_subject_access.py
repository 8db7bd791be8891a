"""The right of access: a lead exports everything held on a household of their team, as a page
and as JSON with the same content; nothing of other households is in it; it is audited; other
teams' leads and workers cannot."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time

from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Case, Visit
from tests.support import PASSWORD, AuthActions


def logged_in(app, user):
    client = app.test_client()
    assert AuthActions(client).login(user.email, PASSWORD).status_code in (302, 303)
    return client


def test_a_lead_exports_everything_held_on_a_household(app, make_user, make_case):
    worker = make_user("worker", name="Mette Holm")
    lead = make_user("lead")
    case_id = make_case(
        name="Aisha Farah", address="Kongevejen 118", worker_id=worker.id,
        steps=[("petition", date(2026, 10, 1)), ("hearing", date(2026, 12, 10))],
    )  # fmt: skip
    make_case(name="Lars Bakken", address="Stengade 3", worker_id=worker.id)
    with app.app_context():
        db.session.add(
            Visit(
                client_uuid=str(uuid.uuid4()), case_id=case_id, worker_id=worker.id,
                channel="door", result="met", notes="Wants help with the rent from NAV",
                occurred_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
            )
        )  # fmt: skip
        hearing = db.session.get(Case, case_id).legal_steps[1]
        hearing.at_time, hearing.place = time(10, 0), "Fogedretten i Helsingør"
        db.session.commit()
        household_id = db.session.get(Case, case_id).tenancy.household_id
    client = logged_in(app, lead)
    assert f"/households/{household_id}/record" in client.get(f"/cases/{case_id}").get_data(
        as_text=True
    )

    page = client.get(f"/households/{household_id}/record")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for held in ("Aisha Farah", "Kongevejen 118", "Wants help with the rent from NAV", "hearing"):
        assert held in html
    assert "Lars Bakken" not in html and "Stengade 3" not in html

    download = client.get(f"/households/{household_id}/record.json")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    record = json.loads(download.get_data(as_text=True))
    assert record["household"]["name"] == "Aisha Farah"
    (case,) = record["cases"]
    assert case["id"] == case_id and case["worker"] == "Mette Holm"
    assert [v["notes"] for v in case["visits"]] == ["Wants help with the rent from NAV"]
    assert [s["kind"] for s in case["legal_steps"]] == ["petition", "hearing"]
    assert [(s["at_time"], s["place"]) for s in case["legal_steps"]] == [
        (None, ""),
        ("10:00:00", "Fogedretten i Helsingør"),
    ]
    assert "Lars Bakken" not in download.get_data(as_text=True)

    with app.app_context():
        exports = db.session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "export", AuditEvent.object_type == "household"
            )
        ).all()
        assert sorted(exports) == ["html", "json"]


def test_other_teams_and_workers_cannot_export(app, make_user, make_case):
    worker = make_user("worker")
    other_lead = make_user("lead", team="Team B")
    case_id = make_case(worker_id=worker.id)
    with app.app_context():
        household_id = db.session.get(Case, case_id).tenancy.household_id
    assert logged_in(app, other_lead).get(f"/households/{household_id}/record").status_code == 404
    path = f"/households/{household_id}/record.json"
    assert logged_in(app, worker).get(path).status_code == 403
    assert app.test_client().get(path).status_code in (302, 401)
