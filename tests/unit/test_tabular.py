"""Specs for reading landlords' arrears and legal-step files (fieldapp.services.tabular)."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from fieldapp.services.tabular import (
    ARREARS_FIELDS,
    LEGAL_STEP_FIELDS,
    STEPS,
    ArrearsRow,
    FileRefused,
    LegalStepRow,
    RowError,
    Table,
    normalise_address,
    normalise_cause,
    normalise_header,
    normalise_name,
    normalise_phone,
    normalise_step,
    parse_amount,
    parse_arrears_rows,
    parse_date,
    parse_int,
    parse_legal_step_rows,
    parse_quantity,
    read_table,
    rejected_rows_csv,
)
from tests import hostile_files as hostile

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DANISH = FIXTURES / "restanceliste_boligforening_2026-11-15.csv"
NORWEGIAN = FIXTURES / "husleierestanse_kommunale_boliger_2026-11-15.csv"
MIXED_ERRORS = FIXTURES / "bad_restanceliste_mixed_errors.csv"


def csv_bytes(rows: list[list[str]], delimiter: str = ";", encoding: str = "utf-8") -> bytes:
    """Write rows as CSV text with CRLF line ends, as Excel does."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    """Build a one-sheet workbook in memory; None leaves a cell empty."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def arrears(data: bytes, filename: str = "") -> tuple[list[ArrearsRow], list[RowError]]:
    """Read and parse an arrears file in one go."""
    return parse_arrears_rows(read_table(data, filename))


def legal_steps(data: bytes) -> tuple[list[LegalStepRow], list[RowError]]:
    """Read and parse a legal-step file in one go."""
    return parse_legal_step_rows(read_table(data, fields=LEGAL_STEP_FIELDS))


# ---------------------------------------------------------------------------
# The two real sample files
# ---------------------------------------------------------------------------


class TestDanishSample:
    """The housing association's list: Windows-1252, ';', 8.916,00 and 15-11-2026."""

    def test_is_read_as_cp1252_semicolon_with_every_column_mapped(self) -> None:
        """The Danish list is read as Windows-1252 with ';' and all ten columns mapped."""
        table = read_table(DANISH.read_bytes(), DANISH.name)
        assert table.encoding == "cp1252"
        assert table.delimiter == ";"
        assert table.headers[0] == "Lejemålsnr."
        assert table.mapping == {
            "tenancy_ref": 0,
            "tenant_name": 1,
            "address": 2,
            "postcode": 3,
            "town": 4,
            "phone": 5,
            "monthly_rent": 6,
            "arrears": 7,
            "months_in_arrears": 8,
            "as_of": 9,
        }
        assert table.unmapped == []

    def test_all_40_rows_parse_without_errors(self) -> None:
        """All 40 rows parse without errors."""
        # 41 lines (wc -l) = header + 40 tenancies.
        rows, errors = arrears(DANISH.read_bytes(), DANISH.name)
        assert errors == []
        assert len(rows) == 40
        assert [r.row for r in rows] == list(range(2, 42))

    def test_first_row_values(self) -> None:
        """The first tenancy's values are parsed exactly."""
        rows, _ = arrears(DANISH.read_bytes())
        assert rows[0] == ArrearsRow(
            row=2,
            tenancy_ref="12-277-53",
            tenant_name="Signe Hansen",
            address="Søndre Strandvej 110, 3.",
            postcode="3000",
            town="Helsingør",
            phone="+4569331393",
            monthly_rent=891_600,
            arrears=5_349_600,
            months_in_arrears=6.0,
            as_of=date(2026, 11, 15),
        )

    def test_half_month_and_oere_are_kept(self) -> None:
        """A half month in arrears and øre in the amount are kept exactly."""
        rows, _ = arrears(DANISH.read_bytes())
        row = next(r for r in rows if r.tenancy_ref == "14-435-41")
        assert row.arrears == 1_035_450
        assert row.months_in_arrears == 1.5
        assert row.tenant_name == "Niels Rasmussen"

    def test_total_arrears_matches_the_file(self) -> None:
        """The summed arrears equal the file's own total, to the øre."""
        # Summed independently with awk over column 8: 616.217,50 kr.
        rows, _ = arrears(DANISH.read_bytes())
        assert sum(r.arrears for r in rows) == 61_621_750


class TestNorwegianSample:
    """The municipality's list: UTF-8 with BOM, ';', 10 848,00 and 15.11.2026, no phone."""

    def test_is_read_as_utf8_sig(self) -> None:
        """The Norwegian list is read as UTF-8 with BOM, and the BOM is not in the header."""
        table = read_table(NORWEGIAN.read_bytes(), NORWEGIAN.name)
        assert table.encoding == "utf-8-sig"
        assert table.delimiter == ";"
        assert table.headers[0] == "Leieforhold"  # the BOM is not part of the header
        assert "phone" not in table.mapping
        assert table.mapping["monthly_rent"] == 5  # "Månedsleie"
        assert table.mapping["months_in_arrears"] == 7  # "Antall terminer"

    def test_all_30_rows_parse_without_errors(self) -> None:
        """All 30 rows parse without errors."""
        # 31 lines (wc -l) = header + 30 tenancies.
        rows, errors = arrears(NORWEGIAN.read_bytes())
        assert errors == []
        assert len(rows) == 30

    def test_first_row_values(self) -> None:
        """The first tenancy's values are parsed exactly, with no phone column."""
        rows, _ = arrears(NORWEGIAN.read_bytes())
        first = rows[0]
        assert first.tenancy_ref == "KB15745"
        assert first.tenant_name == "Bakken, Lars"
        assert first.monthly_rent == 1_084_800
        assert first.arrears == 5_424_000
        assert first.months_in_arrears == 5.0
        assert first.as_of == date(2026, 11, 15)
        assert first.phone == ""

    def test_nordic_letters_survive(self) -> None:
        """Å, ø and æ come through decoding unharmed."""
        rows, _ = arrears(NORWEGIAN.read_bytes())
        assert rows[3].address == "Åssiden terrasse 11A"
        assert rows[6].tenant_name == "Ålien, Åse"

    def test_total_arrears_matches_the_file(self) -> None:
        """The summed arrears equal the file's own total, to the øre."""
        # Summed independently with awk over column 7: 697 028,00 kr.
        rows, _ = arrears(NORWEGIAN.read_bytes())
        assert sum(r.arrears for r in rows) == 69_702_800


# ---------------------------------------------------------------------------
# Encodings, delimiters, line ends, layout
# ---------------------------------------------------------------------------

