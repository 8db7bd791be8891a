"""Specs for importing arrears lists and legal steps (fieldapp.services.imports)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from fieldapp.models import (
    ArrearsRecord,
    AuditEvent,
    Case,
    CaseEvent,
    Household,
    ImportBatch,
    Landlord,
    LegalStep,
    Organisation,
    Team,
    Tenancy,
    User,
)
from fieldapp.services.imports import (
    ImportReport,
    find_landlord,
    import_arrears,
    import_legal_steps,
)
from fieldapp.services.tabular import (
    FileRefused,
    parse_amount,
    parse_arrears_rows,
    parse_date,
    read_table,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DANISH = FIXTURES / "restanceliste_boligforening_2026-11-15.csv"
NORWEGIAN = FIXTURES / "husleierestanse_kommunale_boliger_2026-11-15.csv"
MIXED_ERRORS = FIXTURES / "bad_restanceliste_mixed_errors.csv"

# Columns of the Danish sample, by position.
REF, NAME, ADDRESS, POSTCODE, TOWN, PHONE, RENT, ARREARS, MONTHS, AS_OF = range(10)
TODAY = date(2026, 11, 20)
TABLES = (Household, Tenancy, Case, CaseEvent, ArrearsRecord, LegalStep, ImportBatch, AuditEvent)


# ---------------------------------------------------------------------------
# Helpers: reading the fixture files independently of the code under test
# ---------------------------------------------------------------------------


def read_csv(path: Path, encoding: str) -> tuple[list[str], list[list[str]]]:
    """The header and the non-blank data rows of a ';' file, read with the csv module."""
    text = path.read_bytes().decode(encoding)
    lines = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=";")]
    lines = [row for row in lines if any(cell.strip() for cell in row)]
    return lines[0], lines[1:]


def danish() -> tuple[list[str], list[list[str]]]:
    """The Danish sample's header and rows (Windows-1252)."""
    return read_csv(DANISH, "cp1252")


def csv_bytes(header: list[str], rows: list[list[str]], encoding: str = "cp1252") -> bytes:
    """Rows as an Excel-style ';' CSV with CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def write_list(path: Path, header: list[str], rows: list[list[str]]) -> bytes:
    """Write a list to a file in tmp_path (as a landlord would send it) and return its bytes."""
    data = csv_bytes(header, rows)
    path.write_bytes(data)
    return data


def count(session, model) -> int:
    """How many rows a table holds."""
    return session.scalar(select(func.count()).select_from(model))


def counts(session) -> dict[str, int]:
    """Row counts of every table an import writes to."""
    return {model.__name__: count(session, model) for model in TABLES}


def landlord(session, name: str = "Boligforeningen Kronborg") -> Landlord:
    """The named landlord, created as a housing association if new."""
    found = find_landlord(session, name, create=True, kind="housing_association")
    assert found is not None
    return found


def tenancy(session, reference: str) -> Tenancy:
    """The tenancy with this reference."""
    return session.scalars(select(Tenancy).where(Tenancy.reference == reference)).one()


def cases_of(session, reference: str) -> list[Case]:
    """The cases of the tenancy with this reference, oldest first."""
    return list(
        session.scalars(
            select(Case)
            .join(Tenancy, Case.tenancy_id == Tenancy.id)
            .where(Tenancy.reference == reference)
            .order_by(Case.id)
        )
    )


def events(session, case: Case, kind: str) -> list[CaseEvent]:
    """A case's timeline events of one kind."""
    return list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == kind)
        )
    )


def import_danish(session, owner: Landlord | None = None) -> ImportReport:
    """Import the Danish sample for a landlord and commit."""
    report = import_arrears(
        session, DANISH.read_bytes(), DANISH.name, owner or landlord(session), today=TODAY
    )
    session.commit()
    return report


def danish_amount(text: str) -> int:
    """A Danish amount cell ("53.496,00") in øre, converted here by hand, not by tabular."""
    kroner, _, oere = text.partition(",")
    return int(kroner.replace(".", "")) * 100 + int(oere or "0")


def amount_cell(oere: int) -> str:
    """Øre as a Danish amount cell: 6241200 -> "62.412,00"."""
    kroner = f"{oere // 100:,}".replace(",", ".")
    return f"{kroner},{oere % 100:02d}"


# ---------------------------------------------------------------------------
# The two samples
# ---------------------------------------------------------------------------


