"""A landlord's account (issue 21, section 2): their own arrears lists and legal steps through
the lead's import pages, fixed to their landlord; status flags only for tenants whose consent
covers the landlord; and "hold the petition" asked by the case's worker, answered by the
landlord, shown on the case page, ended by a petition or by payment."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Case, ImportBatch, Landlord, LegalStep, Tenancy, User, Visit
from fieldapp.models.agreements import BenefitDeduction, HoldRequest, PaymentPlan
from fieldapp.models.types import utcnow
from tests.integration.test_access_matrix import give_consent
from tests.integration.test_import_pages import confirm, staged_id, upload
from tests.support import AuthActions

FIXTURES = Path(__file__).parents[1] / "fixtures"
DANISH = FIXTURES / "restanceliste_boligforening_2026-11-15.csv"
NORWEGIAN = FIXTURES / "husleierestanse_kommunale_boliger_2026-11-15.csv"
OWN = "Boligselskabet Nord"
OTHER = "Udlejer Syd ApS"
TODAY = date.today()


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows([header, *rows])
    return buffer.getvalue().encode()


def post_file(auth, data: bytes, name: str, **form):
    fields = {"kind": "arrears", **form, "file": (io.BytesIO(data), name)}
    return auth.post("/imports", fields, page="/imports", content_type="multipart/form-data")


@pytest.fixture
def people(make_user):
    return {
        "landlord": make_user("landlord", team="Team A", landlord=OWN, name="Bo Udlejer"),
        "other_landlord": make_user("landlord", team="Team A", landlord=OTHER),
        "worker": make_user("worker", team="Team A"),
        "lead": make_user("lead", team="Team A"),
        "other_worker": make_user("worker", team="Team B"),
    }


def login(app, user: User) -> AuthActions:
    auth = AuthActions(app.test_client())
    assert auth.login(user.email).status_code in (302, 303)
    return auth


# --- uploads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DANISH, NORWEGIAN], ids=["danish", "norwegian"])
def test_a_landlord_uploads_their_own_list_and_cannot_name_another(app, make_user, people, path):
    with app.app_context():
        other_id = db.session.scalar(select(Landlord.id).where(Landlord.name == OTHER))
    auth = login(app, people["landlord"])
    form = auth.client.get("/imports").get_data(as_text=True)
    assert 'id="fixed-landlord"' in form and OWN in form
    assert 'name="landlord"' not in form and OTHER not in form  # no choice of landlord
    # A forged landlord id and a "new landlord" in the form change nothing.
    preview = upload(auth, path, landlord=str(other_id), new_landlord="Falsk Udlejer")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200, html[:300]
    assert f"<strong>{OWN}</strong>" in html
    done = confirm(auth, preview)
    assert done.status_code == 200
    assert 'href="/landlord/"' in done.get_data(as_text=True)
    with app.app_context():
        owners = set(db.session.scalars(select(Landlord.name).join(Tenancy.landlord)))
        assert owners == {OWN}
        assert db.session.scalar(select(func.count()).select_from(Case)) > 20
        batch = db.session.scalars(select(ImportBatch)).one()
        assert batch.created_by_id == people["landlord"].id
        assert batch.team_id == people["landlord"].team_id
        assert db.session.scalar(select(Landlord).where(Landlord.name == "Falsk Udlejer")) is None
    # Their own upload is in their history; the other landlord's person sees neither it, its
    # report nor its rejected rows; the team's lead sees it (it is the team's register).
    assert path.name in auth.client.get("/imports").get_data(as_text=True)
    other = login(app, people["other_landlord"])
    assert path.name not in other.client.get("/imports").get_data(as_text=True)
    assert other.client.get(f"/imports/batches/{batch.id}").status_code == 404
    assert other.client.get(f"/imports/batches/{batch.id}/rejected-rows.csv").status_code == 404
    assert login(app, people["lead"]).client.get(f"/imports/batches/{batch.id}").status_code == 200


def test_a_landlord_sees_the_rejected_rows_of_their_own_upload_only(app, people):
    data = csv_bytes(
        ["Lejemålsnr.", "Navn", "Adresse", "Postnr.", "By", "Restance", "Opgjort pr."],
        [
            ["L-1", "Anna Holm", "Stengade 1", "3000", "Helsingør", "5.000,00", "01-11-2026"],
            ["L-2", "Bent Dal", "Stengade 2", "3000", "Helsingør", "mange penge", "01-11-2026"],
        ],
    )
    auth = login(app, people["landlord"])
    preview = post_file(auth, data, "liste.csv")
    assert "mange penge" in preview.get_data(as_text=True)
    done = confirm(auth, preview, follow=False)
    batch_url = done.headers["Location"]
    rows = auth.client.get(f"{batch_url}/rejected-rows.csv")
    assert rows.status_code == 200 and "mange penge" in rows.get_data(as_text=True)
    lead_batch = None
    with app.app_context():
        lead_batch = ImportBatch(
            kind="arrears", team_id=people["lead"].team_id, filename="lead.csv",
            file_hash="b" * 64, created_by_id=people["lead"].id, counts={}, errors=[],
        )  # fmt: skip
        db.session.add(lead_batch)
        db.session.commit()
        lead_batch = lead_batch.id
    assert auth.client.get(f"/imports/batches/{lead_batch}").status_code == 404


def test_a_landlords_legal_steps_touch_only_their_own_tenancies(app, make_case, people):
    own = make_case(landlord=OWN, reference="N-1", address="Strandvej 1")
    foreign = make_case(landlord=OTHER, reference="S-9", address="Strandvej 9", postcode="3000")
    day = (TODAY - timedelta(days=1)).strftime("%d-%m-%Y")
    data = csv_bytes(
        ["Udlejer", "Lejemålsnr.", "Adresse", "Postnr.", "Hændelse", "Dato"],
        [
            [OWN, "N-1", "", "", "petition", day],
            [OTHER, "S-9", "", "", "petition", day],  # another landlord named
            ["", "S-9", "", "", "petition", day],  # another landlord's reference
            ["", "", "Strandvej 9", "3000", "petition", day],  # another landlord's address
        ],
    )
    auth = login(app, people["landlord"])
    preview = post_file(auth, data, "trin.csv", kind="legal_steps")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200, html[:400]
    assert "is not one of your tenancies" in html and "names another landlord" in html
    done = confirm(auth, preview)
    assert done.status_code == 200
    with app.app_context():
        steps = db.session.execute(select(LegalStep.case_id, LegalStep.kind)).all()
        assert steps == [(own, "petition")]
        assert db.session.get(Case, foreign).legal_steps == []
        landlords = set(db.session.scalars(select(Landlord.name)))
        assert landlords == {OWN, OTHER}  # nothing created for the rejected rows
        batch = db.session.scalars(select(ImportBatch)).one()
        assert sorted(e["row"] for e in batch.errors) == [3, 4, 5]


def test_hostile_and_wrong_uploads_by_a_landlord_are_named_not_500(app, people):
    auth = login(app, people["landlord"])
    for data, name in (
        (b"\x00\x01PK\x03\x04 not a spreadsheet", "liste.xlsx"),
        (b"=cmd|' /C calc'!A0;x\r\n", "liste.csv"),
    ):
        answer = post_file(auth, data, name)
        assert answer.status_code == 400, name
        assert name in answer.get_data(as_text=True)
    answer = post_file(auth, b"a;b\r\n", "liste.csv", as_of="2026-02-31")
    assert answer.status_code == 400 and "2026-02-31" in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0


# --- flags -----------------------------------------------------------------------------------


def _records(case_id: int, worker_id: int) -> None:
    """A plan, a deduction applied for, a hold request and a visit with notes on the case."""
    now = utcnow()
    db.session.add_all(
        [
            PaymentPlan(
                client_uuid=str(uuid.uuid4()), case_id=case_id, created_by_id=worker_id,
                arrears_at_start=500_000, instalments=[], note="SECRET PLAN NOTE",
                state="active", recorded_at=now,
            ),
            BenefitDeduction(
                client_uuid=str(uuid.uuid4()), case_id=case_id, created_by_id=worker_id,
                benefit="section_81b", amount=777_700, starts_on=TODAY, state="applied",
                pending_until=date(2027, 1, 20), recorded_at=now,
            ),
            Visit(
                client_uuid=str(uuid.uuid4()), case_id=case_id, worker_id=worker_id,
                channel="door", result="met", notes="SECRET VISIT NOTE", occurred_at=now,
            ),
        ]
    )  # fmt: skip


def test_flags_only_for_tenants_whose_consent_covers_the_landlord(app, make_case, people):
    worker = people["worker"].id
    consented = make_case(landlord=OWN, reference="N-1", name="Anna Holm", worker_id=worker)
    declined = make_case(landlord=OWN, reference="N-2", name="Bent Dal", worker_id=worker)
    elsewhere = make_case(landlord=OWN, reference="N-3", name="Carl Berg", worker_id=worker)
    theirs = make_case(landlord=OTHER, reference="S-1", name="Dorte Sø", worker_id=worker)
    give_consent(app, consented, worker, ["landlord", "debt_counselling"])
    give_consent(app, declined, worker, ["landlord"])
    give_consent(app, elsewhere, worker, ["debt_counselling"])  # not the landlord
    with app.app_context():
        from fieldapp.models import Consent

        db.session.add(
            Consent(
                client_uuid=str(uuid.uuid4()), case_id=declined, worker_id=worker,
                state="withdrawn", scopes=[], method="signature", language="da",
                recorded_at=utcnow() + timedelta(seconds=1),
            )
        )  # fmt: skip
        for case_id in (consented, declined, elsewhere, theirs):
            _records(case_id, worker)
            db.session.add(
                HoldRequest(
                    case_id=case_id, landlord_id=db.session.get(Case, case_id).tenancy.landlord_id,
                    requested_by_id=worker, until=date(2027, 2, 1), reason="payment_plan",
                )
            )  # fmt: skip
        db.session.commit()
    auth = login(app, people["landlord"])
    page = auth.client.get("/landlord/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    cards = {
        int(part.split('"', 1)[0]): part for part in html.split('id="tenant-')[1:]
    }  # each tenant's card, up to the next one
    assert set(cards) == {consented, declined, elsewhere}
    first = cards[consented]
    assert "N-1" in first and "Anna Holm" in first
    for flag in ("in_contact", "payment_plan", "benefit_pending", "hold_requested"):
        assert f'data-flag="{flag}"' in first, flag
    assert 'data-flag="rent_deduction"' not in first  # applied, not confirmed
    assert "hold-answer-" in first  # the request waits for their answer
    for case_id in (declined, elsewhere):
        other = cards[case_id]
        assert "data-flag" not in other and "hold-answer-" not in other
        assert "The municipality has the case." in other
    assert f'id="tenant-{theirs}"' not in html and "Dorte" not in html
    for secret in ("SECRET", "7.777", "section_81b", "aktivloven"):
        assert secret not in html
    with app.app_context():
        assert db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(
                AuditEvent.user_id == people["landlord"].id,
                AuditEvent.object_type == "landlord_cases",
            )
        ) == 1  # fmt: skip


def test_the_flags_take_a_fixed_number_of_queries(app, make_case, people):
    from sqlalchemy import event

    from fieldapp.services.flags import case_flags

    worker = people["worker"].id
    ids = [make_case(landlord=OWN, worker_id=worker) for _ in range(6)]
    with app.app_context():
        for case_id in ids:
            _records(case_id, worker)
        db.session.commit()
        counted = []

        def count(*_args, **_kwargs):
            counted.append(1)

        engine = db.session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            few = case_flags(db.session, ids[:1])
            n_one = len(counted)
            counted.clear()
            many = case_flags(db.session, ids)
            n_many = len(counted)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert few[ids[0]].payment_plan and all(many[i].in_contact for i in ids)
    assert n_many == n_one == 5


# --- hold the petition -----------------------------------------------------------------------


def ask(auth, case_id: int, until: str, reason: str = "payment_plan"):
    return auth.post(
        f"/cases/{case_id}/holds", {"until": until, "reason": reason}, page=f"/cases/{case_id}"
    )


def holds(app, case_id: int) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(HoldRequest.state, HoldRequest.until, HoldRequest.answer_note)
            .where(HoldRequest.case_id == case_id)
            .order_by(HoldRequest.id)
        ).all()


def test_a_hold_is_asked_answered_and_shown_on_the_case(app, make_case, people):
    worker = people["worker"]
    case_id = make_case(landlord=OWN, reference="N-1", worker_id=worker.id)
    give_consent(app, case_id, worker.id, ["landlord"])
    until = TODAY + timedelta(days=40)
    auth = login(app, worker)
    asked = ask(auth, case_id, until.isoformat())
    assert asked.status_code == 303
    assert holds(app, case_id) == [("requested", until, "")]
    again = ask(auth, case_id, until.isoformat())  # one open request per case
    assert again.status_code == 422 and "already has an open request" in again.get_data(
        as_text=True
    )
    landlord = login(app, people["landlord"])
    page = landlord.client.get("/landlord/").get_data(as_text=True)
    hold_id = int(re.search(r'id="hold-answer-(\d+)"', page).group(1))
    answered = landlord.post(
        f"/landlord/holds/{hold_id}/answer",
        {"answer": "accept", "note": "Vi venter til da"},
        page="/landlord/",
    )
    assert answered.status_code == 303
    assert holds(app, case_id) == [("accepted", until, "Vi venter til da")]
    case_page = auth.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-state="accepted"' in case_page and "Vi venter til da" in case_page
    assert "Bo Udlejer" in case_page  # who answered
    card = auth.client.get(f"/field/cases/{case_id}").get_data(as_text=True)
    assert 'id="card-hold"' in card and "Vi venter til da" in card  # and on the worker's card
    # Answered once: a second answer is refused, and the flag stays for the landlord.
    twice = landlord.post(
        f"/landlord/holds/{hold_id}/answer", {"answer": "decline"}, page="/landlord/"
    )
    assert twice.status_code == 422
    assert holds(app, case_id)[0][0] == "accepted"
    assert 'data-flag="hold_requested"' in landlord.client.get("/landlord/").get_data(as_text=True)
    # The worker withdraws it; a new one may then be asked.
    withdrawn = auth.post(
        f"/cases/{case_id}/holds/{hold_id}/withdraw", {}, page=f"/cases/{case_id}"
    )
    assert withdrawn.status_code == 303 and holds(app, case_id)[0][0] == "withdrawn"
    assert ask(auth, case_id, until.isoformat()).status_code == 303


def test_a_hold_is_refused_without_the_landlords_consent(app, make_case, people):
    worker = people["worker"]
    case_id = make_case(landlord=OWN, worker_id=worker.id)
    give_consent(app, case_id, worker.id, ["debt_counselling"])
    auth = login(app, worker)
    page = auth.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="hold-no-consent"' in page and 'id="hold-form"' not in page
    answer = ask(auth, case_id, (TODAY + timedelta(days=10)).isoformat())
    assert answer.status_code == 422
    assert "consent does not cover the landlord" in answer.get_data(as_text=True)
    assert holds(app, case_id) == []


@pytest.mark.parametrize(
    ("until", "reason", "status", "named"),
    [
        ("2026-13-01", "payment_plan", 400, "2026-13-01"),
        ("", "payment_plan", 400, "Hold until"),
        ("next week", "payment_plan", 400, "next week"),
        (TODAY.isoformat(), "payment_plan", 422, TODAY.isoformat()),
        ((TODAY + timedelta(days=200)).isoformat(), "payment_plan", 422, "6 months"),
        ((TODAY + timedelta(days=9)).isoformat(), "<script>x</script>", 422, "Reason"),
    ],
)
def test_wrong_hold_input_is_named_and_nothing_stored(
    app, make_case, people, until, reason, status, named
):
    worker = people["worker"]
    case_id = make_case(landlord=OWN, worker_id=worker.id)
    give_consent(app, case_id, worker.id, ["landlord"])
    answer = ask(login(app, worker), case_id, until, reason)
    html = answer.get_data(as_text=True)
    assert answer.status_code == status and named in html
    assert "<script>x</script>" not in html
    assert holds(app, case_id) == []


def _requested_hold(app, make_case, worker) -> tuple[int, int]:
    """A consented case of the landlord with a request waiting for their answer."""
    case_id = make_case(landlord=OWN, worker_id=worker.id)
    give_consent(app, case_id, worker.id, ["landlord"])
    assert ask(login(app, worker), case_id, (TODAY + timedelta(days=9)).isoformat()).status_code
    with app.app_context():
        return case_id, db.session.scalar(select(HoldRequest.id))


def test_wrong_answers_and_other_landlords_are_refused(app, make_case, people):
    worker = people["worker"]
    case_id, hold_id = _requested_hold(app, make_case, worker)
    url = f"/landlord/holds/{hold_id}/answer"
    other = login(app, people["other_landlord"])
    assert other.post(url, {"answer": "accept"}, page="/landlord/").status_code == 404
    landlord = login(app, people["landlord"])
    maybe = landlord.post(url, {"answer": "maybe"}, page="/landlord/")
    assert maybe.status_code == 422 and "Answer" in maybe.get_data(as_text=True)
    long = landlord.post(url, {"answer": "accept", "note": "x" * 501}, page="/landlord/")
    assert long.status_code == 422 and "501" in long.get_data(as_text=True)
    assert landlord.post("/landlord/holds/999999/answer", {"answer": "accept"},
                         page="/landlord/").status_code == 404  # fmt: skip
    # The tenant withdraws the consent: the landlord can no longer answer (nor see it).
    give_consent(app, case_id, worker.id, [])
    with app.app_context():
        from fieldapp.models import Consent

        latest = db.session.scalars(select(Consent).order_by(Consent.id.desc())).first()
        latest.state = "withdrawn"
        db.session.commit()
    late = landlord.post(url, {"answer": "accept"}, page="/landlord/")
    assert late.status_code == 403
    assert [state for state, *_ in holds(app, case_id)] == ["requested"]


def test_a_worker_of_another_team_cannot_ask_a_hold(app, make_case, people):
    case_id = make_case(landlord=OWN, worker_id=people["worker"].id)
    give_consent(app, case_id, people["worker"].id, ["landlord"])
    answer = ask(login(app, people["other_worker"]), case_id, (TODAY + timedelta(9)).isoformat())
    assert answer.status_code == 403
    assert holds(app, case_id) == []


# --- how an accepted hold ends ---------------------------------------------------------------


def _accepted_hold(app, make_case, people, **case) -> tuple[int, int]:
    worker = people["worker"]
    case_id = make_case(landlord=OWN, worker_id=worker.id, **case)
    give_consent(app, case_id, worker.id, ["landlord"])
    with app.app_context():
        from fieldapp.usecases import Actor, UnitOfWork
        from fieldapp.usecases.holds import NewHold, answer, ask_to_hold

        with UnitOfWork(db.session) as uow:
            hold = ask_to_hold(
                uow, Actor.person(db.session.get(User, worker.id)), case_id,
                NewHold(TODAY + timedelta(days=30), "payment_plan"),
            )  # fmt: skip
            hold_id = hold.id
        with UnitOfWork(db.session) as uow:
            answer(uow, Actor.person(db.session.get(User, people["landlord"].id)), hold_id, True)
    return case_id, hold_id


def ending(app, hold_id: int) -> tuple:
    with app.app_context():
        hold = db.session.get(HoldRequest, hold_id)
        return hold.ended_with, hold.ended_on


def test_an_accepted_hold_ends_in_a_petition_added_by_hand(app, make_case, people):
    case_id, hold_id = _accepted_hold(app, make_case, people)
    auth = login(app, people["lead"])
    added = auth.post(
        f"/cases/{case_id}/legal-steps",
        {"kind": "hearing", "date": (TODAY + timedelta(days=20)).isoformat()},
        page=f"/cases/{case_id}",
    )
    assert added.status_code == 303 and ending(app, hold_id) == (None, None)  # not a petition
    added = auth.post(
        f"/cases/{case_id}/legal-steps", {"kind": "petition", "date": TODAY.isoformat()},
        page=f"/cases/{case_id}",
    )  # fmt: skip
    assert added.status_code == 303
    assert ending(app, hold_id) == ("petition", TODAY)
    assert "Ended in a petition" in auth.client.get(f"/cases/{case_id}").get_data(as_text=True)


def test_an_accepted_hold_ends_in_a_petition_imported_by_the_landlord(app, make_case, people):
    case_id, hold_id = _accepted_hold(app, make_case, people, reference="N-7")
    data = csv_bytes(
        ["Udlejer", "Lejemålsnr.", "Hændelse", "Dato"],
        [[OWN, "N-7", "petition", TODAY.strftime("%d-%m-%Y")]],
    )
    auth = login(app, people["landlord"])
    assert confirm(auth, post_file(auth, data, "t.csv", kind="legal_steps")).status_code == 200
    assert ending(app, hold_id) == ("petition", TODAY)


def test_an_accepted_hold_ends_in_payment_when_the_next_list_shows_it_paid(app, make_case, people):
    case_id, hold_id = _accepted_hold(
        app, make_case, people, reference="N-8", address="Strandvej 8", name="Eva Lund"
    )
    with app.app_context():
        untouched = db.session.scalar(select(func.count()).select_from(HoldRequest))
    header = ["Lejemålsnr.", "Navn", "Adresse", "Postnr.", "By", "Restance", "Opgjort pr."]
    row = ["N-8", "Eva Lund", "Strandvej 8", "3000", "Helsingør"]
    auth = login(app, people["landlord"])
    yesterday = (TODAY - timedelta(days=1)).strftime("%d-%m-%Y")
    still = csv_bytes(header, [[*row, "9.000,00", yesterday]])
    confirm(auth, post_file(auth, still, "a.csv"))
    assert ending(app, hold_id) == (None, None)  # still in arrears: the hold runs
    paid = csv_bytes(header, [[*row, "0,00", TODAY.strftime("%d-%m-%Y")]])
    preview = post_file(auth, paid, "b.csv")
    assert staged_id(preview)
    confirm(auth, preview, complete_list="1")
    assert ending(app, hold_id) == ("payment", TODAY)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HoldRequest)) == untouched


def test_an_accepted_hold_ends_in_payment_when_the_case_closes_paid_up(app, make_case, people):
    from fieldapp.services.cases import close_case

    case_id, hold_id = _accepted_hold(app, make_case, people)
    with app.app_context():
        case = db.session.get(Case, case_id)
        close_case(db.session, case, "moved_away", None)
        db.session.flush()
        hold = db.session.get(HoldRequest, hold_id)
        assert hold.ended_with is None  # moved away: no payment
        db.session.rollback()
        close_case(db.session, db.session.get(Case, case_id), "paid_up", None)
        db.session.commit()
    assert ending(app, hold_id) == ("payment", TODAY)


def test_the_command_line_imports_one_landlords_own_legal_steps(app, runner, make_case, tmp_path):
    own = make_case(landlord=OWN, reference="N-1")
    foreign = make_case(landlord=OTHER, reference="S-9")
    path = tmp_path / "trin.csv"
    path.write_bytes(
        csv_bytes(
            ["Udlejer", "Lejemålsnr.", "Hændelse", "Dato"],
            [["", "N-1", "petition", "01-11-2026"], ["", "S-9", "petition", "01-11-2026"]],
        )
    )
    unknown = runner.invoke(args=["import-legal-steps", str(path), "--landlord", "Ingen"])
    assert unknown.exit_code != 0 and "'Ingen'" in unknown.output
    result = runner.invoke(args=["import-legal-steps", str(path), "--landlord", OWN])
    assert "1 new" in result.output and "1 rejected" in result.output
    with app.app_context():
        assert db.session.execute(select(LegalStep.case_id)).scalars().all() == [own]
        assert db.session.get(Case, foreign).legal_steps == []


def test_an_answer_through_htmx_comes_back_on_the_page_and_is_audited(app, make_case, people):
    worker = people["worker"]
    case_id, hold_id = _requested_hold(app, make_case, worker)
    landlord = login(app, people["landlord"])
    token = re.search(
        r'name="csrf_token" value="([^"]+)"',
        landlord.client.get("/landlord/").get_data(as_text=True),
    ).group(1)
    headers = {"HX-Request": "true"}
    wrong = landlord.client.post(
        f"/landlord/holds/{hold_id}/answer", data={"answer": "", "csrf_token": token},
        headers=headers,
    )  # fmt: skip
    assert wrong.status_code == 200 and 'role="alert"' in wrong.get_data(as_text=True)
    done = landlord.client.post(
        f"/landlord/holds/{hold_id}/answer", data={"answer": "decline", "csrf_token": token},
        headers=headers,
    )  # fmt: skip
    assert done.status_code == 200 and 'id="landlord-notice"' in done.get_data(as_text=True)
    assert [state for state, *_ in holds(app, case_id)] == ["declined"]
    with app.app_context():
        lines = db.session.execute(
            select(AuditEvent.user_id, AuditEvent.action, AuditEvent.detail)
            .where(AuditEvent.object_type == "hold_request")
            .order_by(AuditEvent.id)
        ).all()
    assert lines == [(worker.id, "create", ""), (people["landlord"].id, "update", "declined")]


@pytest.mark.parametrize(("country", "words"), [("DK", "benefits office"), ("NO", "NAV")])
def test_the_reasons_are_in_the_countrys_words(app, make_case, people, country, words):
    from fieldapp.models import Organisation

    worker = people["worker"]
    case_id = make_case(landlord=OWN, worker_id=worker.id)
    give_consent(app, case_id, worker.id, ["landlord"])
    with app.app_context():
        for organisation in db.session.scalars(select(Organisation)):
            organisation.country = country
        db.session.commit()
    page = login(app, worker).client.get(f"/cases/{case_id}").get_data(as_text=True)
    form = page[page.index('id="hold-form"') :]
    assert f"An application to {'the ' if country == 'DK' else ''}{words}" in form


def test_a_landlord_account_bound_to_no_landlord_has_no_import_pages(app, make_user, people):
    with app.app_context():
        user = db.session.get(User, people["landlord"].id)
        user.landlord_id = None
        db.session.commit()
    auth = login(app, people["landlord"])
    assert auth.client.get("/imports").status_code == 403