DANISH_TEXT = DANISH.read_bytes().decode("cp1252")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (DANISH_TEXT.encode("cp1252"), "cp1252"),
        (DANISH_TEXT.encode("utf-8"), "utf-8"),
        (DANISH_TEXT.encode("utf-8-sig"), "utf-8-sig"),
        (DANISH_TEXT.encode("utf-16"), "utf-16"),
    ],
    ids=["cp1252", "utf-8", "utf-8-sig", "utf-16"],
)
def test_every_encoding_gives_the_same_rows(data: bytes, expected: str) -> None:
    """The same text in any supported encoding gives the same rows."""
    reference, _ = arrears(DANISH.read_bytes())
    table = read_table(data)
    assert table.encoding == expected
    rows, errors = parse_arrears_rows(table)
    assert errors == []
    assert rows == reference
    assert rows[0].town == "Helsingør"


@pytest.mark.parametrize("delimiter", [";", ",", "\t"], ids=["semicolon", "comma", "tab"])
def test_every_delimiter_gives_the_same_rows(delimiter: str) -> None:
    """The same table with ';', ',' or tab gives the same rows."""
    reference, _ = arrears(NORWEGIAN.read_bytes())
    source = list(csv.reader(io.StringIO(NORWEGIAN.read_text("utf-8-sig")), delimiter=";"))
    # csv.writer quotes "10 848,00" when the delimiter is a comma, as Excel does.
    table = read_table(csv_bytes(source, delimiter))
    assert table.delimiter == delimiter
    rows, errors = parse_arrears_rows(table)
    assert errors == []
    assert rows == reference


def test_unquoted_decimal_commas_in_a_comma_file_are_errors_not_wrong_amounts() -> None:
    """An unquoted '1234,50' in a comma file is an error, never a wrong amount."""
    data = b"Lejemaalsnr,Restance\r\nA-1,1234\r\nA-2,1234,50\r\n"
    rows, errors = arrears(data)
    assert [r.arrears for r in rows] == [123_400]
    assert errors == [RowError(3, "", "50", "more cells than headers: 3 cells for 2 columns")]


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "cr"])
def test_line_endings(newline: str) -> None:
    """CRLF, LF and old-Mac CR line ends all work with the right row numbers."""
    text = newline.join(["Lejemålsnr.;Restance", "A-1;100,00", "A-2;200,00"]) + newline
    rows, errors = arrears(text.encode("utf-8"))
    assert errors == []
    assert [(r.row, r.tenancy_ref, r.arrears) for r in rows] == [
        (2, "A-1", 10_000),
        (3, "A-2", 20_000),
    ]


def test_blank_lines_are_skipped_but_keep_counting_rows() -> None:
    """Blank lines are skipped but keep counting rows."""
    data = "Lejemålsnr.;Restance\r\n\r\nA-1;100\r\n;\r\n  ;  \r\nA-2;200\r\n".encode()
    table = read_table(data)
    assert [number for number, _ in table.rows] == [3, 6]


def test_title_lines_above_the_header_are_skipped() -> None:
    """Title lines above the header are skipped."""
    lines = ["Restanceliste", "Opgjort 15-11-2026", "", "Lejemålsnr.;Navn;Restance", "A-1;Ida;5,00"]
    table = read_table("\r\n".join(lines).encode("cp1252"))
    assert table.headers == ["Lejemålsnr.", "Navn", "Restance"]
    rows, _ = parse_arrears_rows(table)
    assert [(r.row, r.arrears) for r in rows] == [(5, 500)]


def test_excel_sep_hint_line_is_honoured() -> None:
    """Excel's 'sep=,' first line picks the delimiter and is not the header."""
    data = b"sep=,\r\nTenancy ref,Arrears,Note\r\nA-1,100,x;y;z\r\n"
    table = read_table(data)
    assert table.delimiter == ","
    assert table.headers == ["Tenancy ref", "Arrears", "Note"]
    assert table.rows == [(3, ["A-1", "100", "x;y;z"])]


def test_header_only_is_a_valid_empty_list() -> None:
    """A header with no rows is a valid, empty list, not a refusal."""
    table = read_table("Lejemålsnr.;Navn;Restance\r\n".encode())
    assert table.rows == []
    assert parse_arrears_rows(table) == ([], [])


def test_row_shorter_than_the_header_reads_missing_cells_as_empty() -> None:
    """Row shorter than the header reads missing cells as empty."""
    data = "Lejemålsnr.;Husleje;Restance;Antal mdr.;Opgjort pr.\r\nA-1;5.000,00;12.500,00\r\n"
    rows, errors = arrears(data.encode())
    assert errors == []
    assert rows[0].as_of is None
    # No months column value: derived from arrears / rent, one decimal.
    assert rows[0].months_in_arrears == 2.5


def test_row_longer_than_the_header_is_fine_when_the_extras_are_empty() -> None:
    """Row longer than the header is fine when the extras are empty."""
    rows, errors = arrears("Lejemålsnr.;Restance\r\nA-1;100;;\r\n".encode())
    assert errors == []
    assert len(rows) == 1


# ---------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------


def sample_workbook() -> bytes:
    """A small arrears workbook with a title row, number cells, a date cell and a text amount."""
    return xlsx_bytes(
        [
            ["Restanceliste"],
            [],
            ["Leieforhold", "Leietaker", "Adresse", "Postnr", "Månedsleie", "Restanse", "Dato"],
            ["KB1", "Olsen, Kari", "Tollbugata 5", 150, 8916.0, 8916.5, datetime(2026, 11, 15)],
            ["KB2", "Nilsen, Per", "Fjellsrud 9", 3036, 7000, "14.000,00", "15.11.2026"],
            ["KB3", "Haugen, Ola", "Konnerudgata 7", 3024, 7000, 123.456, None],
        ]
    )


def test_xlsx_is_detected_by_content_and_cells_become_strings() -> None:
    """XLSX is detected by content; numbers and dates become plain strings."""
    table = read_table(sample_workbook(), "upload.bin")
    assert table.encoding == "xlsx"
    assert table.delimiter is None
    assert table.headers[0] == "Leieforhold"
    number, cells = table.rows[0]
    assert number == 4  # title row 1, empty row 2, header row 3
    assert cells == ["KB1", "Olsen, Kari", "Tollbugata 5", "150", "8916", "8916.5", "2026-11-15"]


def test_xlsx_rows_parse_to_oere_and_dates() -> None:
    """Workbook rows parse to øre and dates, and number cells never read as thousands."""
    rows, errors = arrears(sample_workbook(), "liste.xlsx")
    first, second = rows
    assert (first.monthly_rent, first.arrears) == (891_600, 891_650)
    assert first.as_of == date(2026, 11, 15)
    # Excel drops the leading zero of Oslo-style postcodes; four digits are restored.
    assert first.postcode == "0150"
    assert second.arrears == 1_400_000  # a text cell keeps Nordic formatting
    assert second.as_of == date(2026, 11, 15)
    # A number cell 123.456 is 123,456 kr with too many decimals, never 123.456 kr.
    assert errors == [
        RowError(6, "arrears", "123.456", "more than 2 decimals in amount: '123.456'")
    ]


