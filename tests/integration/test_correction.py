"""Correction of a household's details by the team's lead (GDPR Art. 16): checked, named when
wrong, written to the case history and the audit log without the values, and an offline edit
made on the old details becomes a conflict instead of undoing the correction."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Case, CaseConflict, CaseEvent, Household
from tests.support import AuthActions

FORM = {
    "name": "Aisha  Ahmed ",
    "address": "Nørregade 12, 2. th",
    "postcode": "3000",
    "town": "Helsingør",
    "phone": "+45 40 40 40 40",
    "language": "ar",
    "adults": "2",
    "children": "3",
    "needs_interpreter": "1",
}


def household_of(app, case_id: int) -> dict:
    with app.app_context():
        household = db.session.get(Case, case_id).tenancy.household
        return {
            column: getattr(household, column)
            for column in Household.__table__.columns.keys()
            if column != "created_at"
        }


def logged_in(app, user) -> AuthActions:
    client = AuthActions(app.test_client())
    client.login(user.email)
    return client


def test_the_lead_corrects_the_household_and_the_history_names_the_fields(
    app, make_user, make_case
):
    lead = make_user("lead", team="Team A")
    case = make_case(team="Team A", name="Aisha Ahmad", address="Norregade 12", children=1)
    with app.app_context():
        household = db.session.get(Case, case).tenancy.household
        household.lat, household.lon, household.geo_source = 56.03, 12.61, "nominatim"
        household.phone = "12345678"
        version = db.session.get(Case, case).version
        db.session.commit()
    client = logged_in(app, lead)
    answer = client.post(f"/cases/{case}/household", FORM, page=f"/cases/{case}")
    assert answer.status_code == 303
    after = household_of(app, case)
    assert after["name"] == "Aisha Ahmed" and after["address"] == "Nørregade 12, 2. th"
    assert (after["phone"], after["children"], after["adults"]) == ("+4540404040", 3, 2)
    assert after["language"] == "ar" and after["needs_interpreter"] is True
    assert after["lat"] is None and after["geo_source"] == ""  # geocoded again
    assert "nørregade" in after["address_key"].lower() and after["name_key"] != ""
    with app.app_context():
        assert db.session.get(Case, case).version == version + 1
        event = db.session.scalars(select(CaseEvent).where(CaseEvent.kind == "corrected")).one()
        assert set(event.detail["fields"]) >= {"name", "address", "phone", "children"}
        audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "correct")).one()
        assert audit.object_id == str(after["id"])
        # the audit line names the fields, never the old or new values
        assert "Aisha" not in audit.detail and "4040" not in audit.detail
        assert "name" in audit.detail
    page = client.client.get(f"/cases/{case}").get_data(as_text=True)
    assert "Corrected: Name, Address" in page and "details corrected</strong>" in page
    # the same form again changes nothing and writes nothing
    assert client.post(f"/cases/{case}/household", FORM, page=f"/cases/{case}").status_code == 303
    with app.app_context():
        assert (
            len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "correct")).all())
            == 1
        )


def test_a_wrong_value_is_named_and_nothing_is_changed(app, make_user, make_case):
    lead = make_user("lead", team="Team A")
    case = make_case(team="Team A", name="Ole Olsen")
    before = household_of(app, case)
    client = logged_in(app, lead)
    for field, value, words in (
        ("children", "x", "Children: 'x'"),
        ("adults", "0", "Adults: '0'"),
        ("name", "   ", "Name: must not be empty"),
        ("language", "dansk", "Language: 'dansk'"),
        ("postcode", "1" * 11, "Postcode: at most 10"),
        ("children", "²", "Children: '²'"),
        ("adults", "9" * 5000, "Adults: '99999999999999999999'"),
    ):
        answer = client.post(
            f"/cases/{case}/household", {**FORM, field: value}, page=f"/cases/{case}"
        )
        assert answer.status_code == 400, field
        assert words in answer.get_data(as_text=True).replace("&#39;", "'"), field
        assert household_of(app, case) == before, field
    with app.app_context():
        assert not db.session.scalars(select(CaseEvent).where(CaseEvent.kind == "corrected")).all()


def test_only_the_teams_lead_corrects(app, make_user, make_case):
    worker = make_user("worker", team="Team A")
    other_lead = make_user("lead", team="Team B")
    case = make_case(worker_id=worker.id, team="Team A")
    before = household_of(app, case)
    for person in (worker, other_lead):
        client = logged_in(app, person)
        token_page = "/today" if person is worker else "/dashboard"
        answer = client.post(f"/cases/{case}/household", FORM, page=token_page)
        assert answer.status_code == 403, person.email
    assert household_of(app, case) == before


def test_an_offline_edit_on_the_old_details_becomes_a_conflict(app, make_user, make_case):
    worker = make_user("worker", team="Team A")
    lead = make_user("lead", team="Team A")
    case = make_case(worker_id=worker.id, team="Team A")
    with app.app_context():
        seen = db.session.get(Case, case).version  # what the phone had when it went offline
    logged_in(app, lead).post(f"/cases/{case}/household", FORM, page=f"/cases/{case}")
    edit = {
        "uuid": str(uuid.uuid4()),
        "type": "case_edit",
        "case_id": case,
        "data": {"base_version": seen, "changes": {"phone": "22222222"}},
    }
    answer = logged_in(app, worker).client.post(
        "/sync", json={"records": [edit]}, headers={"X-Doorstep-Sync": "1"}
    )
    assert answer.get_json()["results"][0]["status"] == "conflict"
    assert household_of(app, case)["phone"] == "+4540404040"
    with app.app_context():
        assert db.session.scalars(select(CaseConflict)).one().proposed == {"phone": "22222222"}


def test_a_phone_that_is_no_number_is_refused(app, make_user, make_case):
    lead = make_user("lead", team="Team A")
    case = make_case(team="Team A", name="Ole Olsen")
    before = household_of(app, case)
    client = logged_in(app, lead)
    for value in ("javascript:alert(1)", "tel:112", "40 40 40 40 / 50 50 50 50", "ring Ole"):
        answer = client.post(
            f"/cases/{case}/household", {**FORM, "phone": value}, page=f"/cases/{case}"
        )
        assert answer.status_code == 400, value
        assert "Phone: " in answer.get_data(as_text=True), value
        assert household_of(app, case) == before, value


def test_no_tel_link_is_built_from_a_stored_phone_that_is_no_number(app, make_user, make_case):
    """A value stored before the check (or by an older import) is shown as text, never linked."""
    lead = make_user("lead", team="Team A")
    worker = make_user("worker", team="Team A")
    hostile = make_case(team="Team A", name="Ole Olsen", worker_id=worker.id)
    plain = make_case(team="Team A", name="Kari Nordmann", worker_id=worker.id)
    with app.app_context():
        db.session.get(Case, hostile).tenancy.household.phone = "javascript:alert(1)"
        db.session.get(Case, plain).tenancy.household.phone = "+4540404040"
        db.session.commit()
    pages = [
        (logged_in(app, lead).client, f"/cases/{hostile}"),
        (logged_in(app, worker).client, f"/field/cases/{hostile}"),
        (logged_in(app, worker).client, "/today"),
    ]
    for client, path in pages:
        html = client.get(path).get_data(as_text=True)
        assert not [link for link in re.findall(r'href="tel:([^"]*)"', html) if "alert" in link]
        assert "javascript:alert(1)" in html or path == "/today", path  # still shown as text
    today = logged_in(app, worker).client.get("/today").get_data(as_text=True)
    assert re.findall(r'href="tel:([^"]*)"', today) == ["+4540404040"]
