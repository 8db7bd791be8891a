"""The legal clock of each country, end to end: a Danish påkrav or a Norwegian § 9-11 notice
imported with `fieldapp import-legal-steps` sets the case's next deadline 14 days on; the
card and the case page show the clock; a Danish petition for a family with children is to be
assessed at once (retssikkerhedsloven § 5 a); the new deadlines are reminded once by push."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Case, LegalStep, Organisation, Reminder
from fieldapp.services.triage import refresh_priorities
from tests.integration import test_push
from tests.integration.test_legal_step_time_place import section
from tests.integration.test_push import local, send, subscribe
from tests.support import AuthActions

# The push stand-in and the app that sends to it, as tests/integration/test_push.py has them.
service = test_push.service
push_app = test_push.push_app

TODAY = date.today()
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DANISH = FIXTURES / "legal_steps_dk_pakrav.csv"
NORWEGIAN = FIXTURES / "legal_steps_no_varsel_9_11.csv"


def in_country(app, country: str) -> None:
    with app.app_context():
        for organisation in db.session.scalars(select(Organisation)):
            organisation.country = country
        db.session.commit()


def steps_file(tmp_path: Path, rows: list[list[str]], name: str = "steps.csv") -> Path:
    """A legal-step CSV with the Danish headers of tests/integration/test_import_cli.py."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Udlejer", "Lejemålsnr.", "Adresse", "Postnr.", "Hændelse", "Dato"])
    writer.writerows(rows)
    path = tmp_path / name
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def the_case(app) -> Case:
    with app.app_context():
        case = db.session.scalars(select(Case)).one()
        db.session.expunge(case)
        return case


def english(app, user) -> AuthActions:
    client = AuthActions(app.test_client())
    client.login(user.email)
    with client.client.session_transaction() as session:
        session["lang"] = "en"
    return client


def test_a_danish_demand_imported_by_the_command_ends_fourteen_days_later(
    app, runner, make_user, tmp_path
) -> None:
    make_user("lead", team="Team A")
    day = TODAY - timedelta(days=2)
    path = steps_file(
        tmp_path,
        [["Boligselskabet Nord", "BN-1", "Stengade 1", "3000", "Påkrav", f"{day:%d.%m.%Y}"]],
    )
    result = runner.invoke(args=["import-legal-steps", str(path)])
    assert result.exit_code == 0, result.output
    case = the_case(app)
    assert (case.next_deadline, case.next_deadline_kind) == (
        day + timedelta(days=14),
        "demand_expires",
    )
    deadline = next(r for r in case.priority_reasons if r["code"] == "deadline")
    assert deadline == {"code": "deadline", "kind": "demand_expires", "value": 12}