def test_xlsx_named_file_that_is_not_a_workbook_is_refused() -> None:
    """Xlsx named file that is not a workbook is refused."""
    with pytest.raises(FileRefused, match="not an Excel workbook"):
        read_table(DANISH.read_bytes(), "restancer.xlsx")


def test_zip_that_is_not_a_workbook_is_refused() -> None:
    """Zip that is not a workbook is refused."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(FileRefused, match="Excel workbook"):
        read_table(buffer.getvalue(), "restancer.zip")


def test_empty_workbook_is_refused_as_empty() -> None:
    """Empty workbook is refused as empty."""
    with pytest.raises(FileRefused, match="empty"):
        read_table(xlsx_bytes([]), "tom.xlsx")


# ---------------------------------------------------------------------------
# Whole-file refusals
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"   \r\n\n\t", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n  \r\n", b";;;\r\n;;\r\n"],
    ids=["zero-bytes", "whitespace", "bom-only", "bom-and-blank-lines", "only-delimiters"],
)
def test_empty_files_are_refused(data: bytes) -> None:
    """Zero-byte, whitespace-only and blank-row files are refused as empty."""
    with pytest.raises(FileRefused, match=r"^The file is empty\.$"):
        read_table(data)


def test_png_is_refused_as_not_a_table() -> None:
    """An image uploaded as CSV is refused as not a table."""
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256))
    with pytest.raises(FileRefused, match="not a table"):
        read_table(png, "screenshot.csv")


def test_random_bytes_are_refused() -> None:
    """Random bytes are refused."""
    garbage = random.Random(20261115).randbytes(4096)
    with pytest.raises(FileRefused):
        read_table(garbage, "restancer.csv")


def test_control_characters_without_nul_are_refused() -> None:
    """Text full of control characters is refused as binary even without NUL bytes."""
    data = bytes(range(1, 9)) * 50 + b"Restance;Lejemaal\r\n"
    with pytest.raises(FileRefused, match="binary"):
        read_table(data)


def test_pdf_and_old_xls_get_messages_saying_what_they_are() -> None:
    """PDF and old .xls files are refused with messages naming what they are."""
    with pytest.raises(FileRefused, match="PDF"):
        read_table(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    with pytest.raises(FileRefused, match=r"\.xls"):
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "liste.xls")


def test_unrecognisable_headers_are_refused_naming_them() -> None:
    """Unrecognisable headers are refused naming them."""
    with pytest.raises(FileRefused) as refused:
        read_table(b"foo;bar\r\n1;2\r\n")
    assert str(refused.value) == (
        "No recognisable columns: found 'foo', 'bar'; "
        "need at least tenancy reference or address, and arrears."
    )


def test_missing_arrears_column_is_refused_naming_what_is_missing() -> None:
    """Missing arrears column is refused naming what is missing."""
    with pytest.raises(FileRefused) as refused:
        read_table("Lejemålsnr.;Navn;Saldo2\r\nA-1;Ida;5\r\n".encode())
    message = str(refused.value)
    assert message.startswith("Missing columns for arrears:")
    assert "'Lejemålsnr.' (tenancy reference)" in message
    assert "'Navn' (tenant name)" in message
    assert "'Saldo2'" in message


def test_legal_step_file_needs_step_and_date() -> None:
    """Legal step file needs step and date."""
    need = "need at least tenancy reference or address, step, and date"
    with pytest.raises(FileRefused, match=need):
        read_table(b"Udlejer;Adresse;Dato\r\nX;Y;15-11-2026\r\n", fields=LEGAL_STEP_FIELDS)


# ---------------------------------------------------------------------------
# Header mapping
# ---------------------------------------------------------------------------


def test_stray_columns_are_reported_not_fatal() -> None:
    """Stray columns are reported not fatal."""
    data = "Lejemålsnr.;Bemærkning;Restance;Sagsbehandler;\r\nA-1;ring;100;LK;\r\n".encode()
    table = read_table(data)
    assert table.unmapped == ["Bemærkning", "Sagsbehandler"]
    assert table.mapping == {"tenancy_ref": 0, "arrears": 2}


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("LEJEMÅLSNR", "tenancy_ref"),
        ("Lejemål nr.", "tenancy_ref"),
        ("Leieforholdsnr:", "tenancy_ref"),
        ("Tenancy ref", "tenancy_ref"),
        ("Leietakers navn", "tenant_name"),
        ("Tenant name", "tenant_name"),
        ("Post code", "postcode"),
        ("Poststed", "town"),
        ("Tlf.", "phone"),
        ("Mobile", "phone"),
        ("Månedlig leje", "monthly_rent"),
        ("Maanedlig leje", "monthly_rent"),
        ("Restancebeløb", "arrears"),
        ("Restance (kr.)", "arrears"),
        ("Restance i DKK", "arrears"),
        ("Amount owed", "arrears"),
        ("Antal mdr. i restance", "months_in_arrears"),
        ("Months in arrears", "months_in_arrears"),
        ("Pr. dato", "as_of"),
        ("As-of date", "as_of"),
    ],
)
def test_header_synonyms(header: str, field: str) -> None:
    """Danish, Norwegian and English header variants map to their field."""
    # required=() so a single recognised column is enough to look at the mapping.
    data = f"{header};Noget helt andet\r\nx;y\r\n".encode("cp1252")
    table = read_table(data, required=())
    assert table.mapping == {field: 0}
    assert table.unmapped == ["Noget helt andet"]


@pytest.mark.parametrize("fields", [ARREARS_FIELDS, LEGAL_STEP_FIELDS], ids=["arrears", "legal"])
def test_no_synonym_means_two_fields(fields: dict[str, tuple[str, ...]]) -> None:
    """No header text is a synonym of two different fields."""
    owners: dict[str, str] = {}
    for canonical, synonyms in fields.items():
        for synonym in synonyms:
            key = normalise_header(synonym)
            assert owners.setdefault(key, canonical) == canonical, synonym


def test_explicit_mapping_beats_synonyms() -> None:
    """Explicit mapping beats synonyms."""
    data = "Lejemålsnr.;Restance;Saldo efter aftale\r\nA-1;900,00;300,00\r\n".encode()
    saved = {"saldo efter aftale": "arrears", "RESTANCE": ""}  # "" = ignore this column
    table = read_table(data, mapping=saved)
    assert table.mapping == {"tenancy_ref": 0, "arrears": 2}
    assert table.unmapped == ["Restance"]
    rows, _ = parse_arrears_rows(table)
    assert rows[0].arrears == 30_000


def test_explicit_mapping_rescues_an_unknown_header() -> None:
    """Explicit mapping rescues an unknown header."""
    data = "Kundenr;Beløb\r\nK-9;12,50\r\n".encode()
    with pytest.raises(FileRefused):
        read_table(data)
    table = read_table(data, mapping={"Kundenr": "tenancy_ref", "Beløb": "arrears"})
    rows, _ = parse_arrears_rows(table)
    assert (rows[0].tenancy_ref, rows[0].arrears) == ("K-9", 1250)


def test_explicit_mapping_to_an_unknown_field_is_a_programming_error() -> None:
    """A saved mapping naming an unknown field raises ValueError (a bug, not bad input)."""
    with pytest.raises(ValueError, match="unknown field"):
        read_table(b"Ref;Arrears\r\nA;1\r\n", mapping={"Ref": "tenancy_nr"})


# ---------------------------------------------------------------------------
# Row errors
# ---------------------------------------------------------------------------


def test_mixed_file_keeps_good_rows_and_names_each_bad_one() -> None:
    """In a messy file the good rows are kept and each bad row is named with its field."""
    table = read_table(MIXED_ERRORS.read_bytes(), MIXED_ERRORS.name)
    assert table.unmapped == ["Bemærkning"]
    rows, errors = parse_arrears_rows(table)
    assert [(r.row, r.tenancy_ref or r.address, r.arrears) for r in rows] == [
        (5, "12-277-53", 5_349_600),
        (9, "Grønnehave 87, 1. tv.", 0),  # 0 means paid up; no reference, address is enough
        (13, "14-771-14", 2_288_400),
    ]
    assert rows[2].months_in_arrears == 4.0  # short row: derived from 22.884 / 5.721
    assert [(e.row, e.field, e.value) for e in errors] == [
        (6, "arrears", "4.804,0O"),
        (7, "as_of", "31-02-2026"),
        (8, "tenancy_ref", "12-277-53"),
        (10, "arrears", "-100,00"),
        (11, "", ""),
        (12, "", "ekstra"),
    ]
    reasons = {e.row: e.reason for e in errors}
    assert reasons[6] == "not an amount: '4.804,0O'"
    assert reasons[7] == "not a valid date: '31-02-2026'"
    assert reasons[8] == "duplicate of row 5"
    assert reasons[10] == "arrears must not be negative: '-100,00'"
    assert reasons[11] == "no tenancy reference or address"
    assert reasons[12].startswith("more cells than headers")


def test_missing_arrears_value_is_an_error() -> None:
    """Missing arrears value is an error."""
    _, errors = arrears("Lejemålsnr.;Restance\r\nA-1;\r\n".encode())
    assert errors == [RowError(2, "arrears", "", "arrears is missing")]


def test_one_row_can_have_several_errors() -> None:
    """One row can have several errors."""
    data = "Lejemålsnr.;Husleje;Restance;Opgjort pr.\r\nA-1;abc;1,2,3;32-13-2026\r\n".encode()
    _, errors = arrears(data)
    assert [(e.row, e.field) for e in errors] == [(2, "arrears"), (2, "monthly_rent"), (2, "as_of")]


def test_duplicate_references_ignore_case_and_spaces() -> None:
    """Duplicate references ignore case and spaces."""
    data = "Lejemålsnr.;Restance\r\nkb 100;1\r\nKB100;2\r\n".encode()
    rows, errors = arrears(data)
    assert [r.row for r in rows] == [2]
    assert errors == [RowError(3, "tenancy_ref", "KB100", "duplicate of row 2")]


def test_a_corrected_repeat_of_a_bad_row_is_kept() -> None:
    """A corrected repeat of a bad row is kept."""
    data = "Lejemålsnr.;Restance\r\nA-1;oops\r\nA-1;100\r\n".encode()
    rows, errors = arrears(data)
    assert [r.row for r in rows] == [3]
    assert [e.row for e in errors] == [2]


def test_twenty_thousand_rows() -> None:
    """A generated 20,000-row file parses completely and exactly."""
    rng = random.Random(7)
    amounts = [rng.randrange(0, 20_000_000) for _ in range(20_000)]

    def danish(oere: int) -> str:
        """Format øre the Danish way, written independently of the parser: 1.234,50."""
        kroner = f"{oere // 100:,}".replace(",", ".")
        return f"{kroner},{oere % 100:02d}"

    lines = ["Lejemålsnr.;Navn;Adresse;Restance;Opgjort pr."]
    lines += [
        f"{n:06d};Lejer {n};Testvej {n}, st. th.;{danish(a)};15-11-2026"
        for n, a in enumerate(amounts)
    ]
    rows, errors = arrears("\r\n".join(lines).encode("cp1252"))
    assert errors == []
    assert len(rows) == 20_000
    assert rows[-1].row == 20_001
    assert [r.arrears for r in rows] == amounts


# ---------------------------------------------------------------------------
# Value parsers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "oere"),
    [
        ("12.345,50", 1_234_550),
        ("12 345,50", 1_234_550),
        ("12\u00a0345,50", 1_234_550),
        ("12\u202f345,50", 1_234_550),
        ("12345.50", 1_234_550),
        ("12345,5", 1_234_550),
        ("12345", 1_234_500),
        ("-1.234,00", -123_400),
        ("kr. 1.234,00", 123_400),
        ("1.234,00 kr", 123_400),
        ("Kr 1.234,00", 123_400),
        ("DKK 100", 10_000),
        ("NOK 100", 10_000),
        ("1,234.50", 123_450),
        ("1.234.567", 123_456_700),
        ("1.234.567,89", 123_456_789),
        ("1 234 567", 123_456_700),
        ("12.345", 1_234_500),  # lone "." + 3 digits after 1-3 digits = thousands
        ("1.5", 150),
        ("1.25", 125),
        ("500,-", 50_000),
        ("1.234,-", 123_400),
        ("0,00", 0),
        ("  8.916,00  ", 891_600),
    ],
)
def test_parse_amount(text: str, oere: int) -> None:
    """Amounts in Nordic and English notation parse to øre."""
    assert parse_amount(text) == oere


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "amount is missing"),
        ("   ", "amount is missing"),
        ("12,34,5", "not an amount: '12,34,5'"),
        ("abc", "not an amount: 'abc'"),
        ("12,345", "more than 2 decimals in amount: '12,345'"),  # lone "," is decimal
        ("1234.567", "more than 2 decimals in amount: '1234.567'"),
        ("0.500", "more than 2 decimals in amount: '0.500'"),
        ("1,2345", "more than 2 decimals in amount: '1,2345'"),
        ("1.23.45", "not an amount: '1.23.45'"),
        ("1.234,56,78", "not an amount: '1.234,56,78'"),
        ("12 34,00", "not an amount: '12 34,00'"),
        ("12,", "not an amount: '12,'"),
        ("kr.", "not an amount: 'kr.'"),
        ("EUR 100", "not an amount: 'EUR 100'"),
    ],
)
def test_parse_amount_errors(text: str, message: str) -> None:
    """Unparseable or doubtful amounts raise ValueError naming the value."""
    with pytest.raises(ValueError) as error:
        parse_amount(text)
    assert str(error.value) == message


def test_parse_amount_from_number_cells_reads_a_lone_dot_as_decimal() -> None:
    """Parse amount from number cells reads a lone dot as decimal."""
    assert parse_amount("12.345") == 1_234_500
    with pytest.raises(ValueError, match="more than 2 decimals"):
        parse_amount("12.345", dot_decimal=True)
    assert parse_amount("8916.5", dot_decimal=True) == 891_650


@pytest.mark.parametrize(
    "text",
    [
        "15-11-2026",
        "15.11.2026",
        "15/11/2026",
        "2026-11-15",
        "15.11.26",
        "15-11-26",
        "2026-11-15 00:00:00",
        "2026-11-15T08:30",
        " 15.11.2026 ",
    ],
)
def test_parse_date(text: str) -> None:
    """Day-first and ISO dates, with or without a time, parse."""
    assert parse_date(text) == date(2026, 11, 15)


def test_parse_date_is_day_first() -> None:
    """Parse date is day first."""
    assert parse_date("03.04.2026") == date(2026, 4, 3)
    assert parse_date("3/4/2026") == date(2026, 4, 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "date is missing"),
        ("31.02.2026", "not a valid date: '31.02.2026'"),
        ("15.13.2026", "not a valid date: '15.13.2026'"),
        ("11/15/2026", "not a valid date: '11/15/2026'"),
        ("15.11-2026", "not a date: '15.11-2026'"),
        ("i går", "not a date: 'i går'"),
        ("46341", "not a date: '46341'"),
    ],
)
def test_parse_date_errors(text: str, message: str) -> None:
    """Impossible or unrecognised dates raise ValueError naming the value."""
    with pytest.raises(ValueError) as error:
        parse_date(text)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "value"), [("5", 5), ("5,0", 5), ("5.0", 5), ("0", 0), (" 2 ", 2)]
)
def test_parse_int(text: str, value: int) -> None:
    """Whole-number cells parse, including Excel's '5,0'."""
    assert parse_int(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "must not be negative"),
        ("1,5", "not a whole number"),
        ("to", "not a whole number"),
        ("", "number is missing"),
    ],
)
def test_parse_int_errors(text: str, message: str) -> None:
    """Negative, fractional or non-numeric counts are refused."""
    with pytest.raises(ValueError, match=message):
        parse_int(text)