def test_danish_sample_opens_one_case_per_row(session) -> None:
    """Every row of the Danish list becomes a household, tenancy, record and new case."""
    header, rows = danish()
    assert len(rows) == 40  # the brief's count, read here from the file itself
    organisation = Organisation(name="Helsingør Kommune")
    team = Team(name="Boligsocialt team", organisation=organisation)
    session.add_all([organisation, team])
    session.flush()

    report = import_danish(session)

    assert (report.new, report.updated, report.unchanged, report.cleared) == (len(rows), 0, 0, 0)
    assert report.rejected == 0 and report.errors == [] and report.exit_code == 0
    assert not report.already_imported and not report.dry_run
    dates = Counter(row[AS_OF] for row in rows)
    assert report.as_of == parse_date(dates.most_common(1)[0][0]) == date(2026, 11, 15)
    assert report.mapping[header[ARREARS]] == "arrears"
    assert report.mapping[header[REF]] == "tenancy_ref"
    assert report.unmapped == [] and report.headers == header
    got = counts(session)
    for model in ("Household", "Tenancy", "Case", "ArrearsRecord"):
        assert got[model] == len(rows), model
    assert got["CaseEvent"] == len(rows) and got["ImportBatch"] == 1 and got["AuditEvent"] == 1
    assert len(report.case_ids) == len(rows)

    batch = session.get(ImportBatch, report.batch_id)
    assert batch.kind == "arrears" and batch.file_hash == report.file_hash
    assert batch.counts == report.counts() and batch.as_of == report.as_of
    assert set(session.scalars(select(Case.status))) == {"new"}
    assert set(session.scalars(select(Case.cause))) == {"economic"}
    assert set(session.scalars(select(Case.team_id))) == {team.id}
    assert min(session.scalars(select(Case.priority))) > 0  # triage ran
    opened = session.scalars(select(CaseEvent)).first()
    assert opened.kind == "opened" and opened.detail == {
        "source": "arrears_list",
        "batch": report.batch_id,
    }

    total = sum(danish_amount(row[ARREARS]) for row in rows)
    assert session.scalar(select(func.sum(Tenancy.current_arrears))) == total
    first = rows[0]
    stored = tenancy(session, first[REF])
    assert stored.current_arrears == danish_amount(first[ARREARS])
    assert stored.monthly_rent == danish_amount(first[RENT])
    assert stored.months_in_arrears == float(first[MONTHS])
    assert stored.arrears_as_of.date() == report.as_of
    household = stored.household
    assert household.name == first[NAME] and household.postcode == first[POSTCODE]
    assert household.phone == first[PHONE].replace(" ", "")
    assert household.address_key == "søndre strandvej 110 3 3000"
    assert household.name_key == "signe hansen"


def test_norwegian_sample_imports_every_row(session) -> None:
    """The Norwegian list (UTF-8 with BOM, "Bakken, Lars", 54 240,00) imports all 30 rows."""
    header, rows = read_csv(NORWEGIAN, "utf-8-sig")
    assert len(rows) == 30
    owner = landlord(session, "Drammen Eiendom KF")
    report = import_arrears(session, NORWEGIAN.read_bytes(), NORWEGIAN.name, owner, today=TODAY)
    session.commit()
    assert (report.new, report.rejected) == (len(rows), 0)
    assert report.as_of == date(2026, 11, 15)
    assert count(session, Tenancy) == count(session, Case) == len(rows)
    assert report.mapping[header[7]] == "months_in_arrears"  # "Antall terminer"
    first = tenancy(session, rows[0][0])
    assert first.household.name == rows[0][1] == "Bakken, Lars"
    assert first.household.name_key == "lars bakken"
    assert first.current_arrears == int(rows[0][6].replace(" ", "").replace(",", ""))
    assert first.months_in_arrears == float(rows[0][7])
    assert first.household.town == "Drammen"


# ---------------------------------------------------------------------------
# Importing again
# ---------------------------------------------------------------------------


def test_the_same_file_twice_changes_nothing(session) -> None:
    """A second import of the same bytes reports already_imported and writes nothing."""
    first = import_danish(session)
    before = counts(session)
    tenancies_before = {
        t.reference: (t.current_arrears, t.months_in_arrears)
        for t in session.scalars(select(Tenancy))
    }

    again = import_danish(session)

    assert again.already_imported and again.batch_id == first.batch_id
    assert (again.new, again.updated, again.cleared, again.rejected) == (0, 0, 0, 0)
    assert again.unchanged == first.new
    assert again.case_ids == []
    assert counts(session) == before
    assert {
        t.reference: (t.current_arrears, t.months_in_arrears)
        for t in session.scalars(select(Tenancy))
    } == tenancies_before


def test_the_same_rows_in_another_file_change_nothing_but_the_batch(session) -> None:
    """Content-equivalent file (UTF-8, rows reversed): all unchanged, only a batch is added."""
    header, rows = danish()
    import_danish(session)
    before = counts(session)

    data = csv_bytes(header, list(reversed(rows)), encoding="utf-8")
    report = import_arrears(session, data, "copy.csv", landlord(session), today=TODAY)
    session.commit()

    assert not report.already_imported
    assert (report.new, report.updated, report.unchanged, report.cleared) == (0, 0, len(rows), 0)
    after = counts(session)
    assert after["ImportBatch"] == before["ImportBatch"] + 1
    assert after["AuditEvent"] == before["AuditEvent"] + 1
    for model in ("Household", "Tenancy", "Case", "CaseEvent", "ArrearsRecord"):
        assert after[model] == before[model], model