def test_the_sample_files_of_each_country_import_their_first_step(app, runner, make_user) -> None:
    make_user("lead", team="Team A")
    result = runner.invoke(args=["import-legal-steps", str(DANISH), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 new" in result.stdout
    in_country(app, "NO")
    result = runner.invoke(args=["import-legal-steps", str(NORWEGIAN), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 new" in result.stdout


def test_a_norwegian_notice_gives_the_earliest_petition_fourteen_days_later(
    app, runner, make_user, tmp_path
) -> None:
    make_user("lead", team="Team A")
    in_country(app, "NO")
    day = TODAY - timedelta(days=1)
    path = steps_file(
        tmp_path,
        [["Drammen Eiendom KF", "D-1", "Tollbugata 5", "3036", "Varsel § 9-11", day.isoformat()]],
    )
    result = runner.invoke(args=["import-legal-steps", str(path)])
    assert result.exit_code == 0, result.output
    case = the_case(app)
    assert (case.next_deadline, case.next_deadline_kind) == (
        day + timedelta(days=14),
        "earliest_petition",
    )
    # The petition that follows replaces the notice's clock with its own next step.
    hearing = TODAY + timedelta(days=30)
    path = steps_file(
        tmp_path,
        [
            ["Drammen Eiendom KF", "D-1", "Tollbugata 5", "3036", "Begjæring", TODAY.isoformat()],
            ["Drammen Eiendom KF", "D-1", "Tollbugata 5", "3036", "Rettsmøte", hearing.isoformat()],
        ],
        "next.csv",
    )
    result = runner.invoke(args=["import-legal-steps", str(path)])
    assert result.exit_code == 0, result.output
    case = the_case(app)
    assert (case.next_deadline, case.next_deadline_kind) == (hearing, "hearing")


def test_a_norwegian_organisation_refuses_a_danish_demand_naming_its_own_steps(
    app, runner, make_user, tmp_path
) -> None:
    make_user("lead", team="Team A")
    in_country(app, "NO")
    path = steps_file(
        tmp_path, [["Drammen Eiendom KF", "D-1", "Tollbugata 5", "3036", "Påkrav", "01.12.2026"]]
    )
    result = runner.invoke(args=["import-legal-steps", str(path)])
    assert result.exit_code == 1
    assert (
        "row 2, step: 'Påkrav' — step 'Påkrav' is not used in this country; allowed here: "
        "varsel § 9-11 (notice_9_11), begjæring om fravikelse (petition)"
    ) in result.stdout
    with app.app_context():
        assert db.session.scalars(select(LegalStep)).all() == []


def test_the_card_and_the_case_page_show_the_clock(app, make_user, make_case) -> None:
    worker = make_user("worker", team="Team A")
    lead = make_user("lead", team="Team A")
    day = TODAY - timedelta(days=4)
    case_id = make_case(worker_id=worker.id, steps=[("demand", day)])
    card = english(app, worker).client.get(f"/field/cases/{case_id}").get_data(as_text=True)
    clock = section(card, "legal-clock")
    assert clock.index("Written demand for payment (påkrav)") < clock.index("Petition to the")
    assert f'datetime="{day.isoformat()}"' in clock
    assert "14 days to pay end (påkrav)</span>" in clock and "in 10 days" in clock
    assert 'class="clock-step next"' in clock
    page = english(app, lead).client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "in 10 days" in section(page, "legal-clock")
    # The step form offers Denmark's steps, not Norway's.
    assert 'value="demand"' in page and 'value="notice_9_11"' not in page
    in_country(app, "NO")
    page = english(app, lead).client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'value="notice_9_11"' in page and 'value="demand"' not in page


def test_a_step_of_the_other_country_is_refused_on_the_form(app, make_user, make_case) -> None:
    lead = make_user("lead", team="Team A")
    case_id = make_case()
    in_country(app, "NO")
    auth = english(app, lead)
    response = auth.post(
        f"/cases/{case_id}/legal-steps",
        {"kind": "demand", "date": TODAY.isoformat()},
        page=f"/cases/{case_id}",
    )
    assert response.status_code == 400
    assert "Step &#39;demand&#39; is not used in this country." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(LegalStep)).all() == []


def test_a_danish_petition_for_a_family_with_children_is_to_be_assessed_at_once(
    app, make_user, make_case
) -> None:
    lead = make_user("lead", team="Team A")
    family = make_case(children=2, steps=[("demand", TODAY - timedelta(days=20))])
    single = make_case(children=0)
    auth = english(app, lead)
    for case_id in (family, single):
        response = auth.post(
            f"/cases/{case_id}/legal-steps",
            {"kind": "petition", "date": TODAY.isoformat()},
            page=f"/cases/{case_id}",
        )
        assert response.status_code == 303
    with app.app_context():
        reasons = {c.id: c.priority_reasons for c in db.session.scalars(select(Case))}
    assert {"code": "assess_at_once", "value": TODAY.isoformat()} in reasons[family]
    assert all(r["code"] != "assess_at_once" for r in reasons[single])
    page = auth.client.get("/cases").get_data(as_text=True)
    assert "assess at once (retssikkerhedsloven § 5 a)" in page
    # A contact before the petition does not count; one on or after its date does.
    with app.app_context():
        case = db.session.get(Case, family)
        case.last_contact_at = datetime.now(UTC) - timedelta(days=3)
        db.session.commit()
        refresh_priorities(db.session, [family])
        db.session.commit()
        assert any(r["code"] == "assess_at_once" for r in case.priority_reasons)
        case.last_contact_at = datetime.now(UTC)
        db.session.commit()
        refresh_priorities(db.session, [family])
        db.session.commit()
        assert all(r["code"] != "assess_at_once" for r in case.priority_reasons)
        case.last_contact_at = None
        db.session.commit()
    in_country(app, "NO")  # Norway has no such rule
    with app.app_context():
        refresh_priorities(db.session, [family])
        db.session.commit()
        case = db.session.get(Case, family)
        assert all(r["code"] != "assess_at_once" for r in case.priority_reasons)


@pytest.mark.parametrize(
    ("country", "kind", "title"),
    [("DK", "demand", "The 14 days to pay end"), ("NO", "notice_9_11", "A petition may be filed")],
)
def test_the_clocks_deadline_is_reminded_once_per_offset_without_personal_data(
    push_app, service, make_user, make_case, country, kind, title
) -> None:
    worker = make_user("worker", name="Mette Holm")
    lead = make_user("lead", name="Lone Lead")
    start = date(2026, 12, 1)
    due = start + timedelta(days=14)
    case_id = make_case(
        name="Lars Bakken", address="Stengade 12", worker_id=worker.id, steps=[(kind, start)]
    )
    in_country(push_app, country)
    phone = subscribe(push_app, service, worker)
    laptop = subscribe(push_app, service, lead, "Firefox/133 Windows")
    for days in (7, 7, 2, 1, 1, 0):  # the second run at each offset finds nothing new
        send(push_app, local(due - timedelta(days=days), 8, 0))
    mine = [d.payload for d in service.for_device(phone)]
    assert [p["title"] for p in mine] == [
        f"{title} in 7 days",
        f"{title} in 2 days",
        f"{title} tomorrow",
    ]
    assert {p["url"] for p in mine} == {f"/field/cases/{case_id}"}
    assert len(service.for_device(laptop)) == 3
    for payload in mine:
        text = " ".join(payload.values())
        assert "Bakken" not in text and "Stengade" not in text
    with push_app.app_context():
        kinds = {r.kind for r in db.session.scalars(select(Reminder))}
    assert kinds == {"demand_expires" if kind == "demand" else "earliest_petition"}


def test_a_petition_after_the_demand_stops_its_reminders(
    push_app, service, make_user, make_case
) -> None:
    worker = make_user("worker")
    start = date(2026, 12, 1)
    case_id = make_case(worker_id=worker.id, steps=[("demand", start)])
    phone = subscribe(push_app, service, worker)
    send(push_app, local(start + timedelta(days=7), 8, 0))
    assert len(service.for_device(phone)) == 1
    with push_app.app_context():
        db.session.add(LegalStep(case_id=case_id, kind="petition", date=start + timedelta(days=9)))
        db.session.commit()
    send(push_app, local(start + timedelta(days=12), 8, 0))
    send(push_app, local(start + timedelta(days=13), 8, 0))
    assert len(service.for_device(phone)) == 1


@pytest.mark.parametrize(
    ("country", "lang", "kind", "words"),
    [
        (
            "DK",
            "da",
            "demand",
            ("Påkrav", "Lejerens 14 dages betalingsfrist udløber", "om 10 dage"),
        ),
        ("NO", "nb", "notice_9_11", ("Varsel til NAV", "Tidligste begjæring", "om 10 dager")),
    ],
)
def test_the_clock_reads_in_each_countrys_words(
    app, make_user, make_case, country, lang, kind, words
) -> None:
    worker = make_user("worker", team="Team A")
    case_id = make_case(worker_id=worker.id, steps=[(kind, TODAY - timedelta(days=4))])
    in_country(app, country)
    phone = AuthActions(app.test_client())
    phone.login(worker.email)
    with phone.client.session_transaction() as session:
        session["lang"] = lang
    clock = section(
        phone.client.get(f"/field/cases/{case_id}").get_data(as_text=True), "legal-clock"
    )
    assert all(word in clock for word in words), clock
    assert ("fogedret" in clock) == (country == "DK")