@pytest.mark.parametrize(
    ("text", "value"), [("1,5", 1.5), ("1.5", 1.5), ("2", 2.0), ("0,25", 0.25)]
)
def test_parse_quantity(text: str, value: float) -> None:
    """Decimal quantities parse with comma or dot."""
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["-1", "1,5,0", "halv", ""])
def test_parse_quantity_errors(text: str) -> None:
    """Negative or malformed quantities are refused."""
    with pytest.raises(ValueError):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("+45 69 33 13 93", "+4569331393"),
        ("69 33 13 93", "69331393"),
        ("0045 69331393", "+4569331393"),
        ("+47 (22) 33-44-55", "+4722334455"),
        ("", ""),
        ("  ", ""),
        ("12345678 / 87654321", "12345678 / 87654321"),  # two numbers are not merged
    ],
)
def test_normalise_phone(text: str, phone: str) -> None:
    """Phone numbers lose spacing and separators but keep the leading +."""
    assert normalise_phone(text) == phone


# ---------------------------------------------------------------------------
# Matching keys
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Søndre Strandvej 110, 3.", "søndre strandvej 110 3"),
        ("Lundegade 103, st. th.", "LUNDEGADE 103 STUEN TH"),
        ("Lundegade 103, st. t.h.", "Lundegade 103, st. th."),
        ("Vapnagaard 31, 1. tv.", "Vapnagaard 31, 1. t.v."),
        ("Vapnagaard 31, 1. sal tv", "Vapnagaard 31, 1. tv."),
        ("Tollbugata 53 A", "Tollbugata 53A"),
        ("Gulskogen allé 75", "Gulskogen alle 75"),
        ("Stengade  52,\t1. tv", "Stengade 52, 1. tv."),
    ],
)
def test_addresses_that_match(one: str, other: str) -> None:
    """Spellings of the same address give the same key."""
    assert normalise_address(one) == normalise_address(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Søndre Strandvej 110, 3.", "Søndre Strandvej 111, 3."),
        ("Tollbugata 53A", "Tollbugata 53B"),
        ("Lundegade 103, st. th.", "Lundegade 103, st. tv."),
        ("Åssiden 1", "Assiden 1"),
    ],
)
def test_addresses_that_differ(one: str, other: str) -> None:
    """Different addresses keep different keys."""
    assert normalise_address(one) != normalise_address(other)