def test_a_later_list_updates_keeps_clears_and_opens(session, tmp_path) -> None:
    """Two weeks on: one amount changed, two tenancies gone, one bad row, one new tenancy."""
    header, rows = danish()
    import_danish(session)
    changed, kept, gone_new, gone_worked, bad = rows[0], rows[1], rows[2], rows[3], rows[4]
    worked = cases_of(session, gone_worked[REF])[0]
    worked.status = "in_contact"
    session.commit()

    later: list[list[str]] = []
    for row in rows:
        if row in (gone_new, gone_worked):
            continue
        row = [*row[:AS_OF], "29-11-2026"]
        if row[REF] == changed[REF]:
            row[ARREARS] = amount_cell(
                danish_amount(changed[ARREARS]) + danish_amount(changed[RENT])
            )
            row[MONTHS] = str(int(changed[MONTHS]) + 1)
        if row[REF] == bad[REF]:
            row[ARREARS] = "12,34,5"
        later.append(row)
    newcomer = ["99-000-01", "Ny Lejer", "Stengade 1", "3000", "Helsingør", "", "5.000,00"]
    later.append([*newcomer, "5.000,00", "1", "29-11-2026"])
    data = write_list(tmp_path / "restanceliste_2026-11-29.csv", header, later)

    report = import_arrears(session, data, "restanceliste_2026-11-29.csv", landlord(session))
    session.commit()

    assert report.as_of == date(2026, 11, 29)
    assert report.updated == 1 and report.new == 1 and report.cleared == 2
    assert report.rejected == 1
    assert report.unchanged == len(later) - 3  # all but the changed, bad and new rows
    assert [(e.field, e.value) for e in report.errors] == [("arrears", "12,34,5")]

    updated = tenancy(session, changed[REF])
    assert updated.current_arrears == danish_amount(changed[ARREARS]) + danish_amount(changed[RENT])
    assert updated.months_in_arrears == int(changed[MONTHS]) + 1
    assert updated.arrears_as_of.date() == date(2026, 11, 29)
    assert count(session, ArrearsRecord) >= len(rows) + 1
    assert cases_of(session, changed[REF])[0].status == "new"

    untouched = tenancy(session, kept[REF])
    assert untouched.arrears_as_of.date() == date(2026, 11, 15)  # nothing changed, nothing written

    (closed,) = cases_of(session, gone_new[REF])
    assert closed.status == "closed" and closed.outcome == "paid_up"
    assert closed.closed_at is not None and closed.version == 2
    (cleared_event,) = events(session, closed, "cleared")
    assert cleared_event.detail["closed"] == "paid_up"
    assert tenancy(session, gone_new[REF]).current_arrears == 0
    zero = session.scalars(
        select(ArrearsRecord).where(
            ArrearsRecord.tenancy_id == closed.tenancy_id,
            ArrearsRecord.as_of == date(2026, 11, 29),
        )
    ).one()
    assert zero.amount == 0 and zero.batch_id == report.batch_id

    (still_open,) = cases_of(session, gone_worked[REF])
    assert still_open.status == "in_contact" and still_open.outcome is None
    assert len(events(session, still_open, "cleared")) == 1
    assert tenancy(session, gone_worked[REF]).current_arrears == 0

    # The rejected row's tenancy is neither cleared nor changed.
    protected = tenancy(session, bad[REF])
    assert protected.current_arrears == danish_amount(bad[ARREARS])
    assert cases_of(session, bad[REF])[0].status == "new"
    assert events(session, cases_of(session, bad[REF])[0], "cleared") == []

    assert tenancy(session, newcomer[0]).household.name == "Ny Lejer"
    assert set(report.case_ids) >= {closed.id, still_open.id}

    # Back in arrears a fortnight later: the paid-up tenancy gets a second case.
    back = [[*gone_new[:AS_OF], "13-12-2026"]]
    report = import_arrears(
        session,
        csv_bytes(header, back),
        "restanceliste_2026-12-13.csv",
        landlord(session),
        today=date(2026, 12, 13),
    )
    session.commit()
    assert report.new == 1
    first_case, second_case = cases_of(session, gone_new[REF])
    assert first_case.status == "closed" and second_case.status == "new"


