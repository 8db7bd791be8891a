"""The logs never carry personal data: a day's work on the demo town, errors included, with
every logger captured at DEBUG, and the captured text searched for the demo tenants' names,
addresses and phone numbers."""

from __future__ import annotations

import io
import logging
import re
import uuid

from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Case, Household, User
from fieldapp.services.demo import seed_demo
from tests.support import AuthActions, csrf_from

SYNC = {"X-Doorstep-Sync": "1"}


def test_a_days_work_and_its_errors_leave_no_personal_data_in_the_logs(app, caplog):
    with app.app_context():
        seed_demo(db.session, "demo")
        db.session.commit()
        households = db.session.scalars(select(Household)).all()
        secrets = set()
        for household in households:
            secrets |= {household.name, household.address}
            secrets |= {part for part in household.name.split() if len(part) > 3}
            if household.phone:
                secrets.add(household.phone)
        worker = db.session.scalar(select(User).where(User.email == "worker@example.org"))
        cases = db.session.scalars(select(Case.id).where(Case.assigned_worker_id == worker.id))
        case_ids = list(cases)
        tenant = households[0]

    caplog.set_level(logging.DEBUG)
    lead = app.test_client()
    AuthActions(lead).login("lead@example.org", "demo")
    for path in ("/dashboard", "/cases", "/reports", "/meetings", "/routes", "/imports"):
        assert lead.get(path).status_code == 200
    token = csrf_from(lead.get("/cases").get_data(as_text=True))
    lead.post("/cases", data={"csrf_token": token, "q": tenant.name})  # a search by name
    for case_id in case_ids[:3]:
        lead.get(f"/cases/{case_id}")
    bad_list = (
        "Lejemålsnr;Navn;Adresse;Postnr;By;Restance\n"
        f"X-1;{tenant.name};{tenant.address};3000;Helsingør;12,34,5\n"
        f"X-2;{tenant.name};{tenant.address};3000;Helsingør;-5\n"
    ).encode("cp1252", errors="replace")
    lead.post(
        "/imports",
        data={
            "csrf_token": token,
            "kind": "arrears",
            "new_landlord": "Boligselskabet Log",
            "new_landlord_kind": "private",
            "as_of": "2026-11-15",
            "file": (io.BytesIO(bad_list), "liste.csv"),
        },
        content_type="multipart/form-data",
    )

    worker_client = app.test_client()
    AuthActions(worker_client).login("worker@example.org", "demo")
    worker_client.get("/today")
    worker_client.get(f"/field/cases/{case_ids[0]}")
    records = [
        {
            "uuid": str(uuid.uuid4()),
            "type": "visit",
            "case_id": case_ids[0],
            "recorded_at": "2026-11-23T10:00:00+01:00",
            "data": {"channel": "door", "result": "met", "notes": f"Talked to {tenant.name}"},
        },
        {  # refused: the notes name the tenant and are far too long
            "uuid": str(uuid.uuid4()),
            "type": "visit",
            "case_id": case_ids[0],
            "data": {"channel": "door", "result": "met", "notes": tenant.name * 5000},
        },
        {  # refused: a phone number where a date belongs
            "uuid": str(uuid.uuid4()),
            "type": "action",
            "case_id": case_ids[0],
            "data": {"description": tenant.address, "due_on": tenant.phone or "+4512345678"},
        },
    ]
    answer = worker_client.post("/sync", json={"records": records}, headers=SYNC)
    assert answer.status_code == 200
    worker_client.get("/cases/999999")  # 403/404 paths log too
    AuthActions(app.test_client()).login(tenant.name, "wrong password")  # a name as login

    logged = caplog.text + "\n".join(str(record.args) for record in caplog.records)
    assert caplog.records, "nothing was logged at all: the test would prove nothing"
    leaks = sorted(secret for secret in secrets if secret and re.search(re.escape(secret), logged))
    assert not leaks, f"personal data in the logs: {leaks}"