def test_address_key_shape() -> None:
    """The address key is lower case without punctuation."""
    assert normalise_address("Søndre Strandvej 110, 3.") == "søndre strandvej 110 3"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Bakken, Lars", "Lars Bakken"),
        ("Ålien, Åse", "åse ålien"),
        ("  Signe   Hansen ", "SIGNE HANSEN"),
        ("Olsen, Kari M.", "Kari M Olsen"),
        ("Hansen-Berg, Per", "Per Hansen-Berg"),
    ],
)
def test_names_that_match(one: str, other: str) -> None:
    """'Last, First' and 'First Last' spellings give the same key."""
    assert normalise_name(one) == normalise_name(other)


def test_names_that_differ() -> None:
    """Different people keep different keys."""
    assert normalise_name("Bakken, Lars") != normalise_name("Bakken, Kari")
    assert normalise_name("Lars Bakken") == "lars bakken"


# ---------------------------------------------------------------------------
# Legal steps
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "step"),
    [
        # English
        ("Petition", "petition"),
        ("Hearing", "hearing"),
        ("Eviction scheduled", "eviction_scheduled"),
        ("eviction_scheduled", "eviction_scheduled"),
        ("Executed", "executed"),
        ("Withdrawn", "withdrawn"),
        ("Cancelled", "cancelled"),
        ("canceled", "cancelled"),
        # Danish
        ("Stævning", "petition"),
        ("Begæring", "petition"),
        ("Udsættelsesbegæring", "petition"),
        ("Retsmøde", "hearing"),
        ("Fogedret", "hearing"),
        ("Fogedmøde", "hearing"),
        ("Udsættelse berammet", "eviction_scheduled"),
        ("Berammet udsættelse", "eviction_scheduled"),
        ("Udsat", "executed"),
        ("Effektueret", "executed"),
        ("Gennemført", "executed"),
        ("Tilbagekaldt", "withdrawn"),
        ("Trukket tilbage", "withdrawn"),
        ("Aflyst", "cancelled"),
        ("Annulleret", "cancelled"),
        # Norwegian
        ("Begjæring", "petition"),
        ("Begjæring om utkastelse", "petition"),
        ("Begjæring om fravikelse", "petition"),
        ("Rettsmøde", "hearing"),
        ("Forliksråd", "hearing"),
        ("Fravikelse berammet", "eviction_scheduled"),
        ("Utkastelse berammet", "eviction_scheduled"),
        ("Tvangsfravikelse", "eviction_scheduled"),
        ("Fravikelse gjennomført", "executed"),
        ("Gjennomført", "executed"),
        ("Trukket", "withdrawn"),
        ("Trukket tilbake", "withdrawn"),
        ("Avlyst", "cancelled"),
        ("Kansellert", "cancelled"),
        # Spelling and wrapping
        ("UDSÆTTELSE BERAMMET.", "eviction_scheduled"),
        ("Begaering", "petition"),
        ("Udsættelse berammet til kl. 9", "eviction_scheduled"),
    ],
)
def test_step_words(word: str, step: str) -> None:
    """Step words in English, Danish and Norwegian map to the canonical steps."""
    assert normalise_step(word) == step