def test_the_mixed_errors_file_stores_good_rows_and_protects_rejected_ones(session) -> None:
    """Rejected rows' tenancies stay in arrears; a 0,00 row without reference clears by address."""
    header, danish_rows = danish()
    import_danish(session)
    table = read_table(MIXED_ERRORS.read_bytes(), MIXED_ERRORS.name)
    good, errors = parse_arrears_rows(table)
    rejected_rows = {error.row for error in errors}
    _, raw = read_csv(MIXED_ERRORS, "cp1252")
    listed_refs = {row[0] for row in raw[2:] if row[0]}  # after the title and "Udskrevet" lines

    report = import_arrears(
        session, MIXED_ERRORS.read_bytes(), MIXED_ERRORS.name, landlord(session)
    )
    session.commit()

    assert report.rejected == len(rejected_rows) and report.exit_code == 1
    assert [e.row for e in report.errors] == sorted(e.row for e in report.errors)
    assert all(e.reason for e in report.errors)
    absent = [row for row in danish_rows if row[REF] not in listed_refs]
    assert report.cleared == len(absent)
    assert report.new == 0 and report.updated == 0
    assert report.unchanged == len(good) - 1  # the 0,00 row clears instead

    refs_by_row = {number: cells[0] for number, cells in table.rows}
    for number in rejected_rows:
        ref = refs_by_row.get(number)
        if ref:
            original = next(row for row in danish_rows if row[REF] == ref)
            assert tenancy(session, ref).current_arrears == danish_amount(original[ARREARS]), ref
    karen = next(row for row in danish_rows if row[NAME] == "Karen Kristensen")
    assert karen[REF] not in listed_refs  # her row on the bad list has no reference
    assert tenancy(session, karen[REF]).current_arrears == 0
    assert cases_of(session, karen[REF])[0].outcome == "paid_up"
    batch = session.get(ImportBatch, report.batch_id)
    assert len(batch.errors) == len(report.errors)
    # The reason in English, and its wording for the report page in the reader's language.
    assert set(batch.errors[0]) == {"row", "field", "value", "reason", "wording"}


def test_rows_without_reference_match_by_address_and_name(session) -> None:
    """Without references a row finds its tenancy by address and tenant name, written loosely."""
    header = ["Navn", "Adresse", "Postnr.", "By", "Restance", "Opgjort pr."]
    first = [
        ["Signe Hansen", "Søndre Strandvej 110, 3.", "3000", "Helsingør", "5.000,00", "15-11-2026"],
        ["Ole Berg", "Stengade 4, st. th.", "3000", "Helsingør", "2.000,00", "15-11-2026"],
        ["Ida Lund", "Bramstræde 9", "3000", "Helsingør", "3.000,00", "15-11-2026"],
    ]
    owner = landlord(session, "Privat Udlejer ApS")
    report = import_arrears(session, csv_bytes(header, first), "a.csv", owner)
    session.commit()
    assert report.new == 3 and count(session, Tenancy) == 3

    second = [
        [
            "Hansen, Signe",
            "Søndre Strandvej 110, 3. sal",
            "3000",
            "Helsingør",
            "6.000,00",
            "29-11-2026",
        ],
        ["OLE BERG", "Stengade 4 st. t.h.", "3000", "Helsingør", "2.000,00", "29-11-2026"],
        ["Ida Lund", "Bramstræde 9", "3000", "Helsingør", "3.000,00", "29-11-2026"],
        ["Nye Lejer", "Bramstræde 9", "3000", "Helsingør", "1.000,00", "29-11-2026"],
    ]
    report = import_arrears(session, csv_bytes(header, second), "b.csv", owner)
    session.commit()

    assert (report.new, report.updated, report.unchanged, report.cleared) == (1, 1, 2, 0)
    assert count(session, Tenancy) == 4 and count(session, Case) == 4
    signe = session.scalars(select(Household).where(Household.name == "Signe Hansen")).one()
    signe_tenancy = session.scalars(select(Tenancy).where(Tenancy.household_id == signe.id)).one()
    assert signe_tenancy.current_arrears == 600_000 and signe_tenancy.reference is None


def test_the_same_tenancy_twice_without_reference_is_rejected(session) -> None:
    """Two rows naming the same address and tenant: the second is an error naming the first."""
    header = ["Navn", "Adresse", "Postnr.", "Restance"]
    rows = [
        ["Ole Berg", "Stengade 4", "3000", "2.000,00"],
        ["Berg, Ole", "Stengade 4", "3000", "2.500,00"],
    ]
    report = import_arrears(session, csv_bytes(header, rows), "dup.csv", landlord(session))
    assert report.new == 1 and report.rejected == 1
    (error,) = report.errors
    assert (error.row, error.field, error.value) == (3, "address", "Stengade 4")
    assert error.reason == "same tenancy as row 2"


