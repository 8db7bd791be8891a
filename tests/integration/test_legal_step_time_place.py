"""A hearing's time and court, from entry to the worker's card: the lead's *Add to timeline*
form and the import of legal steps store them, the case page and the card show them, and
migration 0022 adds them to a register that already holds steps."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from fieldapp import create_app
from fieldapp.extensions import db
from fieldapp.models import Case, LegalStep
from tests.conftest import base_config, empty_postgres_database
from tests.support import AuthActions

TODAY = date.today()
COURT = "Fogedretten i Helsingør, Kongevejen 2"


@pytest.fixture
def people(make_user, auth):
    lead = make_user("lead", name="Lone Lead")
    worker = make_user("worker", name="Mette Holm")
    auth.login(lead.email)
    return lead, worker


def section(html: str, element_id: str) -> str:
    """The list or definition with this id, up to its end."""
    match = re.search(rf'id="{element_id}".*?</(ol|ul|dd)>', html, re.DOTALL)
    assert match, f"no #{element_id} on the page"
    return match.group(0)


def add_step(auth, case_id: int, **fields):
    return auth.post(f"/cases/{case_id}/legal-steps", fields, page=f"/cases/{case_id}")


def test_the_form_stores_time_and_place_and_the_card_and_case_page_show_them(
    app, auth, people, make_case
):
    lead, worker = people
    case_id = make_case(worker_id=worker.id)
    day = TODAY + timedelta(days=10)
    response = add_step(
        auth, case_id, kind="hearing", date=day.isoformat(), at_time="10:00", place=COURT
    )
    assert response.status_code == 303
    with app.app_context():
        step = db.session.scalar(select(LegalStep).where(LegalStep.case_id == case_id))
        assert (step.at_time, step.place) == (time(10, 0), COURT)

    page = auth.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "at 10:00 added to the timeline." in page
    timeline = section(page, "legal-steps")
    assert f'datetime="{day.isoformat()}T10:00"' in timeline
    assert "at 10:00</time>" in timeline and f"· {COURT}" in timeline
    assert "at 10:00" in section(page, "state-legal") and COURT in section(page, "state-legal")

    phone = AuthActions(app.test_client())
    phone.login(worker.email)
    card = phone.client.get(f"/field/cases/{case_id}").get_data(as_text=True)
    dates = section(card, "legal-dates")
    assert "<strong>Meeting in the bailiff's court (fogedretsmøde) in 10 days</strong>" in dates
    assert f"at 10:00</time> · {COURT}</li>" in dates

    # In Danish (and Norwegian) the hour is "kl. 10.00".
    phone.post("/language", {"lang": "da", "back": "/today"}, page="/today")
    card = phone.client.get(f"/field/cases/{case_id}").get_data(as_text=True)
    assert f"kl. 10.00</time> · {COURT}</li>" in section(card, "legal-dates")
    auth.post("/language", {"lang": "nb", "back": f"/cases/{case_id}"}, page=f"/cases/{case_id}")
    page = auth.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "kl. 10.00" in section(page, "legal-steps") and 'id="step-time"' in page


def test_a_step_without_time_or_place_reads_as_before_and_a_double_click_adds_one(
    app, auth, people, make_case
):
    case_id = make_case()
    day = TODAY + timedelta(days=5)
    for _ in range(2):
        response = add_step(
            auth, case_id, kind="hearing", date=day.isoformat(), at_time="09:30", place=COURT
        )
        assert response.status_code == 303
    plain = add_step(auth, case_id, kind="petition", date=TODAY.isoformat())
    assert plain.status_code == 303
    with app.app_context():
        steps = db.session.scalars(select(LegalStep).order_by(LegalStep.date)).all()
        assert [(s.kind, s.at_time, s.place) for s in steps] == [
            ("petition", None, ""),
            ("hearing", time(9, 30), COURT),
        ]
    timeline = section(auth.client.get(f"/cases/{case_id}").get_data(as_text=True), "legal-steps")
    assert f'<time datetime="{TODAY.isoformat()}">' in timeline


@pytest.mark.parametrize("typed", ["25:00", "kl. ti", "10.5"])
def test_a_bad_time_on_the_form_is_refused_naming_it_and_nothing_is_stored(
    app, auth, people, make_case, typed
):
    case_id = make_case()
    day = (TODAY + timedelta(days=3)).isoformat()
    response = add_step(auth, case_id, kind="hearing", date=day, at_time=typed, place=COURT)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f"Time: {typed!r} is not a time of day (e.g. 10:00)." in html.replace("&#39;", "'")
    with app.app_context():
        assert db.session.scalars(select(LegalStep)).all() == []


def test_a_place_longer_than_the_column_is_refused(app, auth, people, make_case):
    case_id = make_case()
    day = (TODAY + timedelta(days=3)).isoformat()
    response = add_step(auth, case_id, kind="hearing", date=day, place="x" * 201)
    assert response.status_code == 400
    assert "at most 200 characters" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(LegalStep)).all() == []


# --- the import ------------------------------------------------------------------------------


def steps_file(tmp_path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "fogedret.csv"
    path.write_bytes(buffer.getvalue().encode("cp1252"))
    return path


HEADER = ["Udlejer", "Lejemålsnr.", "Adresse", "Postnr.", "Hændelse", "Dato"]
LANDLORD = "Boligforeningen Kronborg"


def stored(app) -> dict[str, tuple]:
    with app.app_context():
        rows = db.session.execute(
            select(Case.tenancy_id, LegalStep.kind, LegalStep.at_time, LegalStep.place)
            .join(Case, Case.id == LegalStep.case_id)
            .order_by(LegalStep.id)
        ).all()
        from fieldapp.models import Tenancy

        refs = dict(db.session.execute(select(Tenancy.id, Tenancy.reference)).all())
        return {refs[tenancy]: (kind, at, place) for tenancy, kind, at, place in rows}


def test_an_import_with_time_and_court_columns_stores_them(app, runner, tmp_path):
    path = steps_file(
        tmp_path,
        [*HEADER, "Kl.", "Retten"],
        [
            [LANDLORD, "K-1", "Stengade 1", "3000", "Retsmøde", "09-12-2099", "kl. 10.00", COURT],
            [LANDLORD, "K-2", "Stengade 2", "3000", "Retsmøde", "10-12-2099", "13:30", COURT],
            [LANDLORD, "K-3", "Stengade 3", "3000", "Retsmøde", "11-12-2099", "9.15", ""],
            [LANDLORD, "K-4", "Stengade 4", "3000", "Stævning", "01-11-2026", "", ""],
        ],
    )
    result = runner.invoke(args=["import-legal-steps", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert stored(app) == {
        "K-1": ("hearing", time(10, 0), COURT),
        "K-2": ("hearing", time(13, 30), COURT),
        "K-3": ("hearing", time(9, 15), ""),
        "K-4": ("petition", None, ""),
    }


def test_norwegian_and_english_column_names_are_read(app, runner, tmp_path):
    court = "Drammen tingrett, Grønland 32"
    path = steps_file(
        tmp_path,
        ["Utleier", "Leieforhold", "Gateadresse", "Postnummer", "Hendelse", "Dato", "Klokkeslett",
         "Tingrett"],
        [["Drammen Eiendom KF", "D-1", "Tollbugata 5", "3036", "Forliksmøte", "14.12.2099",
          "kl. 09.00", court]],
    )  # fmt: skip
    result = runner.invoke(args=["import-legal-steps", str(path)])
    assert result.exit_code == 0, result.output
    english = steps_file(
        tmp_path,
        ["Landlord", "Tenancy number", "Address", "Postcode", "Step", "Date", "Time", "Court"],
        [["Drammen Eiendom KF", "D-2", "Tollbugata 7", "3036", "Hearing", "15.12.2099", "11:00",
          "Namsmannen i Drammen"]],
    )  # fmt: skip
    assert runner.invoke(args=["import-legal-steps", str(english)]).exit_code == 0
    assert stored(app) == {
        "D-1": ("hearing", time(9, 0), court),
        "D-2": ("hearing", time(11, 0), "Namsmannen i Drammen"),
    }


def test_a_bad_time_is_a_row_error_naming_the_row_and_value_and_that_row_is_not_stored(
    app, runner, tmp_path
):
    path = steps_file(
        tmp_path,
        [*HEADER, "Tidspunkt", "Retten"],
        [
            [LANDLORD, "K-1", "Stengade 1", "3000", "Retsmøde", "09-12-2099", "kl. 10.00", COURT],
            [LANDLORD, "K-2", "Stengade 2", "3000", "Retsmøde", "10-12-2099", "kl. 25.00", COURT],
            [LANDLORD, "K-3", "Stengade 3", "3000", "Retsmøde", "11-12-2099", "", "x" * 201],
        ],
    )
    result = runner.invoke(args=["import-legal-steps", str(path)])
    assert result.exit_code == 1
    assert (
        "row 3, time: 'kl. 25.00' — not a time: 'kl. 25.00' "
        "(expected hours and minutes, e.g. 10.00)"
    ) in result.stdout
    assert "row 4, court or place: " in result.stdout and "longer than 200" in result.stdout
    assert stored(app) == {"K-1": ("hearing", time(10, 0), COURT)}


def test_a_file_without_the_columns_imports_as_before(app, runner, tmp_path):
    path = steps_file(
        tmp_path,
        HEADER,
        [
            [LANDLORD, "K-1", "Stengade 1", "3000", "Fogedretten", "09-12-2099"],
            [LANDLORD, "K-2", "Stengade 2", "3000", "Stævning", "01-11-2026"],
        ],
    )
    result = runner.invoke(args=["import-legal-steps", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert '"unmapped": []' in result.stdout
    assert stored(app) == {"K-1": ("hearing", None, ""), "K-2": ("petition", None, "")}


def test_the_import_page_names_the_columns_in_words_and_confirm_stores_them(
    app, auth, people, tmp_path
):
    from tests.integration.test_import_pages import confirm, upload

    path = steps_file(
        tmp_path,
        [*HEADER, "Kl.", "Retten"],
        [[LANDLORD, "K-1", "Stengade 1", "3000", "Retsmøde", "09-12-2099", "kl. 10.00", COURT]],
    )
    preview = upload(auth, path, kind="legal_steps")
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert re.search(r"<td>Kl\.</td><td>\s*Time\s*</td>", html)
    assert re.search(r"<td>Retten</td><td>\s*Court or place\s*</td>", html)
    assert "at_time" not in html
    assert stored(app) == {}
    result = confirm(auth, preview)
    assert result.status_code == 200
    assert stored(app) == {"K-1": ("hearing", time(10, 0), COURT)}


# --- the migration ---------------------------------------------------------------------------


@pytest.fixture
def empty_database(backend, tmp_path):
    """An empty database of the backend, no revision run yet."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    with empty_postgres_database("doorstep_0021") as url:
        yield url