@pytest.mark.parametrize("word", ["Ukendt", "Begjæring om fravikelse trukket tilbake", "x"])
def test_unknown_or_conflicting_step_lists_the_allowed_values(word: str) -> None:
    """Unknown or self-contradicting steps are refused, listing the allowed values."""
    with pytest.raises(ValueError) as error:
        normalise_step(word)
    message = str(error.value)
    assert message.startswith(f"unknown step: {word!r}")
    assert all(step in message for step in STEPS)


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("Økonomisk", "economic"),
        ("økonomisk", "economic"),
        ("Huslejerestance", "economic"),
        ("Opsigelse pga. restance", "economic"),
        ("Adfærd", "behavioural"),
        ("Atferd", "behavioural"),
        ("Ophør", "contract_end"),
        ("Oppsigelse", "contract_end"),
        ("economic", "economic"),
        ("Behaviour", "behavioural"),
        ("contract_end", "contract_end"),
        ("End of contract", "contract_end"),
        ("Different reason", "other"),
        ("Andet", "other"),
        ("", None),
    ],
)
def test_causes(text: str, cause: str | None) -> None:
    """Cause words map to the four causes; empty is None and odd wording is 'other'."""
    assert normalise_cause(text) == cause


def test_legal_step_file() -> None:
    """A legal-step file keeps good steps and names bad, duplicate and incomplete ones."""
    data = csv_bytes(
        [
            [
                "Udlejer",
                "Lejemålsnr.",
                "Adresse",
                "Postnr.",
                "By",
                "Hændelse",
                "Dato",
                "Årsag",
                "Antal børn",
            ],
            [
                "Bf. Kronborg",
                "12-277-53",
                "Søndre Strandvej 110, 3.",
                "3000",
                "Helsingør",
                "Udsættelsesbegæring",
                "01-10-2026",
                "Økonomisk",
                "2",
            ],
            [
                "Bf. Kronborg",
                "12-277-53",
                "Søndre Strandvej 110, 3.",
                "3000",
                "Helsingør",
                "Fogedmøde",
                "15-11-2026",
                "Økonomisk",
                "",
            ],
            [
                "Bf. Kronborg",
                "12-277-53",
                "Søndre Strandvej 110, 3.",
                "3000",
                "Helsingør",
                "Fogedmøde",
                "15.11.2026",
                "",
                "",
            ],
            [
                "Bf. Kronborg",
                "",
                "Lundegade 103, st. th.",
                "3000",
                "Helsingør",
                "Opsagt",
                "15-11-2026",
                "Adfærd",
                "to",
            ],
            ["Bf. Kronborg", "14-631-24", "", "3000", "Helsingør", "Retsmøde", "", "", ""],
        ],
        encoding="cp1252",
    )
    rows, errors = legal_steps(data)
    assert rows == [
        LegalStepRow(
            2,
            "Bf. Kronborg",
            "12-277-53",
            "Søndre Strandvej 110, 3.",
            "3000",
            "Helsingør",
            "petition",
            date(2026, 10, 1),
            "economic",
            2,
        ),
        LegalStepRow(
            3,
            "Bf. Kronborg",
            "12-277-53",
            "Søndre Strandvej 110, 3.",
            "3000",
            "Helsingør",
            "hearing",
            date(2026, 11, 15),
            "economic",
            None,
        ),
    ]
    assert [(e.row, e.field, e.value) for e in errors] == [
        (4, "step", "Fogedmøde"),  # same tenancy, step and date as row 3
        (5, "step", "Opsagt"),
        (5, "children", "to"),
        (6, "date", ""),
    ]
    assert errors[0].reason == "duplicate of row 3"


def test_legal_step_table_is_a_table() -> None:
    """A legal-step file maps its English headers with the legal-step vocabulary."""
    table = read_table(
        b"Landlord,Address,Event,Date\r\nX,Road 1,Hearing,2026-11-15\r\n", fields=LEGAL_STEP_FIELDS
    )
    assert isinstance(table, Table)
    assert table.delimiter == ","
    assert table.mapping == {"landlord": 0, "address": 1, "step": 2, "date": 3}


# ---------------------------------------------------------------------------
# Limits on input: hostile files are refused whole, naming the limit
# ---------------------------------------------------------------------------


@pytest.fixture
def openpyxl_opened(monkeypatch) -> list[int]:
    """Count the workbooks openpyxl opens; a refusal "before openpyxl" leaves it at 0."""
    opened: list[int] = []
    real = openpyxl.load_workbook

    def counting(*args, **kwargs):
        opened.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", counting)
    return opened


def test_a_sparse_sheet_declaring_a1_xfd1048576_is_refused_naming_the_column(
    openpyxl_opened,
) -> None:
    """The finding's 1.5 KB workbook (A1:XFD1048576, one cell in its last corner)."""
    with pytest.raises(FileRefused, match=r"column 16,384 \(XFD1048576\); at most 200 columns"):
        read_table(hostile.sparse_xlsx(), "sparse.xlsx")
    assert openpyxl_opened == []


def test_a_sheet_with_one_cell_far_down_is_refused_naming_the_row() -> None:
    """One cell in A1048576: the rows past MAX_ROWS are never read, the file is refused."""
    with pytest.raises(FileRefused, match=r"^Row 1,048,576 of a sheet holds cells; at most 100,"):
        read_table(hostile.sparse_xlsx(column=1), "sparse.xlsx")


def test_the_declared_dimension_is_not_trusted() -> None:
    """A good list declaring A1:XFD20 is read as what it holds: rows as wide as their cells."""
    table = read_table(hostile.declared_too_big_xlsx("A1:XFD20"), "liste.xlsx")
    assert table.headers == hostile.HEADER
    assert [len(cells) for _, cells in table.rows] == [4, 4, 4]