def test_a_reference_is_filled_in_on_a_tenancy_that_had_none(session) -> None:
    """A list with references finds tenancies stored without one by address and name."""
    owner = landlord(session)
    header = ["Navn", "Adresse", "Postnr.", "Restance", "Opgjort pr."]
    import_arrears(
        session,
        csv_bytes(header, [["Ole Berg", "Stengade 4", "3000", "2.000,00", "01-11-2026"]]),
        "a.csv",
        owner,
    )
    header = ["Lejemålsnr.", *header]
    row = ["77-1", "Ole Berg", "Stengade 4", "3000", "2.500,00", "15-11-2026"]
    report = import_arrears(session, csv_bytes(header, [row]), "b.csv", owner)
    assert report.updated == 1 and report.new == 0
    assert session.scalars(select(Tenancy.reference)).one() == "77-1"


def test_an_older_list_imported_late_does_not_overwrite_newer_figures(session) -> None:
    """Figures from a newer list stand; the older list changes and clears nothing."""
    header, rows = danish()
    import_danish(session)
    older = [[*row[:ARREARS], "1,00", row[MONTHS], "01-11-2026"] for row in rows[:5]]
    with pytest.raises(FileRefused, match=r"2026-11-01, before this landlord's last list"):
        import_arrears(session, csv_bytes(header, older), "old.csv", landlord(session))
    report = import_arrears(
        session, csv_bytes(header, older), "old.csv", landlord(session), older_list=True
    )
    assert (report.unchanged, report.updated, report.cleared) == (5, 0, 0)
    assert tenancy(session, rows[0][REF]).current_arrears == danish_amount(rows[0][ARREARS])


@pytest.mark.parametrize(
    ("day", "message"),
    [("01-01-2099", "after today"), ("01-01-2001", "more than five years ago")],
)
def test_a_list_from_the_future_or_long_ago_is_refused_and_stores_nothing(session, day, message):
    """A list dated 2099 would make every real list after it look old: refused by name."""
    header, rows = danish()
    import_danish(session)
    before = counts(session)
    later = [[*row[:AS_OF], day] for row in rows[:3]]
    with pytest.raises(FileRefused, match=f"dated {day[6:]}-{day[3:5]}-{day[:2]}, {message}"):
        import_arrears(session, csv_bytes(header, later), "x.csv", landlord(session), today=TODAY)
    session.rollback()
    assert counts(session) == before


def test_a_dry_run_counts_like_an_import_and_stores_nothing(session) -> None:
    """dry_run counts exactly as the real import will; after the caller's rollback, nothing."""
    owner = landlord(session)
    session.commit()
    dry = import_arrears(session, DANISH.read_bytes(), DANISH.name, owner, dry_run=True)
    assert dry.dry_run and dry.batch_id is None
    assert count(session, ImportBatch) == 0 and count(session, AuditEvent) == 0
    session.rollback()
    assert all(value == 0 for value in counts(session).values())

    real = import_arrears(session, DANISH.read_bytes(), DANISH.name, owner)
    session.commit()
    assert not real.already_imported
    assert dry.counts() == real.counts() and len(dry.case_ids) == len(real.case_ids)


def test_a_dry_run_of_a_later_list_clears_nothing(session) -> None:
    """Clearing in a dry run is counted but undone by the rollback."""
    header, rows = danish()
    import_danish(session)
    shorter = [[*row[:AS_OF], "29-11-2026"] for row in rows[1:]]
    dry = import_arrears(
        session, csv_bytes(header, shorter), "b.csv", landlord(session), dry_run=True
    )
    assert dry.cleared == 1
    session.rollback()
    assert tenancy(session, rows[0][REF]).current_arrears == danish_amount(rows[0][ARREARS])
    assert {case.status for case in session.scalars(select(Case))} == {"new"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b" \r\n\r\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        ("Kontonr;Bemærkning\r\n1;ok\r\n".encode("cp1252"), "No recognisable columns"),
        (b"PK\x03\x04not really a workbook", "Excel"),
    ],
    ids=["empty", "blank-lines", "png", "pdf", "no-columns", "broken-xlsx"],
)
def test_a_refused_file_stores_nothing(session, data: bytes, message: str) -> None:
    """Empty, binary or column-less files raise FileRefused and leave the database as it was."""
    owner = landlord(session)
    session.commit()
    with pytest.raises(FileRefused, match=message):
        import_arrears(session, data, "upload.csv", owner)
    assert all(value == 0 for value in counts(session).values())


