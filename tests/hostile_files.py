"""Hostile uploads, built in memory: sparse and zip-bomb workbooks, huge column counts, huge
rows, long lines and lists of many bad rows. The tests and bench/bench_hostile_files.py use
the same builders, so what is measured is what is tested."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterable
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
{strings}</Types>"""  # noqa: E501
STRINGS_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>\n'
)
PACKAGE_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>"""  # noqa: E501
WORKBOOK = f"""<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="{MAIN}" xmlns:r="{DOC_RELS}"><sheets><sheet name="Restancer" sheetId="1" r:id="rId1"/></sheets></workbook>"""  # noqa: E501
WORKBOOK_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>{{strings}}</Relationships>"""  # noqa: E501
STRINGS_REL = (
    f'<Relationship Id="rId2" Type="{DOC_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
)

HEADER = ["Lejemålsnr.", "Navn", "Adresse", "Restance"]
MIB = 1024 * 1024


# ---------------------------------------------------------------------------
# Workbooks written by hand, so the sheet's XML says exactly what a hostile file says
# ---------------------------------------------------------------------------


def column_letters(number: int) -> str:
    """1 -> A, 16384 -> XFD."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def cell(reference: str, value: object) -> str:
    """One cell: a number, or an inline string."""
    if isinstance(value, int | float):
        return f'<c r="{reference}"><v>{value}</v></c>'
    return f'<c r="{reference}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def row_xml(number: int, values: Iterable[object]) -> str:
    """One row of cells from column A on."""
    cells = "".join(
        cell(f"{column_letters(column)}{number}", value)
        for column, value in enumerate(values, start=1)
    )
    return f'<row r="{number}">{cells}</row>'


def sheet_xml(rows: Iterable[str], dimension: str = "", padding: int = 0) -> Iterable[bytes]:
    """A worksheet's XML in pieces; padding adds that many bytes of whitespace (zip bombs)."""
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{MAIN}">'.encode()
    if dimension:
        yield f'<dimension ref="{dimension}"/>'.encode()
    yield b"<sheetData>"
    batch: list[str] = []
    for row in rows:
        batch.append(row)
        if len(batch) == 1000:
            yield "".join(batch).encode()
            batch = []
    yield "".join(batch).encode()
    yield b"</sheetData>"
    block = b" " * MIB
    while padding > 0:
        yield block[:padding]
        padding -= MIB
    yield b"</worksheet>"