def test_a_cell_past_column_200_is_refused() -> None:
    """A good list with one more cell in column XFD is refused, not silently cut."""
    with pytest.raises(FileRefused, match=r"column 16,384 \(XFD2\); at most 200 columns are read"):
        read_table(hostile.far_column_xlsx("XFD2"), "liste.xlsx")


def test_an_xlsx_zip_bomb_is_refused_by_its_unpacked_size(openpyxl_opened) -> None:
    """A 1 MB workbook whose sheet unpacks to 200 MB is refused before openpyxl opens it."""
    data = hostile.zip_bomb_xlsx(200 * hostile.MIB)
    assert len(data) < 2 * hostile.MIB
    with pytest.raises(FileRefused, match=r"^The workbook unpacks to 201 MB; at most 128 MB"):
        read_table(data, "bomb.xlsx")
    assert openpyxl_opened == []


def test_an_xlsx_part_packed_over_100_fold_is_refused(openpyxl_opened) -> None:
    """20 MB of whitespace packs 1,000-fold: within the size, but a zip bomb's ratio."""
    with pytest.raises(FileRefused, match=r"unpacks [\d,]+ times its packed size; at most 100"):
        read_table(hostile.zip_bomb_xlsx(20 * hostile.MIB), "bomb.xlsx")
    assert openpyxl_opened == []


def test_a_part_larger_than_its_zip_headers_say_is_refused(openpyxl_opened) -> None:
    """A 50 MB sheet declared as 4 KB is unpacked only as far as 4 KB, then refused."""
    with pytest.raises(FileRefused, match="does not unpack to what its zip headers say"):
        read_table(hostile.lying_sizes_xlsx(), "lying.xlsx")
    assert openpyxl_opened == []


@pytest.fixture
def zips_opened(monkeypatch) -> list[int]:
    """Count the zip archives opened from here on (clear it once the file is built)."""
    opened: list[int] = []
    real = zipfile.ZipFile

    class Counting(real):
        def __init__(self, *args, **kwargs):
            opened.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(zipfile, "ZipFile", Counting)
    return opened


def test_a_zip_of_thousands_of_files_is_refused_before_it_is_opened(zips_opened) -> None:
    """The count comes from the zip's end record, before zipfile builds an entry for each."""
    data = hostile.many_parts_xlsx(2_000)
    zips_opened.clear()
    with pytest.raises(FileRefused, match=r"^The workbook holds 2,000 files; at most 1,000"):
        read_table(data, "parts.xlsx")
    assert zips_opened == []


def test_a_zip_whose_end_record_lies_about_its_files_is_refused(zips_opened) -> None:
    """Claiming 10 files, it lists 30,000: the list's size gives it away, still unopened."""
    data = hostile.many_parts_xlsx(30_000, claimed=10)
    zips_opened.clear()
    with pytest.raises(FileRefused, match=r"^The workbook's list of files is 2 MB; at most 1 MB"):
        read_table(data, "parts.xlsx")
    assert zips_opened == []
    with pytest.raises(FileRefused, match=r"^The workbook holds 1,500 files; at most 1,000"):
        read_table(hostile.many_parts_xlsx(1_500, claimed=10), "parts.xlsx")


def test_a_zip64_workbook_is_refused_before_it_is_opened(zips_opened) -> None:
    """zipfile would trust the zip64 record's count and size over the checked ones."""
    data = hostile.many_parts_xlsx(70_000)
    zips_opened.clear()
    with pytest.raises(FileRefused, match="zip64"):
        read_table(data, "parts.xlsx")
    assert zips_opened == []


def test_a_sheet_row_of_a_million_cells_is_refused_before_openpyxl_parses_it(
    openpyxl_opened,
) -> None:
    """openpyxl would build the whole row first; the scan refuses it as it streams past."""
    with pytest.raises(FileRefused, match=r"^Row 2 of a sheet has more than 200 cells"):
        read_table(hostile.wide_row_xlsx(1_000_000), "wide.xlsx")
    assert openpyxl_opened == []


def test_a_sheet_row_of_201_cells_is_refused_and_one_of_200_is_read() -> None:
    """The column limit is exact."""
    with pytest.raises(FileRefused, match=r"^Row 2 of a sheet has more than 200 cells"):
        read_table(hostile.wide_row_xlsx(201), "wide.xlsx")
    table = read_table(hostile.wide_row_xlsx(200), "wide.xlsx")
    assert len(table.rows[0][1]) == 200


def test_a_sheet_of_more_than_100_000_rows_is_refused() -> None:
    """Row 100,001 holding cells is refused as a sheet past the row limit."""
    with pytest.raises(FileRefused, match=r"^Row 100,001 of a sheet holds cells; at most 100,000"):
        read_table(hostile.many_rows_xlsx(100_000), "rows.xlsx")


def test_a_shared_string_repeated_in_every_cell_is_refused_by_its_characters() -> None:
    """One 30,000-character string in 60,000 cells would be 1.8 billion characters."""
    with pytest.raises(FileRefused, match=r"more than 50,000,000 characters of text"):
        read_table(hostile.repeated_string_xlsx(), "strings.xlsx")


def test_a_sheet_cell_of_megabytes_is_refused_as_it_streams_past() -> None:
    """2 MB of text in one cell (random letters, so it packs too poorly to be a bomb)."""
    text = "".join(random.Random(1).choices("abcdefghijklmnopqrstuvwxyz", k=2 * hostile.MIB))
    rows = [hostile.row_xml(1, hostile.HEADER), hostile.row_xml(2, ["R", "N", "A", text])]
    with pytest.raises(FileRefused, match=r"^The workbook holds a cell or a tag longer than 1 MB"):
        read_table(hostile.workbook(hostile.sheet_xml(rows)), "long.xlsx")


