"""Retention: `fieldapp purge` anonymises closed cases after the organisation's period, keeps
what the statistics need (they add up the same before and after), leaves open and recent cases
alone, and a dry run changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import (
    Case,
    Consent,
    ConsentText,
    Household,
    LegalStep,
    Organisation,
    Tenancy,
    User,
    Visit,
)
from fieldapp.services.reports import outcome_figures

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def register(app, make_user, make_case):
    """An old closed case (evicted, with a visit, a note and a signed consent), a recent
    closed case, an open case, and an old closed case whose household has an open one."""
    worker = make_user("worker", name="Mette Holm")
    old = make_case(
        name="Aisha Farah", address="Kongevejen 118", postcode="3000",
        worker_id=worker.id, status="closed", outcome="evicted", children=2,
        steps=[("petition", date(2023, 3, 1)), ("executed", date(2023, 6, 1))],
    )  # fmt: skip
    recent = make_case(
        name="Lars Bakken", worker_id=worker.id, status="closed", outcome="paid_up",
        steps=[("petition", date(2026, 5, 1))],
    )  # fmt: skip
    open_case = make_case(name="Signe Hansen", worker_id=worker.id)
    shared = make_case(name="Omar Ali", address="Stengade 9", status="closed", outcome="paid_up")
    with app.app_context():
        session = db.session
        closed = {old: datetime(2023, 6, 2, tzinfo=UTC), recent: datetime(2026, 6, 1, tzinfo=UTC)}
        closed[shared] = datetime(2022, 1, 1, tzinfo=UTC)
        for case_id, at in closed.items():
            session.get(Case, case_id).closed_at = at
        session.get(Case, old).tenancy.household.phone = "+4512345678"
        for step in session.get(Case, old).legal_steps:  # the bailiff came to the home
            step.place = "Kongevejen 118, 3000"
        # Omar Ali's household also has an open case at another landlord.
        household_id = session.get(Case, shared).tenancy.household_id
        landlord_id = session.get(Case, shared).tenancy.landlord_id
        team_id = session.get(Case, shared).team_id
        tenancy = Tenancy(
            household_id=household_id, landlord_id=landlord_id, reference="OTHER-1", team_id=team_id
        )
        session.add(tenancy)
        session.flush()
        session.add(Case(tenancy_id=tenancy.id, team_id=team_id))
        text = ConsentText(language="da", version=1, body="Samtykke")
        session.add(text)
        session.flush()
        session.add_all(
            [
                Visit(
                    client_uuid=str(uuid.uuid4()), case_id=old, worker_id=worker.id,
                    channel="door", result="met", notes="Aisha says her son is ill",
                    occurred_at=datetime(2023, 4, 1, tzinfo=UTC),
                ),
                Consent(
                    client_uuid=str(uuid.uuid4()), case_id=old, worker_id=worker.id,
                    state="given", scopes=["debt_counselling"], method="signature",
                    witness="Jens Witness", text_id=text.id, language="da",
                    signature="data:image/png;base64,AAAA",
                    recorded_at=datetime(2023, 4, 1, tzinfo=UTC),
                ),
            ]
        )  # fmt: skip
        session.scalar(select(Organisation)).retention_months = 24
        session.commit()
    return {"old": old, "recent": recent, "open": open_case, "shared": shared}


def figures(app):
    with app.app_context():
        return [vars(f) for f in outcome_figures(db.session, 2022, 2026, today=NOW.date())]


def test_purge_anonymises_old_closed_cases_and_the_figures_still_add_up(app, register, runner):
    before = figures(app)
    dry = runner.invoke(args=["purge", "--dry-run", "--now", NOW.isoformat()])
    assert dry.exit_code == 0, dry.output
    assert "2 closed cases and 1 households would be anonymised" in dry.output
    with app.app_context():
        assert db.session.get(Case, register["old"]).tenancy.household.name == "Aisha Farah"

    result = runner.invoke(args=["purge", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert "2 closed cases and 1 households were anonymised" in result.output
    with app.app_context():
        session = db.session
        old = session.get(Case, register["old"])
        household = old.tenancy.household
        assert (household.name, household.address, household.postcode, household.phone) == (
            "", "", "", ""
        )  # fmt: skip
        assert household.children == 2 and old.outcome == "evicted"
        assert old.tenancy.reference is None and old.anonymised_at is not None
        assert session.scalar(select(Visit.notes).where(Visit.case_id == old.id)) == ""
        kinds = session.scalars(select(LegalStep.kind).where(LegalStep.case_id == old.id))
        assert sorted(kinds) == ["executed", "petition"]
        places = session.scalars(select(LegalStep.place).where(LegalStep.case_id == old.id))
        assert set(places) == {""}
        consent = session.scalar(select(Consent).where(Consent.case_id == old.id))
        assert consent.signature and consent.witness  # kept: within the consent period
        # Omar Ali's old case is anonymised; his household stays, it has an open case.
        shared = session.get(Case, register["shared"])
        assert shared.anonymised_at is not None
        assert shared.tenancy.household.name == "Omar Ali"
        for key in ("recent", "open"):
            case = session.get(Case, register[key])
            assert case.anonymised_at is None and case.tenancy.household.name != ""
        assert session.scalar(select(User.name).where(User.role == "worker")) == "Mette Holm"
    assert figures(app) == before

    again = runner.invoke(args=["purge", "--now", NOW.isoformat()])
    assert "0 closed cases and 0 households were anonymised" in again.output


def test_consent_signatures_go_after_their_own_longer_period(app, register, runner):
    later = (NOW + timedelta(days=365 * 3)).isoformat()
    result = runner.invoke(args=["purge", "--now", later])
    assert result.exit_code == 0, result.output
    assert "1 consent signatures were removed" in result.output
    with app.app_context():
        consent = db.session.scalar(select(Consent).where(Consent.case_id == register["old"]))
        assert (consent.signature, consent.witness) == ("", "")
        assert consent.state == "given" and consent.text_id is not None


def test_purge_refuses_a_bad_time(app, runner):
    result = runner.invoke(args=["purge", "--now", "yesterday"])
    assert result.exit_code == 2 and "'yesterday'" in result.output


def test_the_household_query_ignores_households_without_anonymised_cases(app, register):
    from fieldapp.services.retention import _households_done

    with app.app_context():
        assert _households_done(db.session) == []
        assert db.session.scalar(select(Household.id).where(Household.name == "")) is None


def test_a_lead_erases_a_household_on_request_unless_a_case_is_open(app, register, make_user):
    from tests.support import PASSWORD, AuthActions

    with app.app_context():
        team_id = db.session.get(Case, register["recent"]).team_id
        recent_household = db.session.get(Case, register["recent"]).tenancy.household_id
        shared_household = db.session.get(Case, register["shared"]).tenancy.household_id
    lead = make_user("lead", team="Team A")
    assert team_id is not None
    client = app.test_client()
    auth = AuthActions(client)
    auth.login(lead.email, PASSWORD)
    before = figures(app)
    page = f"/households/{recent_household}/record"
    reason = "The tenant asked for erasure by letter of 2026-11-20"
    short = auth.post(f"/households/{recent_household}/erase", {"reason": "x"}, page=page)
    assert short.status_code == 303
    with app.app_context():
        assert db.session.get(Household, recent_household).name == "Lars Bakken"
    done = auth.post(f"/households/{recent_household}/erase", {"reason": reason}, page=page)
    assert done.status_code == 303
    with app.app_context():
        household = db.session.get(Household, recent_household)
        assert (household.name, household.address) == ("", "")
        case = db.session.get(Case, register["recent"])
        assert case.anonymised_at is not None and case.outcome == "paid_up"
    assert figures(app) == before
    # Omar Ali's household has an open case: refused, nothing changed.
    refused = auth.post(
        f"/households/{shared_household}/erase",
        {"reason": reason},
        page=f"/households/{shared_household}/record",
    )
    assert refused.status_code == 303
    with app.app_context():
        assert db.session.get(Household, shared_household).name == "Omar Ali"
        from fieldapp.models import AuditEvent

        erased = db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "erase"))
        assert erased.startswith(reason)


def test_the_notes_of_plans_deductions_and_hold_answers_go_with_the_case(app, register, runner):
    from fieldapp.models import Landlord
    from fieldapp.models.agreements import BenefitDeduction, HoldRequest, PaymentPlan

    with app.app_context():
        session = db.session
        at = datetime(2023, 4, 1, tzinfo=UTC)
        worker_id = session.scalar(select(User.id).where(User.role == "worker"))
        landlord_id = session.scalar(select(Landlord.id))
        for key in ("old", "recent"):
            session.add_all(
                [
                    PaymentPlan(
                        client_uuid=str(uuid.uuid4()), case_id=register[key],
                        created_by_id=worker_id, arrears_at_start=900_000, recorded_at=at,
                        instalments=[{"due_on": "2023-05-01", "amount": 300_000}],
                        note="Aisha's brother pays half",
                    ),
                    BenefitDeduction(
                        client_uuid=str(uuid.uuid4()), case_id=register[key],
                        created_by_id=worker_id, benefit="section_81a", amount=250_000,
                        starts_on=date(2023, 5, 1), recorded_at=at, note="Her pension",
                    ),
                    HoldRequest(
                        case_id=register[key], landlord_id=landlord_id,
                        requested_by_id=worker_id, until=date(2023, 6, 1),
                        reason="payment_plan", state="accepted", answer_note="We wait for her",
                    ),
                ]
            )  # fmt: skip
        session.commit()
    result = runner.invoke(args=["purge", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    with app.app_context():
        session = db.session
        for model, column in (
            (PaymentPlan, PaymentPlan.note),
            (BenefitDeduction, BenefitDeduction.note),
            (HoldRequest, HoldRequest.answer_note),
        ):
            notes = dict(session.execute(select(model.case_id, column)).all())
            assert notes[register["old"]] == "", model.__name__
            assert notes[register["recent"]] != "", model.__name__  # within the period
        # The figures stay: the plan's amounts, the deduction's state, the hold's answer.
        plan = session.scalar(select(PaymentPlan).where(PaymentPlan.case_id == register["old"]))
        assert plan.arrears_at_start == 900_000 and plan.instalments
        hold = session.scalar(select(HoldRequest).where(HoldRequest.case_id == register["old"]))
        assert hold.state == "accepted"
