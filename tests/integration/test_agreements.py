"""Payment plans and rent deductions from benefits (issue 21, section 3): made at the desk and
through the phone's outbox, refused with the field named when a value cannot be meant, and
checked by the next arrears list (kept, broken, and the priority reason a broken plan gives)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import Case, Landlord, Team
from fieldapp.models.agreements import BenefitDeduction, PaymentPlan
from fieldapp.services.agreements import expected_arrears
from fieldapp.services.imports import import_arrears

SYNC = {"X-Doorstep-Sync": "1", "Origin": "http://localhost"}
HTMX = {"HX-Request": "true"}
TODAY = date.today()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def plan_form(**changes) -> dict:
    form = {
        "arrears_at_start": "15.000,00",
        "instalment_amount": "5 000",
        "first_due_on": (TODAY + timedelta(days=10)).isoformat(),
        "instalment_count": "3",
        "note": "Agreed with the tenant and the landlord",
    }
    return {**form, **changes}


def test_a_plan_made_at_the_desk_is_on_the_case_page(app, lead, auth, client, make_case):
    case_id = make_case()
    answer = auth.post(f"/cases/{case_id}/plans", plan_form(), page=f"/cases/{case_id}")
    assert answer.status_code == 303
    with app.app_context():
        plan = db.session.scalar(select(PaymentPlan))
        assert (plan.case_id, plan.arrears_at_start, plan.state) == (case_id, 1_500_000, "active")
        first = TODAY + timedelta(days=10)
        assert [i["amount"] for i in plan.instalments] == [500_000] * 3
        assert plan.instalments[0]["due_on"] == first.isoformat()
        assert plan.instalments[1]["due_on"] > plan.instalments[0]["due_on"]
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="plans-list"' in page and "Agreed with the tenant" in page
    assert "Not checked against an arrears list yet." in page


def test_the_desk_form_in_place_answers_with_the_section(app, lead, auth, client, make_case):
    case_id = make_case()
    answer = auth.post(
        f"/cases/{case_id}/plans", plan_form(), page=f"/cases/{case_id}", headers=HTMX
    )
    assert answer.status_code == 200
    body = answer.get_data(as_text=True)
    assert 'id="agreements"' in body and 'id="agreements-saved"' in body
    assert "<html" not in body  # the section alone, for htmx to swap


def test_bad_input_is_named_beside_its_field_and_nothing_is_stored(
    app, lead, auth, client, make_case
):
    case_id = make_case()
    bad = [
        ({"instalment_amount": "12,3,4"}, "Amount per instalment", "12,3,4"),
        ({"arrears_at_start": "lots"}, "Arrears at the start", "lots"),
        ({"instalment_count": "61"}, "Number of instalments", "61"),
        ({"first_due_on": "2026-13-01"}, "First instalment on", "2026-13-01"),
        ({"first_due_on": "1999-01-01"}, "First instalment on", "1999-01-01"),
        ({"instalment_amount": "6.000"}, "Instalments", "15.000"),  # 18,000 > 15,000
        ({"instalment_amount": "0"}, "Amount per instalment", "0"),
    ]
    for change, field, value in bad:
        answer = auth.post(f"/cases/{case_id}/plans", plan_form(**change), page=f"/cases/{case_id}")
        assert answer.status_code == 422, change
        body = answer.get_data(as_text=True)
        assert 'class="error field-message" role="alert"' in body, change
        assert field in body and value in body, (change, field)
    # In place, the message stands beside the field in the swapped section.
    answer = auth.post(
        f"/cases/{case_id}/plans",
        plan_form(instalment_amount="x"),
        page=f"/cases/{case_id}",
        headers=HTMX,
    )
    assert answer.status_code == 200
    assert 'id="plan-instalment_amount-message"' in answer.get_data(as_text=True)
    with app.app_context():
        assert count(PaymentPlan) == 0


def _plan_record(case_id: int, **changes) -> dict:
    data = {
        "arrears_at_start": "9.000",
        "instalment_amount": "3.000",
        "first_due_on": (TODAY + timedelta(days=5)).isoformat(),
        "instalment_count": 3,
        "note": "at the door",
    }
    return {
        "uuid": str(uuid.uuid4()),
        "type": "payment_plan",
        "case_id": case_id,
        "data": {**data, **changes},
    }


def test_a_plan_from_the_phone_is_applied_once(app, make_user, auth, client, make_case):
    worker = make_user("worker", team="Team A")
    auth.login(worker.email)
    case_id = make_case(worker_id=worker.id)
    record = _plan_record(case_id)
    first = client.post("/sync", json={"records": [record]}, headers=SYNC).get_json()
    again = client.post("/sync", json={"records": [record]}, headers=SYNC).get_json()
    assert first["results"][0]["status"] == "applied"
    assert again["results"][0]["status"] == "duplicate"
    with app.app_context():
        (plan,) = db.session.scalars(select(PaymentPlan)).all()
        assert (plan.client_uuid, plan.arrears_at_start, plan.created_by_id) == (
            record["uuid"],
            900_000,
            worker.id,
        )
        assert len(plan.instalments) == 3


def test_the_phone_is_told_which_field_is_wrong(app, make_user, auth, client, make_case):
    worker = make_user("worker", team="Team A")
    auth.login(worker.email)
    case_id = make_case(worker_id=worker.id)
    records = [
        _plan_record(case_id, instalment_amount="3.000,123"),
        _plan_record(case_id, instalment_count=0),
        {
            "uuid": str(uuid.uuid4()),
            "type": "benefit_deduction",
            "case_id": case_id,
            "data": {"benefit": "aap", "amount": "2.000", "starts_on": TODAY.isoformat()},
        },
    ]
    results = client.post("/sync", json={"records": records}, headers=SYNC).get_json()["results"]
    assert [(r["status"], r["field"]) for r in results] == [
        ("rejected", "instalment_amount"),
        ("rejected", "instalment_count"),
        ("rejected", "benefit"),  # AAP is Norway's; the organisation is Danish
    ]
    assert "Amount per instalment" in results[0]["message"]
    with app.app_context():
        assert count(PaymentPlan) == count(BenefitDeduction) == 0


def _arrears_list(reference: str, amount: str, as_of: date, extra: str = "") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Lejemålsnr.", "Navn", "Adresse", "Postnr.", "By", "Restance", "Opgjort pr."])
    writer.writerow([reference, "Lars Bakken" + extra, "Stengade 1", "3000", "Helsingør", amount,
                     as_of.strftime("%d-%m-%Y")])  # fmt: skip
    return buffer.getvalue().encode()


def test_the_next_list_marks_a_plan_kept_then_broken_and_raises_the_priority(
    app, lead, auth, client, make_case
):
    case_id = make_case(address="Stengade 1", reference="L-1", arrears=1_500_000)
    due = [TODAY - timedelta(days=40), TODAY - timedelta(days=10), TODAY + timedelta(days=20)]
    with app.app_context():
        plan = PaymentPlan(
            client_uuid=str(uuid.uuid4()), case_id=case_id, created_by_id=lead.id,
            arrears_at_start=1_500_000, recorded_at=datetime.now(UTC) - timedelta(days=45),
            instalments=[{"due_on": d.isoformat(), "amount": 500_000} for d in due],
        )  # fmt: skip
        db.session.add(plan)
        db.session.commit()
        plan_id = plan.id
        landlord = db.session.scalar(select(Landlord).where(Landlord.name == "Boligselskabet Nord"))
        team_id = db.session.scalar(select(Team.id).where(Team.name == "Team A"))

    def run_list(amount: str, as_of: date, extra: str = ""):
        with app.app_context():
            owner = db.session.get(Landlord, landlord.id)
            data = _arrears_list("L-1", amount, as_of, extra)
            import_arrears(db.session, data, "list.csv", owner, team_id=team_id)
            db.session.commit()
            plan = db.session.get(PaymentPlan, plan_id)
            case = db.session.get(Case, case_id)
            return plan.state, plan.checked_on, dict(plan.check_detail), case.priority_reasons

    # A list from before the plan was agreed leaves it alone.
    state, checked_on, detail, reasons = run_list("20.000,00", TODAY - timedelta(days=50))
    assert (state, checked_on, detail) == ("active", None, {})
    # 20 days ago the first instalment was due: 10,000 expected, 10,000 listed.
    state, checked_on, detail, reasons = run_list("10.000,00", TODAY - timedelta(days=20))
    assert (state, checked_on, detail["code"]) == ("kept", TODAY - timedelta(days=20), "kept")
    assert {"code": "plan_kept", "value": 0} in reasons
    # 5 days ago two were due: 5,000 expected, 8,000 listed: the second was missed by 3,000.
    state, checked_on, detail, reasons = run_list("8.000,00", TODAY - timedelta(days=5))
    assert state == "broken"
    assert detail == {
        "code": "missed",
        "as_of": (TODAY - timedelta(days=5)).isoformat(),
        "due_on": due[1].isoformat(),
        "shortfall": 300_000,
        "expected": 500_000,
        "listed": 800_000,
    }
    broken = {"code": "plan_broken", "value": 300_000, "due_on": due[1].isoformat()}
    assert reasons[0] == broken  # weighs most here: the case has no court date
    # The same list date again (a corrected file): the same result.
    assert run_list("8.000,00", TODAY - timedelta(days=5), extra=" ")[:3] == (
        state,
        checked_on,
        detail,
    )
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "payment plan broken: DKK\xa03,000 behind since the instalment of" in page
    assert "Broken on the list of" in page
    # Ended by hand, the broken plan no longer raises the priority.
    answer = auth.post(f"/cases/{case_id}/plans/{plan_id}/end", {}, page=f"/cases/{case_id}")
    assert answer.status_code == 303
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert db.session.get(PaymentPlan, plan_id).state == "ended"
        assert all(r["code"] != "plan_broken" for r in case.priority_reasons)


def test_paid_off_on_the_list_is_kept(app, lead, make_case):
    case_id = make_case(address="Stengade 1", reference="L-1", arrears=900_000)
    with app.app_context():
        plan = PaymentPlan(
            client_uuid=str(uuid.uuid4()), case_id=case_id, created_by_id=lead.id,
            arrears_at_start=900_000, recorded_at=datetime.now(UTC),
            instalments=[{"due_on": (TODAY + timedelta(days=30)).isoformat(), "amount": 900_000}],
        )  # fmt: skip
        db.session.add(plan)
        db.session.commit()
        assert expected_arrears(plan, TODAY) == 900_000
        owner = db.session.scalar(select(Landlord))
        team_id = db.session.scalar(select(Team.id))
        import_arrears(
            db.session, _arrears_list("L-1", "0", TODAY), "l.csv", owner, team_id=team_id
        )
        db.session.commit()
        plan = db.session.get(PaymentPlan, plan.id)
        assert (plan.state, plan.check_detail["code"]) == ("kept", "paid_off")


def test_a_deduction_applied_for_then_confirmed(app, lead, auth, client, make_case):
    case_id = make_case()
    form = {
        "benefit": "section_81a",
        "amount": "2.500,00",
        "starts_on": (TODAY + timedelta(days=14)).isoformat(),
        "state": "applied",
        "pending_until": (TODAY + timedelta(days=7)).isoformat(),
        "note": "",
    }
    answer = auth.post(f"/cases/{case_id}/deductions", form, page=f"/cases/{case_id}")
    assert answer.status_code == 303
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Direct payment of the rent (aktivloven § 81 a)" in page
    assert "answer expected by" in page
    with app.app_context():
        deduction = db.session.scalar(select(BenefitDeduction))
        assert (deduction.amount, deduction.state) == (250_000, "applied")
    wrong = auth.post(
        f"/cases/{case_id}/deductions/{deduction.id}/confirm",
        {"confirmed_by": "the neighbour", "confirmed_on": TODAY.isoformat()},
        page=f"/cases/{case_id}",
    )
    assert wrong.status_code == 422 and "Confirmed by" in wrong.get_data(as_text=True)
    answer = auth.post(
        f"/cases/{case_id}/deductions/{deduction.id}/confirm",
        {"confirmed_by": "benefit_office", "confirmed_on": TODAY.isoformat()},
        page=f"/cases/{case_id}",
    )
    assert answer.status_code == 303
    with app.app_context():
        deduction = db.session.get(BenefitDeduction, deduction.id)
        assert (deduction.state, deduction.confirmed_by, deduction.pending_until) == (
            "confirmed",
            "benefit_office",
            None,
        )
        assert deduction.confirmed_at.date() == TODAY
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "confirmed by the benefit office" in page
    # A Norwegian benefit is not one a Danish municipality pays the rent from.
    answer = auth.post(
        f"/cases/{case_id}/deductions", {**form, "benefit": "aap"}, page=f"/cases/{case_id}"
    )
    assert answer.status_code == 422 and "&#39;aap&#39;" in answer.get_data(as_text=True)


HOSTILE = ["1e9", "١٢٣", "9" * 5000, "-500", "1.500,505", "\x00", "=1+1", " ", "NaN", "∞"]


def test_hostile_values_are_refused_by_name_never_an_error(app, make_user, auth, client, make_case):
    worker = make_user("worker", team="Team A")
    auth.login(worker.email)
    case_id = make_case(worker_id=worker.id)
    page = f"/cases/{case_id}"
    for name in ("arrears_at_start", "instalment_amount", "first_due_on", "instalment_count"):
        for value in HOSTILE:
            answer = auth.post(f"/cases/{case_id}/plans", plan_form(**{name: value}), page=page)
            assert answer.status_code == 422, (name, value)
    for name in ("benefit", "amount", "starts_on", "state", "pending_until", "confirmed_by"):
        for value in [*HOSTILE, "2026-02-30"]:
            form = {"benefit": "other", "amount": "100", "starts_on": TODAY.isoformat()}
            form[name] = value
            if name == "confirmed_by":
                form["state"] = "confirmed"
            answer = auth.post(f"/cases/{case_id}/deductions", form, page=page)
            assert answer.status_code == 422, (name, value)
    odd = [True, None, 10**30, -1, [], {}, 1.5, "x" * 5000]
    records = [
        _plan_record(case_id, **{name: value})
        for name in ("arrears_at_start", "instalment_amount", "first_due_on", "instalment_count")
        for value in odd
    ] + [_plan_record(case_id, note=["a"]), _plan_record(case_id, note="n" * 1001)]
    results = client.post("/sync", json={"records": records}, headers=SYNC).get_json()["results"]
    assert {r["status"] for r in results} == {"rejected"}
    with app.app_context():
        assert count(PaymentPlan) == count(BenefitDeduction) == 0


def test_the_first_missed_instalment_is_named_and_the_whole_shortfall_given():
    from fieldapp.services.agreements import check_plan

    dates = ["2026-01-15", "2026-02-15", "2026-03-15"]
    plan = PaymentPlan(
        arrears_at_start=1_500_000,
        instalments=[{"due_on": d, "amount": 500_000} for d in dates],
    )
    check_plan(plan, 1_500_000, date(2026, 2, 20))  # nothing paid: both instalments missed
    assert (plan.state, plan.check_detail["due_on"], plan.check_detail["shortfall"]) == (
        "broken",
        "2026-01-15",
        1_000_000,
    )
    check_plan(plan, 1_000_000, date(2026, 2, 20))  # the first paid, the second not
    assert (plan.check_detail["due_on"], plan.check_detail["shortfall"]) == ("2026-02-15", 500_000)
    check_plan(plan, 1_600_000, date(2026, 1, 10))  # none due yet, but the rent was not paid
    assert (plan.state, plan.check_detail["due_on"]) == ("broken", None)
    check_plan(plan, 400_000, date(2026, 2, 20))  # ahead of the plan: kept
    assert (plan.state, plan.check_detail["code"], plan.check_detail["expected"]) == (
        "kept",
        "kept",
        500_000,
    )
    check_plan(plan, 0, date(2026, 3, 15))
    assert (plan.state, plan.check_detail["code"]) == ("kept", "paid_off")


def test_each_change_is_audited_and_current_agreements_gives_the_live_ones(
    app, lead, auth, make_case
):
    from fieldapp.models import AuditEvent
    from fieldapp.services.agreements import current_agreements

    case_id, other_id = make_case(), make_case()
    page = f"/cases/{case_id}"
    auth.post(f"/cases/{case_id}/plans", plan_form(), page=page)
    auth.post(f"/cases/{case_id}/plans", plan_form(), page=page)
    form = {"benefit": "pension", "amount": "1.000", "starts_on": TODAY.isoformat()}
    auth.post(f"/cases/{case_id}/deductions", form, page=page)
    with app.app_context():
        first, second = db.session.scalars(select(PaymentPlan.id).order_by(PaymentPlan.id))
    auth.post(f"/cases/{case_id}/plans/{first}/end", {}, page=page)
    with app.app_context():
        lines = db.session.scalars(
            select(AuditEvent.detail)
            .where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case_id))
            .where(AuditEvent.action.in_(("create", "update")))
            .order_by(AuditEvent.id)
        ).all()
        assert lines == ["payment_plan", "payment_plan", "benefit_deduction", "payment_plan ended"]
        found = current_agreements(db.session, [case_id, other_id])
        assert [p.id for p in found[case_id]["plans"]] == [second]  # the ended one is not live
        assert [d.benefit for d in found[case_id]["deductions"]] == ["pension"]
        assert found[other_id] == {"plans": [], "deductions": []}