def test_an_xlsx_list_imports_like_the_csv(session, tmp_path) -> None:
    """The Danish list saved as a workbook with number cells gives the same figures as the CSV."""
    header, rows = danish()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Restanceliste", None, None])  # a title line above the header
    sheet.append(header)
    for row in rows:
        cells: list[object] = list(row)
        cells[RENT] = danish_amount(row[RENT]) / 100
        cells[ARREARS] = danish_amount(row[ARREARS]) / 100
        cells[MONTHS] = float(row[MONTHS].replace(",", "."))
        cells[AS_OF] = parse_date(row[AS_OF])
        sheet.append(cells)
    path = tmp_path / "restanceliste.xlsx"
    workbook.save(path)

    from_csv = import_danish(session, landlord(session, "CSV"))
    from_xlsx = import_arrears(session, path.read_bytes(), path.name, landlord(session, "XLSX"))
    session.commit()

    assert from_xlsx.new == from_csv.new == len(rows) and from_xlsx.rejected == 0
    assert from_xlsx.as_of == from_csv.as_of

    def figures(name: str) -> dict[str, tuple]:
        """Reference -> (arrears, rent) of one landlord's tenancies."""
        query = (
            select(Tenancy.reference, Tenancy.current_arrears, Tenancy.monthly_rent)
            .join(Landlord, Tenancy.landlord_id == Landlord.id)
            .where(Landlord.name == name)
        )
        return {ref: (arrears, rent) for ref, arrears, rent in session.execute(query)}

    assert figures("XLSX") == figures("CSV")


def test_the_landlords_saved_mapping_is_used_and_never_saved(session) -> None:
    """Odd headers read with the landlord's saved mapping; an explicit one is not stored."""
    data = csv_bytes(["Lejer-id", "Beboer", "Gæld"], [["A-1", "Ida", "1.234,50"]])
    owner = landlord(session)
    session.commit()
    with pytest.raises(FileRefused):
        import_arrears(session, data, "odd.csv", owner)

    explicit = {"Lejer-id": "tenancy_ref", "Beboer": "tenant_name", "Gæld": "arrears"}
    dry = import_arrears(session, data, "odd.csv", owner, mapping=explicit, dry_run=True)
    assert dry.new == 1 and dry.mapping == explicit
    session.rollback()
    assert owner.column_mapping is None

    owner.column_mapping = explicit
    session.commit()
    report = import_arrears(session, data, "odd.csv", owner)
    assert report.new == 1
    assert tenancy(session, "A-1").current_arrears == parse_amount("1.234,50")


def test_find_landlord_ignores_case_and_spacing(session) -> None:
    """Names match whatever their case and spacing; create makes one of the given kind."""
    assert find_landlord(session, "Øresund Ejendomme ApS") is None
    created = find_landlord(session, "  Øresund   Ejendomme ApS ", create=True, kind="private")
    assert created.name == "Øresund Ejendomme ApS" and created.kind == "private"
    assert find_landlord(session, "ØRESUND ejendomme   aps") is created
    assert count(session, Landlord) == 1
    with pytest.raises(ValueError):
        find_landlord(session, "Ny", create=True, kind="council")


def test_cases_go_to_the_importing_users_team(session, make_user) -> None:
    """With several teams, new cases go to the importing lead's team."""
    make_user("worker", team="Team Nord")
    lead = make_user("lead", team="Team Syd")
    user = session.get(User, lead.id)
    report = import_arrears(session, DANISH.read_bytes(), DANISH.name, landlord(session), user=user)
    assert set(session.scalars(select(Case.team_id))) == {user.team_id}
    batch = session.get(ImportBatch, report.batch_id)
    assert batch.created_by_id == user.id
    assert session.scalars(select(AuditEvent)).one().user_id == user.id


def test_too_long_cells_are_row_errors(session) -> None:
    """A cell wider than its column is rejected by row and field (PostgreSQL would refuse it)."""
    rows = [["R-1", "x" * 300, "1.000,00"], ["R-2", "Ida", "1.000,00"]]
    report = import_arrears(
        session, csv_bytes(["Lejemålsnr.", "Navn", "Restance"], rows), "w.csv", landlord(session)
    )
    session.flush()
    assert report.new == 1 and report.rejected == 1
    assert (report.errors[0].row, report.errors[0].field) == (2, "tenant_name")