def _damaged(kind: str) -> bytes:
    """A good small workbook, cut short, with its sheet's packed bytes garbled, or marked
    as encrypted."""
    data = bytearray(hostile.declared_too_big_xlsx("A1:D4"))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename)
    if kind == "cut-short":
        return bytes(data[: len(data) // 2])
    if kind == "garbled":
        data[start : start + 40] = bytes(range(40))
        return bytes(data)
    central = data.find(b"PK\x01\x02")
    while central >= 0:  # every central header's flags: bit 0 is "encrypted"
        data[central + 8] |= 1
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


@pytest.mark.parametrize("kind", ["cut-short", "garbled", "encrypted"])
def test_a_damaged_workbook_is_refused_not_an_error(kind: str) -> None:
    """Whatever zipfile or zlib raise while the parts are checked, the answer is a refusal."""
    with pytest.raises(FileRefused):
        read_table(_damaged(kind), "damaged.xlsx")


def test_a_sheet_defining_xml_entities_is_refused() -> None:
    """Entities (the billion laughs) are refused by defusedxml under openpyxl, as a bad file."""
    entity = '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    pieces = list(hostile.sheet_xml(hostile.small_list_rows()))
    pieces[0] = pieces[0].replace(b"\n", f"\n{entity}".encode(), 1)
    pieces[2] = pieces[2].replace(b"Stengade 2", b"&b;")
    with pytest.raises(FileRefused, match="could not be read as an Excel workbook"):
        read_table(hostile.workbook(pieces), "entities.xlsx")


def test_a_utf16_sheet_is_refused_as_one() -> None:
    """The scan reads UTF-8; a UTF-16 sheet would pass it unseen, so it is refused."""
    sheet = '<?xml version="1.0" encoding="UTF-16"?><worksheet/>'.encode("utf-16")
    with pytest.raises(FileRefused, match="UTF-16"):
        read_table(hostile.workbook([sheet]), "utf16.xlsx")


def test_a_csv_of_a_million_columns_is_refused_by_its_line_length() -> None:
    """The line is refused before it is split (splitting and mapping it took 82 s)."""
    with pytest.raises(FileRefused, match=r"^Line 2 has 1,999,999 characters; at most 100,000"):
        read_table(hostile.wide_csv(1_000_000), "wide.csv")


def test_a_csv_row_of_5000_cells_is_refused_naming_the_row() -> None:
    """A line short enough to read, but with too many cells."""
    with pytest.raises(FileRefused, match=r"^Row 2 has 5,000 cells; at most 200 are read\.$"):
        read_table(hostile.wide_csv(5_000), "wide.csv")


def test_a_csv_with_one_10_mb_line_is_refused() -> None:
    """One cell of 10 MB on one line."""
    with pytest.raises(FileRefused, match=r"^Line 2 has 10,485,781 characters; at most 100,000"):
        read_table(hostile.long_line_csv(10 * hostile.MIB), "long.csv")


def test_a_quoted_cell_longer_than_excel_allows_is_refused() -> None:
    """A cell spread over short lines still counts as one cell."""
    cell = "x" * 99 + "\n"
    for lines, pattern in (
        (400, r"^Row 2 has a cell of 40,000 characters \(column 4\); at most 32,767"),
        (2_000, r"^Row 2 has a cell of more than 131,072 characters; at most 32,767"),
    ):
        data = f'{";".join(hostile.HEADER)}\r\nR;N;A;"{cell * lines}"\r\n'.encode()
        with pytest.raises(FileRefused, match=pattern):
            read_table(data, "long.csv")


def test_a_csv_of_500_000_bad_rows_is_refused_by_its_row_count() -> None:
    """More rows than any landlord's list has."""
    with pytest.raises(FileRefused, match=r"^The file has more than 100,000 rows; at most 100,000"):
        read_table(hostile.bad_rows_csv(500_000), "bad.csv")


def test_a_csv_of_exactly_100_000_rows_is_read() -> None:
    """The header and 99,999 rows: the row limit is not off by one."""
    table = read_table(hostile.bad_rows_csv(99_999, good=0), "many.csv")
    assert len(table.rows) == 99_999 and table.rows[-1][0] == 100_000


def test_a_csv_of_more_than_2_000_000_cells_is_refused() -> None:
    """Within the rows and the columns, but not their product."""
    line = ";".join(["1"] * 100)
    data = ";".join(hostile.HEADER).encode() + ("\r\n" + line).encode() * 20_001
    with pytest.raises(FileRefused, match=r"^The file has more than 2,000,000 cells"):
        read_table(data, "cells.csv")


def test_a_column_name_longer_than_200_characters_is_refused() -> None:
    """The preview shows and posts every column name, so their length is bounded too."""
    data = f"Lejemålsnr.;Restance;{'N' * 201}\r\nR1;100\r\n".encode()
    with pytest.raises(FileRefused, match=r"column name in column 3 has 201 characters; at most"):
        read_table(data, "long.csv")


def test_a_file_larger_than_32_mb_is_refused() -> None:
    """The command line has no upload limit; this is it."""
    with pytest.raises(FileRefused, match=r"^The file is 33 MB; at most 32 MB are read\.$"):
        read_table(b"x" * (32 * hostile.MIB + 1), "big.csv")


def test_many_bad_rows_within_the_limits_are_all_reported() -> None:
    """50,000 bad rows are read and each gets its error (the page shows the first 100)."""
    rows, errors = arrears(hostile.bad_rows_csv(50_000), "bad.csv")
    assert len(rows) == 2 and len(errors) == 50_000
    assert errors[-1] == RowError(50_003, "arrears", "=1+2", "not an amount: '=1+2'")


def test_rejected_rows_csv_keeps_spreadsheets_from_running_cells() -> None:
    """Row, field, value, reason; cells starting with = + - @ get a leading quote."""
    text = rejected_rows_csv(
        [
            RowError(3, "arrears", "=HYPERLINK(1)", "not an amount: '=HYPERLINK(1)'"),
            RowError(4, "arrears", "-5", "arrears must not be negative: '-5'"),
            RowError(5, "phone", "+45 1", "x"),
            RowError(6, "", "@SUM(A1)", "Søndre Strandvej"),
        ]
    )
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == [
        ["row", "field", "value", "reason"],
        ["3", "arrears", "'=HYPERLINK(1)", "not an amount: '=HYPERLINK(1)'"],
        ["4", "arrears", "'-5", "arrears must not be negative: '-5'"],
        ["5", "phone", "'+45 1", "x"],
        ["6", "", "'@SUM(A1)", "Søndre Strandvej"],
    ]


@pytest.mark.parametrize(
    ("text", "hours", "minutes"),
    [
        ("kl. 10.00", 10, 0),
        ("10:00", 10, 0),
        ("10.00", 10, 0),
        ("Kl. 9", 9, 0),
        ("9.30", 9, 30),
        ("09:30:00", 9, 30),  # a spreadsheet's time cell
        ("klokken 13.15", 13, 15),
        (" kl.\u00a014.45 ", 14, 45),
    ],
)
def test_a_time_of_day_is_read_as_nordic_files_write_it(text, hours, minutes):
    from datetime import time

    from fieldapp.services.tabular import parse_clock

    assert parse_clock(text) == time(hours, minutes)


@pytest.mark.parametrize("text", ["25.00", "10.61", "10.5", "kl. ti", "1000", "-1", "10:00 PM"])
def test_what_is_no_time_of_day_is_refused_with_the_value(text):
    from fieldapp.services.tabular import parse_clock

    with pytest.raises(ValueError, match="not a time") as caught:
        parse_clock(text)
    assert repr(text) in str(caught.value)