def workbook(sheet: Iterable[bytes], shared_strings: list[str] | None = None) -> bytes:
    """A minimal .xlsx package around a worksheet's XML (and optionally shared strings)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        strings = shared_strings is not None
        archive.writestr(
            "[Content_Types].xml", CONTENT_TYPES.format(strings=STRINGS_TYPE * strings)
        )
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr(
            "xl/_rels/workbook.xml.rels", WORKBOOK_RELS.format(strings=STRINGS_REL * strings)
        )
        if strings:
            items = "".join(f"<si><t>{escape(text)}</t></si>" for text in shared_strings)
            archive.writestr(
                "xl/sharedStrings.xml",
                f'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="{MAIN}">{items}</sst>',
            )
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            for piece in sheet:
                part.write(piece)
    return buffer.getvalue()


def small_list_rows(count: int = 3) -> list[str]:
    """A header and a few good arrears rows, as rows of sheet XML."""
    rows = [row_xml(1, HEADER)]
    rows += [
        row_xml(n, [f"R-{n}", f"Lejer {n}", f"Stengade {n}", 1000 + n]) for n in range(2, count + 2)
    ]
    return rows


def sparse_xlsx(column: int = 16_384, row: int = 1_048_576) -> bytes:
    """Declares A1:XFD1048576 and holds one cell (the finding's 1.5 KB file): by default in
    the last cell a sheet can have."""
    reference = f"{column_letters(column)}{row}"
    return workbook(
        sheet_xml([f'<row r="{row}">{cell(reference, "Restance")}</row>'], "A1:XFD1048576")
    )


def declared_too_big_xlsx(dimension: str = "A1:XFD20") -> bytes:
    """A small good list whose sheet declares a far larger dimension than it fills."""
    return workbook(sheet_xml(small_list_rows(), dimension))


def zip_bomb_xlsx(unpacked: int = 1024 * MIB) -> bytes:
    """A small list whose sheet unpacks to `unpacked` bytes, nearly all whitespace."""
    return workbook(sheet_xml(small_list_rows(), "A1:D4", padding=unpacked))


def lying_sizes_xlsx() -> bytes:
    """A 50 MB sheet whose zip headers say it is 4 KB: a zip bomb that hides its size."""
    data = bytearray(zip_bomb_xlsx(50 * MIB))
    name = b"xl/worksheets/sheet1.xml"
    fake = (4096).to_bytes(4, "little")
    # (signature, where the uncompressed size sits, where the name's length, where the name)
    headers = ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46))
    for signature, size_at, length_at, name_at in headers:
        position = data.find(signature)
        while position >= 0:
            at = position + length_at
            length = int.from_bytes(data[at : at + 2], "little")
            if data[position + name_at : position + name_at + length] == name:
                data[position + size_at : position + size_at + 4] = fake
            position = data.find(signature, position + 4)
    return bytes(data)


def wide_row_xlsx(cells: int = 1_000_000, seed: int = 7) -> bytes:
    """One row of `cells` cells without references, random numbers so it packs poorly."""
    rng = random.Random(seed)

    def rows() -> Iterable[str]:
        yield row_xml(1, HEADER)
        yield (
            '<row r="2">'
            + "".join(f"<c><v>{rng.randrange(10**9)}</v></c>" for _ in range(cells))
            + "</row>"
        )

    return workbook(sheet_xml(rows()))


def far_column_xlsx(reference: str = "XFD2") -> bytes:
    """A good small list with one more cell far to the right (column XFD is 16,384)."""
    rows = small_list_rows()
    rows[1] = rows[1].replace("</row>", cell(reference, "x") + "</row>")
    return workbook(sheet_xml(rows))


def many_rows_xlsx(count: int = 200_000) -> bytes:
    """A list of `count` good rows."""

    def rows() -> Iterable[str]:
        yield row_xml(1, HEADER)
        for n in range(2, count + 2):
            yield row_xml(n, [f"R-{n}", "Lejer", f"Stengade {n}", 1000])

    return workbook(sheet_xml(rows()))


def repeated_string_xlsx(rows: int = 2_000, length: int = 30_000) -> bytes:
    """Every cell of every row is one shared string of `length` characters (a text bomb)."""
    body = [row_xml(1, HEADER)]
    for n in range(2, rows + 2):
        cells = "".join(f'<c r="{column_letters(c)}{n}" t="s"><v>0</v></c>' for c in range(1, 31))
        body.append(f'<row r="{n}">{cells}</row>')
    return workbook(sheet_xml(body), shared_strings=["x" * length])


def many_parts_xlsx(parts: int = 60_000, claimed: int | None = None) -> bytes:
    """A zip of `parts` empty files (zipfile builds an object for each as it opens it); its
    end record may claim another number. Over 65,535 files it is a zip64 archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(parts):
            archive.writestr(f"{n}", b"")
    data = bytearray(buffer.getvalue())
    if claimed is not None:
        end = data.rfind(b"PK\x05\x06")
        data[end + 8 : end + 12] = claimed.to_bytes(2, "little") * 2  # on this disk, in all
    return bytes(data)


def at_limits_rows(rows: int = 100_000, columns: int = 20, seed: int = 3) -> Iterable[list]:
    """A header and good arrears rows filling the row and cell limits (100,000 x 20)."""
    rng = random.Random(seed)
    yield HEADER + [f"Note {n}" for n in range(columns - len(HEADER))]
    for n in range(2, rows + 1):
        fixed = [f"R-{n}", f"Lejer {rng.randrange(10**6)}", f"Stengade {n}", 1000 + n % 9000]
        yield fixed + [rng.randrange(10**6) for _ in range(columns - len(HEADER))]


def at_limits_xlsx() -> bytes:
    """The largest sheet accepted, without a declared dimension (openpyxl then streams it
    once more to find its size): what an accepted file can cost at most."""
    rows = (row_xml(n, values) for n, values in enumerate(at_limits_rows(), start=1))
    return workbook(sheet_xml(rows))


def at_limits_csv() -> bytes:
    """The largest CSV list accepted, 100,000 rows of 20 cells."""
    lines = (";".join(map(str, values)) for values in at_limits_rows())
    return ("\r\n".join(lines) + "\r\n").encode()


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------


def wide_csv(columns: int = 1_000_000) -> bytes:
    """A header of the list's columns, then one line of `columns` cells."""
    return (";".join(HEADER) + "\r\n" + ";".join(["1"] * columns) + "\r\n").encode()


def long_line_csv(length: int = 10 * MIB) -> bytes:
    """A good list with one data line of `length` characters in a single cell."""
    return (";".join(HEADER) + "\r\nR-1;Lejer;Stengade 1;" + "9" * length + "\r\n").encode()


def bad_rows_csv(count: int, good: int = 2, value: str = "=1+2") -> bytes:
    """A list of `good` good rows and `count` rows whose arrears cell is `value`."""
    lines = [";".join(HEADER)]
    lines += [f"G-{n};Lejer {n};Stengade {n};1.000,00" for n in range(1, good + 1)]
    lines += [f"B-{n};Lejer {n};Vejen {n};{value}" for n in range(1, count + 1)]
    return ("\r\n".join(lines) + "\r\n").encode()


HOSTILE_FILES = {
    "sparse XLSX, A1:XFD1048576, one cell": (sparse_xlsx, "sparse.xlsx"),
    "XLSX zip bomb, 1 GiB of sheet": (zip_bomb_xlsx, "bomb.xlsx"),
    "XLSX with lying zip sizes": (lying_sizes_xlsx, "lying.xlsx"),
    "XLSX row of 1,000,000 cells": (wide_row_xlsx, "widerow.xlsx"),
    "XLSX of 200,000 rows": (many_rows_xlsx, "rows.xlsx"),
    "XLSX repeating a 30,000-character string": (repeated_string_xlsx, "strings.xlsx"),
    "zip of 60,000 empty files": (many_parts_xlsx, "parts.xlsx"),
    "zip of 250,000 empty files (zip64)": (lambda: many_parts_xlsx(250_000), "parts64.xlsx"),
    "CSV with 1,000,000 columns": (wide_csv, "wide.csv"),
    "CSV with one 10 MB line": (long_line_csv, "longline.csv"),
    "CSV of 500,000 bad rows": (lambda: bad_rows_csv(500_000), "bad500k.csv"),
    "CSV of 50,000 bad rows (accepted)": (lambda: bad_rows_csv(50_000), "bad50k.csv"),
    "XLSX at the limits, 100,000 x 20 (accepted)": (at_limits_xlsx, "limits.xlsx"),
    "CSV at the limits, 100,000 x 20 (accepted)": (at_limits_csv, "limits.csv"),
}
