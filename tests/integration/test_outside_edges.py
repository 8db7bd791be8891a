"""Edges a review of partners, landlords, holds and plans found (each failed before its fix):
a partner of kind "landlord" opened every landlord's consenting tenants; a hold whose date had
passed still asked, blocked a new request and could be accepted; a petition entered late but
dated before the hold ended it; a paid-off plan turned "broken" on a later list; a NUL in a
note gave a server error on PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Partner, User
from fieldapp.models.agreements import HoldRequest, PaymentPlan
from fieldapp.services.access import partner_case_ids
from fieldapp.services.accounts import AccountError, create_user
from fieldapp.services.agreements import check_plans
from fieldapp.services.flags import case_flags
from fieldapp.usecases import Actor, Refused, UnitOfWork
from fieldapp.usecases.holds import NewHold, answer, ask_to_hold
from tests.integration.test_access_matrix import give_consent
from tests.integration.test_landlord_access import OWN, _accepted_hold, ending, login, people

TODAY = date.today()
__all__ = ["people"]


def test_a_partner_of_kind_landlord_is_no_way_into_other_landlords_tenants(
    app, make_user, make_case
):
    worker = make_user("worker", team="Team A")
    case_id = make_case(landlord="Udlejer Syd ApS", worker_id=worker.id)
    give_consent(app, case_id, worker.id, ["landlord"])
    with app.app_context():
        db.session.add(Partner(name="Boligselskabet Nord (partner)", kind="landlord"))
        db.session.flush()
        with pytest.raises(AccountError, match="log in as role landlord"):
            create_user(
                db.session, "bo@landlord.example", "a long passphrase here", "partner",
                "Team A", partner_name="Boligselskabet Nord (partner)",
            )  # fmt: skip
        # An account bound so before this rule (or by hand) still sees nothing.
        db.session.rollback()
        partner = Partner(name="Boligselskabet Nord (partner)", kind="landlord")
        db.session.add(partner)
        db.session.flush()
        team_id = db.session.scalar(select(User.team_id).where(User.id == worker.id))
        person = User(
            email="old@landlord.example", password_hash="!", role="partner", team_id=team_id,
            partner_id=partner.id,
        )  # fmt: skip
        db.session.add(person)
        db.session.commit()
        assert partner_case_ids(db.session, person) == []


def _waiting_hold(app, make_case, people, until: date) -> tuple[int, int]:
    worker = people["worker"]
    case_id = make_case(landlord=OWN, worker_id=worker.id)
    give_consent(app, case_id, worker.id, ["landlord"])
    with app.app_context():
        with UnitOfWork(db.session) as uow:
            hold = ask_to_hold(
                uow, Actor.person(db.session.get(User, worker.id)), case_id,
                NewHold(TODAY + timedelta(days=5), "payment_plan"),
            )  # fmt: skip
            hold_id = hold.id
        # Its date passes (set back, as if the request was made weeks ago).
        db.session.get(HoldRequest, hold_id).until = until
        db.session.commit()
    return case_id, hold_id


def test_a_hold_whose_date_passed_asks_nothing_and_blocks_nothing(app, make_case, people):
    case_id, hold_id = _waiting_hold(app, make_case, people, TODAY - timedelta(days=1))
    with app.app_context():
        assert not case_flags(db.session, [case_id])[case_id].hold_requested
        with UnitOfWork(db.session) as uow, pytest.raises(Refused, match="has passed"):
            answer(uow, Actor.person(db.session.get(User, people["landlord"].id)), hold_id, True)
        with UnitOfWork(db.session) as uow:  # a new request may be made
            again = ask_to_hold(
                uow, Actor.person(db.session.get(User, people["worker"].id)), case_id,
                NewHold(TODAY + timedelta(days=20), "rehousing"),
            )  # fmt: skip
            assert again.id != hold_id
    # The landlord's page offers no answer to the passed one.
    page = login(app, people["landlord"]).client.get("/landlord/").get_data(as_text=True)
    assert f"hold-answer-{hold_id}" not in page


def test_a_hold_due_today_still_asks(app, make_case, people):
    case_id, hold_id = _waiting_hold(app, make_case, people, TODAY)
    with app.app_context():
        assert case_flags(db.session, [case_id])[case_id].hold_requested


def test_a_petition_entered_late_but_dated_before_the_hold_does_not_end_it(app, make_case, people):
    case_id, hold_id = _accepted_hold(app, make_case, people)
    auth = login(app, people["lead"])
    before = (TODAY - timedelta(days=40)).isoformat()
    added = auth.post(
        f"/cases/{case_id}/legal-steps", {"kind": "petition", "date": before},
        page=f"/cases/{case_id}",
    )  # fmt: skip
    assert added.status_code == 303
    assert ending(app, hold_id) == (None, None)


def test_a_paid_off_plan_stays_paid_off_on_a_later_list(app, lead, make_case):
    case_id = make_case(landlord=OWN)
    start = TODAY - timedelta(days=90)
    with app.app_context():
        from fieldapp.models import Case
        from fieldapp.models.types import utcnow

        case = db.session.get(Case, case_id)
        plan = PaymentPlan(
            client_uuid="00000000-0000-4000-8000-00000000a001", case_id=case_id,
            created_by_id=lead.id, arrears_at_start=300_000,
            instalments=[{"due_on": (start + timedelta(days=30)).isoformat(), "amount": 300_000}],
            recorded_at=utcnow() - timedelta(days=90),
        )  # fmt: skip
        db.session.add(plan)
        db.session.flush()
        check_plans(db.session, {case.tenancy_id: 0}, TODAY - timedelta(days=30))
        assert (plan.state, plan.check_detail["code"]) == ("kept", "paid_off")
        # Months later the tenant is behind again: a new matter, not this plan broken.
        check_plans(db.session, {case.tenancy_id: 500_000}, TODAY)
        assert (plan.state, plan.check_detail["code"]) == ("kept", "paid_off")
        assert plan.checked_on == TODAY - timedelta(days=30)
        db.session.rollback()


def test_a_nul_in_a_landlords_note_is_removed_not_an_error(app, make_case, people):
    case_id, hold_id = _waiting_hold(app, make_case, people, TODAY + timedelta(days=5))
    auth = login(app, people["landlord"])
    answered = auth.post(
        f"/landlord/holds/{hold_id}/answer", {"answer": "accept", "note": "ok\x00 vi venter"},
        page="/landlord/",
    )  # fmt: skip
    assert answered.status_code in (200, 303), answered.status_code
    with app.app_context():
        hold = db.session.get(HoldRequest, hold_id)
        assert (hold.state, hold.answer_note) == ("accepted", "ok vi venter")


def test_the_lead_importing_the_landlords_file_applies_the_rows_the_landlord_could_not(
    app, make_case, people
):
    from fieldapp.models import LegalStep
    from tests.integration.test_import_pages import confirm
    from tests.integration.test_landlord_access import OTHER, csv_bytes, post_file

    own = make_case(landlord=OWN, reference="N-1", address="Strandvej 1")
    foreign = make_case(landlord=OTHER, reference="S-9", address="Strandvej 9")
    day = (TODAY - timedelta(days=1)).strftime("%d-%m-%Y")
    data = csv_bytes(
        ["Udlejer", "Lejemålsnr.", "Hændelse", "Dato"],
        [[OWN, "N-1", "petition", day], [OTHER, "S-9", "petition", day]],
    )
    landlord = login(app, people["landlord"])
    assert confirm(landlord, post_file(landlord, data, "t.csv", kind="legal_steps")).status_code
    lead = login(app, people["lead"])
    done = confirm(lead, post_file(lead, data, "t.csv", kind="legal_steps"))
    assert done.status_code == 200
    with app.app_context():
        steps = set(db.session.execute(select(LegalStep.case_id, LegalStep.kind)).all())
        assert steps == {(own, "petition"), (foreign, "petition")}