def test_to_dict_is_json_safe(session) -> None:
    """to_dict gives ISO dates, errors as dicts and the exit code."""
    import json

    report = import_arrears(
        session, MIXED_ERRORS.read_bytes(), MIXED_ERRORS.name, landlord(session)
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["as_of"] == "2026-11-15" and data["exit_code"] == 1
    assert data["errors"][0] == {
        "row": report.errors[0].row,
        "field": report.errors[0].field,
        "value": report.errors[0].value,
        "reason": report.errors[0].reason,
    }


# ---------------------------------------------------------------------------
# Legal steps
# ---------------------------------------------------------------------------

STEP_HEADER = [
    "Udlejer",
    "Lejemålsnr.",
    "Adresse",
    "Postnr.",
    "By",
    "Hændelse",
    "Dato",
    "Årsag",
    "Børn",
]


def legal_rows(danish_rows: list[list[str]]) -> list[list[str]]:
    """Danish steps on two listed tenancies; Norwegian ones for a landlord not yet known."""
    kronborg = "Boligforeningen Kronborg"
    drammen = "Drammen Eiendom KF"
    a, b = danish_rows[0], danish_rows[1]
    return [
        [kronborg, a[REF], a[ADDRESS], "3000", "Helsingør", "Begæring om udsættelse", "01-10-2026",
         "Støj og chikane", "2"],
        [kronborg, a[REF], a[ADDRESS], "3000", "Helsingør", "Retsmøde", "27-11-2026", "", ""],
        [kronborg, b[REF], b[ADDRESS], "3000", "Helsingør", "Udsættelse gennemført", "18-11-2026",
         "", ""],
        [drammen, "DE-1", "Tollbugata 5", "3036", "Drammen", "Begjæring om fravikelse",
         "05.11.2026", "Brudd på husordensregler", "3"],
        [drammen, "", "Konnerudgata 7", "3024", "Drammen", "Fravikelse berammet", "02.12.2026",
         "", ""],
        [drammen, "", "Konnerudgata 9", "3024", "Drammen", "Utkastelse gjennomført", "19.11.2026",
         "", ""],
    ]  # fmt: skip


def test_legal_steps_in_danish_and_norwegian(session) -> None:
    """Steps land on the right cases; unknown tenancies and landlords are created."""
    _, rows = danish()
    import_danish(session)
    first_case = cases_of(session, rows[0][REF])[0]
    first_case.status = "attempting_contact"  # being worked: the file's cause must not win
    session.commit()
    steps = legal_rows(rows)

    report = import_legal_steps(session, csv_bytes(STEP_HEADER, steps), "fogedret.csv", today=TODAY)
    session.commit()

    assert report.kind == "legal_steps" and report.landlord is None
    assert report.new == len(steps) and report.rejected == 0 and report.landlord_created
    drammen = find_landlord(session, "drammen eiendom kf")
    assert drammen is not None and drammen.kind == "private"
    assert count(session, LegalStep) == len(steps)
    assert set(session.scalars(select(LegalStep.source))) == {"import"}
    assert count(session, Tenancy) == len(rows) + 3

    worked = session.get(Case, first_case.id)
    assert [(s.kind, s.date) for s in worked.legal_steps] == [
        ("petition", date(2026, 10, 1)),
        ("hearing", date(2026, 11, 27)),
    ]
    assert worked.cause == "economic"  # "Støj og chikane" ignored while the case is worked
    assert worked.next_deadline == date(2026, 11, 27) and worked.next_deadline_kind == "hearing"
    assert worked.tenancy.household.children == 2

    (evicted,) = cases_of(session, rows[1][REF])
    assert evicted.status == "closed" and evicted.outcome == "evicted"
    assert evicted.closed_at is not None and evicted.version == 2
    assert len(events(session, evicted, "closed")) == 1

    (de1,) = cases_of(session, "DE-1")
    assert de1.status == "new" and de1.cause == "behavioural"
    assert de1.tenancy.household.children == 3 and de1.tenancy.landlord_id == drammen.id
    by_address = session.scalars(
        select(Case)
        .join(Tenancy, Case.tenancy_id == Tenancy.id)
        .join(Household, Tenancy.household_id == Household.id)
        .where(Household.address_key == "konnerudgata 9 3024")
    ).one()
    assert by_address.status == "closed" and by_address.outcome == "evicted"
    scheduled = session.scalars(
        select(Case)
        .join(Tenancy, Case.tenancy_id == Tenancy.id)
        .join(Household, Tenancy.household_id == Household.id)
        .where(Household.address_key == "konnerudgata 7 3024")
    ).one()
    assert scheduled.next_deadline == date(2026, 12, 2) and scheduled.tenancy.reference is None
    batch = session.get(ImportBatch, report.batch_id)
    assert batch.kind == "legal_steps" and batch.landlord_id is None


def test_legal_steps_imported_again_change_nothing(session) -> None:
    """Same bytes: already imported. Same rows in a new file: all unchanged, no case reopened."""
    _, rows = danish()
    import_danish(session)
    steps = legal_rows(rows)
    data = csv_bytes(STEP_HEADER, steps)
    import_legal_steps(session, data, "a.csv", today=TODAY)
    session.commit()
    before = counts(session)

    again = import_legal_steps(session, data, "a.csv", today=TODAY)
    assert again.already_imported and again.unchanged == len(steps) and again.new == 0
    assert counts(session) == before

    copy = import_legal_steps(
        session, csv_bytes(STEP_HEADER, list(reversed(steps)), "utf-8"), "b.csv", today=TODAY
    )
    session.commit()
    assert not copy.already_imported
    assert (copy.new, copy.unchanged, copy.landlord_created) == (0, len(steps), False)
    after = counts(session)
    for model in ("Household", "Tenancy", "Case", "CaseEvent", "LegalStep"):
        assert after[model] == before[model], model


def test_a_legal_step_without_landlord_finds_the_tenancy_by_reference(session) -> None:
    """A row with no landlord is matched by reference across landlords, or rejected."""
    _, rows = danish()
    import_danish(session)
    header = ["Lejemålsnr.", "Adresse", "Trin", "Dato"]
    data = csv_bytes(
        header,
        [
            [rows[0][REF], "", "Stævning", "01-11-2026"],
            ["X-404", "Ukendt Vej 1", "Stævning", "01-11-2026"],
        ],
    )
    report = import_legal_steps(session, data, "steps.csv", today=TODAY)
    assert report.new == 1 and report.rejected == 1
    assert report.errors[0].field == "landlord" and report.errors[0].row == 3
    assert [s.kind for s in cases_of(session, rows[0][REF])[0].legal_steps] == ["petition"]


def test_legal_step_dry_run_and_refusal_store_nothing(session) -> None:
    """A dry run is rolled back by the caller; a file without step columns is refused."""
    _, rows = danish()
    import_danish(session)
    before = counts(session)
    dry = import_legal_steps(
        session, csv_bytes(STEP_HEADER, legal_rows(rows)), "a.csv", dry_run=True
    )
    assert dry.new == len(legal_rows(rows)) and dry.batch_id is None
    session.rollback()
    assert counts(session) == before and find_landlord(session, "Drammen Eiendom KF") is None
    with pytest.raises(FileRefused, match="Missing columns"):
        import_legal_steps(session, csv_bytes(["Udlejer", "Adresse"], [["A", "B"]]), "x.csv")


# ---------------------------------------------------------------------------
# Volume
# ---------------------------------------------------------------------------


def generated_list(count: int, as_of: str, *, skip_every: int = 0, change_every: int = 0) -> bytes:
    """A Danish-style list of count tenancies; optionally some left out or changed."""
    header = [
        "Lejemålsnr.",
        "Navn",
        "Adresse",
        "Postnr.",
        "By",
        "Husleje",
        "Restance",
        "Opgjort pr.",
    ]
    rows = []
    for n in range(count):
        if skip_every and n % skip_every == 0:
            continue
        rent = 400_000 + (n % 50) * 10_000
        arrears = rent * (1 + n % 4)
        if change_every and n % change_every == 0:
            arrears += 50_000
        rows.append(
            [f"G-{n:06d}", f"Lejer {n}", f"Vej {n % 300} {n}", "3000", "Helsingør",
             amount_cell(rent), amount_cell(arrears), as_of]
        )  # fmt: skip
    return csv_bytes(header, rows)


def test_twenty_thousand_rows_import(session) -> None:
    """A 20,000-row list imports in full, and a changed copy is counted row by row."""
    n = 20_000
    owner = landlord(session, "Stort Boligselskab")
    report = import_arrears(session, generated_list(n, "15-11-2026"), "big.csv", owner)
    session.commit()
    assert (report.new, report.rejected) == (n, 0)
    got = counts(session)
    assert got["Household"] == got["Tenancy"] == got["Case"] == got["ArrearsRecord"] == n
    assert got["CaseEvent"] == n
    assert session.scalar(select(func.min(Case.priority))) > 0

    later = generated_list(n, "29-11-2026", skip_every=100, change_every=10)
    report = import_arrears(session, later, "big-2.csv", owner)
    session.commit()
    skipped = len(range(0, n, 100))
    changed = len([i for i in range(n) if i % 10 == 0 and i % 100 != 0])
    assert report.cleared == skipped and report.updated == changed
    assert report.unchanged == n - skipped - changed and report.new == 0
    assert count(session, Case) == n
    assert session.scalar(select(func.count()).where(Case.status == "closed")) == skipped


def test_a_case_closed_by_a_list_or_an_eviction_keeps_no_priority(session) -> None:
    """One rule for closing (issue 16): a case the list closed as paid up, or a court's file
    closed as evicted, kept its priority 14 and its reasons; closed by the lead it had 0."""
    header, rows = danish()
    import_danish(session)
    gone, evicted = rows[0], rows[1]
    assert cases_of(session, gone[REF])[0].priority > 0
    later = [[*row[:AS_OF], "29-11-2026"] for row in rows if row is not gone]
    import_arrears(
        session, csv_bytes(header, later), "later.csv", landlord(session), today=date(2026, 11, 29)
    )
    steps = [[landlord(session).name, evicted[REF], "", "", "", "executed", "30-11-2026", "", ""]]
    import_legal_steps(session, csv_bytes(STEP_HEADER, steps), "f.csv", today=date(2026, 11, 30))
    session.commit()
    for reference, outcome in ((gone[REF], "paid_up"), (evicted[REF], "evicted")):
        (case,) = cases_of(session, reference)
        assert (case.status, case.outcome) == ("closed", outcome)
        assert (case.priority, case.priority_reasons) == (0, [])
