"""The import commands: `fieldapp import-arrears` and `fieldapp import-legal-steps`."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fieldapp import create_app
from fieldapp.extensions import db
from fieldapp.models import Case, ImportBatch, Landlord, LegalStep, Tenancy
from fieldapp.services.tabular import parse_arrears_rows, read_table

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DANISH = FIXTURES / "restanceliste_boligforening_2026-11-15.csv"
MIXED_ERRORS = FIXTURES / "bad_restanceliste_mixed_errors.csv"
LANDLORD = "Boligforeningen Kronborg"


def danish_rows() -> list[list[str]]:
    """The Danish sample's data rows, read with the csv module (header dropped)."""
    text = DANISH.read_bytes().decode("cp1252")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    return [row for row in rows[1:] if any(cell.strip() for cell in row)]


def count(app, model, *where) -> int:
    """How many rows a table holds (optionally filtered)."""
    with app.app_context():
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return db.session.scalar(query)


def arrears(runner, path: Path, *extra: str, landlord: str = LANDLORD):
    """Run `fieldapp import-arrears PATH --landlord NAME ...`."""
    return runner.invoke(args=["import-arrears", str(path), "--landlord", landlord, *extra])


def steps_file(tmp_path: Path, rows: list[list[str]]) -> Path:
    """A legal-step CSV in tmp_path with the usual Danish headers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Udlejer", "Lejemålsnr.", "Adresse", "Postnr.", "Hændelse", "Dato"])
    writer.writerows(rows)
    path = tmp_path / "fogedret.csv"
    path.write_bytes(buffer.getvalue().encode("cp1252"))
    return path


def test_import_arrears_creates_the_landlord_and_stores_every_row(app, runner) -> None:
    """An unknown landlord is created with --kind; every row is stored; exit 0."""
    n = len(danish_rows())
    result = arrears(runner, DANISH, "--kind", "housing_association")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Landlord '{LANDLORD}' is new: created as housing_association."
    assert lines[1].startswith(f"Imported {DANISH.name} for {LANDLORD} as of 2026-11-15: ")
    assert lines[1].endswith(f"{n} new, 0 updated, 0 unchanged, 0 cleared, 0 rejected.")
    assert len(lines) == 2 and result.stderr == ""
    assert count(app, Case) == count(app, Tenancy) == n
    assert count(app, Landlord, Landlord.kind == "housing_association") == 1


def test_import_arrears_twice_is_a_no_op(app, runner) -> None:
    """The same file again (landlord spelled loosely) changes nothing; exit 0."""
    assert arrears(runner, DANISH).exit_code == 0
    before = (count(app, Case), count(app, ImportBatch), count(app, Tenancy))
    result = arrears(runner, DANISH, landlord="boligforeningen   KRONBORG")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Already imported (batch 1), nothing changed: ")
    assert f"0 new, 0 updated, {len(danish_rows())} unchanged" in result.stdout
    assert "is new" not in result.stdout  # the landlord was found, not created again
    assert (count(app, Case), count(app, ImportBatch), count(app, Tenancy)) == before
    assert count(app, Landlord) == 1


def test_rejected_rows_give_exit_status_1_and_one_line_each(app, runner) -> None:
    """Rejected rows: exit 1, one line per row naming row and field; the rest stored."""
    good, errors = parse_arrears_rows(read_table(MIXED_ERRORS.read_bytes(), MIXED_ERRORS.name))
    rejected = sorted({error.row for error in errors})
    result = arrears(runner, MIXED_ERRORS)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert f"{len(rejected)} rejected." in lines[1]
    row_lines = lines[2:]
    assert [int(line.split()[1].rstrip(",:")) for line in row_lines] == rejected
    bad_amount = next(e for e in errors if e.field == "arrears" and e.value == "4.804,0O")
    expected = f"row {bad_amount.row}, arrears: '4.804,0O' — {bad_amount.reason}"
    assert expected in row_lines
    assert any(line.startswith("row ") and "as-of date: '31-02-2026'" in line for line in row_lines)
    # The rows that were taken are stored (committed) despite the rejections.
    assert count(app, Case) == len([row for row in good if row.arrears > 0])
    assert count(app, ImportBatch) == 1


def test_json_prints_only_the_report(app, runner) -> None:
    """--json prints the report and nothing else."""
    result = arrears(runner, MIXED_ERRORS, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["kind"] == "arrears" and report["landlord"] == LANDLORD
    assert report["landlord_created"] is True and report["as_of"] == "2026-11-15"
    assert report["exit_code"] == 1 and report["dry_run"] is False
    assert report["rejected"] == len({error["row"] for error in report["errors"]})
    assert set(report["errors"][0]) == {"row", "field", "value", "reason"}
    assert report["mapping"]["Restance"] == "arrears"


def test_dry_run_stores_nothing_not_even_the_landlord(app, runner) -> None:
    """--dry-run reports the counts and rolls everything back."""
    result = arrears(runner, DANISH, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would be created" in result.stdout
    assert result.stdout.splitlines()[1].startswith("Dry run, nothing stored: ")
    assert f"{len(danish_rows())} new" in result.stdout
    assert count(app, Landlord) == count(app, Case) == count(app, ImportBatch) == 0
    assert arrears(runner, DANISH).exit_code == 0  # and a real import afterwards is not "already"
    assert count(app, Case) == len(danish_rows())


def test_as_of_overrides_the_dates_in_the_file(app, runner) -> None:
    """--as-of wins over the dates in the rows."""
    result = arrears(runner, DANISH, "--as-of", "2026-11-30", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["as_of"] == "2026-11-30"
    with app.app_context():
        stamps = set(db.session.scalars(select(Tenancy.arrears_as_of)))
        assert {stamp.date() for stamp in stamps} == {date(2026, 11, 30)}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"\x00\x01\x02\x03" * 200, "binary data"),
        ("Kontonr;Bemærkning\r\n1;ok\r\n".encode("cp1252"), "No recognisable columns"),
    ],
    ids=["empty", "binary", "no-columns"],
)
def test_a_refused_file_exits_2_and_stores_nothing(app, runner, tmp_path, content, message):
    """A refused file: exit 2, the reason on stderr, nothing stored."""
    path = tmp_path / "liste.csv"
    path.write_bytes(content)
    result = arrears(runner, path)
    assert result.exit_code == 2
    assert message in result.stderr and "liste.csv" in result.stderr
    assert result.stdout == ""
    assert count(app, Landlord) == count(app, ImportBatch) == 0


def test_an_unreadable_path_exits_2(app, runner, tmp_path) -> None:
    """A missing file or a directory: exit 2."""
    result = arrears(runner, tmp_path / "missing.csv")
    assert result.exit_code == 2 and "Cannot read" in result.stderr
    result = runner.invoke(args=["import-legal-steps", str(tmp_path)])
    assert result.exit_code == 2


def test_a_bad_option_exits_2(app, runner) -> None:
    """A malformed --as-of or unknown --kind is a usage error (exit 2)."""
    assert arrears(runner, DANISH, "--as-of", "15-11-2026").exit_code == 2
    assert arrears(runner, DANISH, "--kind", "council").exit_code == 2
    assert count(app, Landlord) == 0


def test_imports_refuse_a_database_whose_schema_is_behind(tmp_path) -> None:
    """On an unmigrated database the import is refused (exit 2)."""
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
            "SECRET_KEY": "k",
            "CHECK_SCHEMA": False,
        }
    )
    result = app.test_cli_runner().invoke(
        args=["import-arrears", str(DANISH), "--landlord", LANDLORD]
    )
    assert result.exit_code == 2 and "fieldapp db upgrade" in result.stderr
    with app.app_context():
        db.engine.dispose()


def test_import_legal_steps_then_again(app, runner, tmp_path) -> None:
    """Legal steps import (landlord created, eviction closes a case), then re-import is a no-op."""
    assert arrears(runner, DANISH).exit_code == 0
    first = danish_rows()[0]
    path = steps_file(
        tmp_path,
        [
            [LANDLORD, first[0], first[2], first[3], "Stævning", "01-11-2026"],
            [LANDLORD, first[0], first[2], first[3], "Fogedretten", "30-11-2099"],
            [
                "Drammen Eiendom KF",
                "",
                "Tollbugata 5",
                "3036",
                "Utkastelse gjennomført",
                "19.11.2026",
            ],
        ],
    )
    result = runner.invoke(args=["import-legal-steps", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Landlords not known before were created (kind private)."
    assert lines[1] == (
        "Imported fogedret.csv: 3 new, 0 updated, 0 unchanged, 0 cleared, 0 rejected."
    )
    assert count(app, LegalStep) == 3
    assert count(app, Case, Case.outcome == "evicted") == 1

    again = runner.invoke(args=["import-legal-steps", str(path), "--json"])
    assert again.exit_code == 0
    report = json.loads(again.stdout)
    assert report["already_imported"] is True and report["unchanged"] == 3
    assert report["landlord"] is None and report["kind"] == "legal_steps"
    assert count(app, LegalStep) == 3


def test_import_legal_steps_rejects_rows_and_refuses_files(app, runner, tmp_path) -> None:
    """An unknown step word is a rejected row (exit 1); an arrears list is refused (exit 2)."""
    path = steps_file(
        tmp_path,
        [
            ["Drammen Eiendom KF", "D-1", "Tollbugata 5", "3036", "Stevning", "05.11.2026"],
            ["Drammen Eiendom KF", "D-2", "Tollbugata 7", "3036", "Kaffe", "05.11.2026"],
        ],
    )
    result = runner.invoke(args=["import-legal-steps", str(path), "--dry-run"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1].startswith("Dry run, nothing stored: ")
    assert "row 3, step: 'Kaffe' — unknown step" in result.stdout
    assert count(app, Landlord) == count(app, LegalStep) == 0

    result = runner.invoke(args=["import-legal-steps", str(path)])
    assert result.exit_code == 1 and count(app, LegalStep) == 1

    (tmp_path / "wrong.csv").write_bytes(DANISH.read_bytes())  # an arrears list, not steps
    result = runner.invoke(args=["import-legal-steps", str(tmp_path / "wrong.csv")])
    assert result.exit_code == 2 and "Missing columns" in result.stderr