def test_the_migration_keeps_the_steps_of_a_register_at_0021(empty_database, tmp_path):
    from flask_migrate import upgrade

    app = create_app({**base_config(empty_database, tmp_path), "CHECK_SCHEMA": False})
    with app.app_context():
        upgrade(revision="0021")
        with db.engine.begin() as connection:
            for statement in (
                "INSERT INTO landlord (id, name, kind) VALUES (1, 'Kronborg', 'private')",
                "INSERT INTO household (id, name, name_key, address, postcode, town, "
                "address_key, phone, language, needs_interpreter, adults, children, "
                "geo_source, geo_accuracy, created_at) VALUES (1, '', '', 'Stengade 1', "
                "'3000', 'Helsingør', 'stengade 1 3000', '', '', false, 1, 0, '', '', "
                "'2026-11-01')",
                "INSERT INTO tenancy (id, household_id, landlord_id, reference, "
                "current_arrears, created_at) VALUES (1, 1, 1, 'K-1', 0, '2026-11-01')",
                "INSERT INTO case_file (id, tenancy_id, status, cause, priority, "
                "priority_reasons, opened_at, version) "
                "VALUES (1, 1, 'new', 'economic', 0, '[]', '2026-11-01', 1)",
                "INSERT INTO legal_step (case_id, kind, date, note, source, created_at) VALUES "
                "(1, 'petition', '2026-11-01', '', 'import', '2026-11-01'), "
                "(1, 'hearing', '2026-12-09', 'kl. 10 i fogedretten', 'manual', '2026-11-02')",
            ):
                connection.execute(text(statement))
        upgrade()
        steps = db.session.scalars(select(LegalStep).order_by(LegalStep.date)).all()
        assert [(s.kind, s.date, s.note, s.at_time, s.place) for s in steps] == [
            ("petition", date(2026, 11, 1), "", None, ""),
            ("hearing", date(2026, 12, 9), "kl. 10 i fogedretten", None, ""),
        ]
        steps[1].at_time, steps[1].place = time(10, 0), COURT
        db.session.commit()
        assert db.session.get(LegalStep, steps[1].id).at_time == time(10, 0)
        db.session.remove()
        db.engine.dispose()
