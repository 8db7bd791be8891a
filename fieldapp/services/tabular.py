"""Read landlords' arrears and legal-step files (CSV or XLSX) into clean typed rows."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TypeVar

from ..domain.legal_clock import clock_of
from ..domain.wording import N_, Wording, wording_of

_T = TypeVar("_T")

# ---------------------------------------------------------------------------
# Errors and containers
# ---------------------------------------------------------------------------


class FileRefused(Exception):
    """The whole file is refused (unreadable, not a table, no recognisable columns)."""


class CellError(ValueError):
    """A cell that cannot be read; raised with a Wording, so that the page can word it in
    the reader's language while `str()` outside a page is the English reason."""


@dataclass
class RowError:
    """One problem with one row; the row it belongs to is left out of the result.

    `reason` is English (the command line, the stored report, the log-free CSV); `wording`
    keeps the message and its values so that a page words it in its language (`worded`).
    Given a Wording as the reason, it fills in both."""

    row: int
    field: str
    value: str
    reason: str | Wording
    wording: dict | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.reason, Wording):
            self.wording, self.reason = self.reason.as_dict(), self.reason.english()

    def worded(self) -> str:
        """The reason in the reader's language on a page, else English (a report stored
        before reasons were worded keeps its English)."""
        return str(Wording.from_dict(self.wording)) if self.wording else str(self.reason)


@dataclass
class Table:
    """A decoded table: raw header and data cells plus how the headers map to fields."""

    headers: list[str]
    mapping: dict[str, int]
    unmapped: list[str]
    rows: list[tuple[int, list[str]]]
    encoding: str
    delimiter: str | None
    # (row number, column index) of XLSX cells that held numbers, so "123.456" from a
    # numeric cell is read as a decimal and never as Danish thousands.
    numeric_cells: set[tuple[int, int]] = field(default_factory=set)


@dataclass
class ArrearsRow:
    """One tenancy's arrears as reported by the landlord."""

    row: int
    tenancy_ref: str
    tenant_name: str
    address: str
    postcode: str
    town: str
    phone: str
    monthly_rent: int | None
    arrears: int
    months_in_arrears: float | None
    as_of: date | None


@dataclass
class LegalStepRow:
    """One legal step (petition, hearing, eviction ...) against one tenancy."""

    row: int
    landlord: str
    tenancy_ref: str
    address: str
    postcode: str
    town: str
    step: str
    date: date
    cause: str | None
    children: int | None
    at_time: time | None = None  # the hour it starts (organisation's wall clock)
    place: str = ""  # the court or bailiff office and its address


# ---------------------------------------------------------------------------
# Limits on input
# ---------------------------------------------------------------------------

# A landlord's list is at most about 50,000 rows of about 30 columns. These limits leave
# room for twice that, and keep a hostile file (a sparse sheet declaring A1:XFD1048576, a
# zip bomb, a million columns, one 10 MB line) from costing more than a bounded time and
# memory: bench/bench_hostile_files.py measures what the worst of them cost. A file past
# any limit is refused whole with a message naming the limit, before anything is stored.
MAX_FILE_BYTES = 32 * 1024 * 1024  # the upload form takes 25 MB; this bounds the CLI too
MAX_ROWS = 100_000  # rows of a file: CSV records, or rows of the sheet
MAX_COLUMNS = 200  # cells in one row (and the last column a sheet's cell may sit in)
MAX_CELLS = 2_000_000  # cells in the whole file
MAX_CELL_CHARS = 32_767  # characters in one cell, Excel's own limit
MAX_TEXT_CHARS = 50_000_000  # characters in all cells (a sheet's shared strings repeat)
MAX_LINE_CHARS = 100_000  # characters on one line of a CSV file
MAX_HEADER_CHARS = 200  # characters in one column name (the preview shows and posts them)
MAX_XLSX_PARTS = 1_000  # files inside a workbook's zip (Excel writes 10 to 30)
MAX_XLSX_BYTES = 128 * 1024 * 1024  # their declared uncompressed sizes together
MAX_COMPRESSION_RATIO = 100  # uncompressed : compressed of a part over 1 MiB (sheets: 10-20)


class _Budget:
    """What the rows of one file have cost so far; refuses the file at the first limit."""

    def __init__(self) -> None:
        """Start with nothing spent."""
        self.cells = 0
        self.chars = 0

    def take(self, number: int, cells: list[str]) -> None:
        """Count one non-blank row, or raise FileRefused naming the limit it passes."""
        if number > MAX_ROWS:
            raise FileRefused(
                f"The file has more than {MAX_ROWS:,} rows; at most {MAX_ROWS:,} are read."
            )
        if len(cells) > MAX_COLUMNS:
            raise FileRefused(
                f"Row {number:,} has {len(cells):,} cells; at most {MAX_COLUMNS:,} are read."
            )
        self.cells += len(cells)
        if self.cells > MAX_CELLS:
            raise FileRefused(
                f"The file has more than {MAX_CELLS:,} cells; at most {MAX_CELLS:,} are read."
            )
        lengths = list(map(len, cells))
        longest = max(lengths, default=0)
        if longest > MAX_CELL_CHARS:
            column = lengths.index(longest) + 1
            raise FileRefused(
                f"Row {number:,} has a cell of {longest:,} characters (column {column}); "
                f"at most {MAX_CELL_CHARS:,} are read."
            )
        self.chars += sum(lengths)
        if self.chars > MAX_TEXT_CHARS:
            raise FileRefused(
                f"The file holds more than {MAX_TEXT_CHARS:,} characters of text; "
                f"at most {MAX_TEXT_CHARS:,} are read."
            )


# ---------------------------------------------------------------------------
# Field vocabularies
# ---------------------------------------------------------------------------

# fmt: off
# Vocabulary tables stay packed several words to a line so they read as lists.
ARREARS_FIELDS: dict[str, tuple[str, ...]] = {
    "tenancy_ref": (
        "Lejemålsnr.", "Lejemål nr", "Lejemålsnummer", "Lejemål", "Lejenr", "Lejenummer",
        "Lejernr", "Lejernummer", "Leieforhold", "Leieforholdsnr", "Leieforholdsnummer",
        "Leieforhold nr", "Leiekontrakt", "Kontraktnr", "Kontraktnummer", "Kontrakt",
        "Tenancy number", "Tenancy no", "Tenancy ref", "Tenancy reference", "Reference",
        "Ref", "Lease number", "Lease ref", "Contract number",
    ),
    "tenant_name": (
        "Navn", "Lejer", "Lejers navn", "Lejernavn", "Leietaker", "Leietakers navn",
        "Leietakernavn", "Name", "Full name", "Tenant", "Tenant name",
    ),
    "address": (
        "Adresse", "Lejemålets adresse", "Boligadresse", "Gade", "Gadenavn", "Vej",
        "Vejnavn", "Gate", "Gateadresse", "Address", "Street", "Street address",
    ),
    "postcode": (
        "Postnr.", "Postnummer", "Post nr", "Post code", "Postcode", "Postal code", "Zip",
        "Zip code",
    ),
    "town": ("By", "Bynavn", "Postdistrikt", "Poststed", "Sted", "Town", "City"),
    "phone": (
        "Telefon", "Tlf.", "Tlf nr", "Telefonnr", "Telefonnummer", "Mobil", "Mobilnr",
        "Mobilnummer", "Mobiltelefon", "Phone", "Phone number", "Telephone", "Mobile",
        "Mobile number",
    ),
    "monthly_rent": (
        "Husleje", "Månedlig leje", "Månedsleje", "Leje", "Månedsleie", "Månedlig leie",
        "Husleie", "Leie", "Rent", "Monthly rent",
    ),
    "arrears": (
        "Restance", "Restancebeløb", "Restance i alt", "Skyldig", "Skyldigt beløb",
        "Restanse", "Restansebeløp", "Skyldig beløp", "Utestående", "Arrears",
        "Amount owed", "Balance", "Outstanding", "Amount outstanding",
    ),
    "months_in_arrears": (
        "Antal mdr. i restance", "Antal mdr", "Antal måneder", "Antal måneder i restance",
        "Mdr.", "Måneder", "Antall terminer", "Terminer", "Antall måneder",
        "Måneder i restanse", "Months in arrears", "Months", "Months behind",
    ),
    "as_of": (
        "Opgjort pr.", "Opgjort", "Opgørelsesdato", "Dato", "Pr. dato", "Per dato",
        "Saldo pr.", "Date", "As of", "As-of date",
    ),
}

LEGAL_STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "landlord": (
        "Udlejer", "Boligselskab", "Boligforening", "Boligorganisation", "Utleier",
        "Landlord", "Housing association",
    ),
    "tenancy_ref": ARREARS_FIELDS["tenancy_ref"],
    "address": ARREARS_FIELDS["address"],
    "postcode": ARREARS_FIELDS["postcode"],
    "town": ARREARS_FIELDS["town"],
    "step": ("Trin", "Skridt", "Hændelse", "Type", "Status", "Steg", "Hendelse", "Step", "Event"),
    "date": ("Dato", "Hændelsesdato", "Dato for hændelse", "Date", "Event date"),
    "cause": ("Årsag", "Grund", "Årsak", "Grunn", "Cause", "Reason"),
    "children": (
        "Børn", "Antal børn", "Barn", "Antall barn", "Children", "Number of children",
    ),
    # "Sted" is Norwegian for the town (poststed), so it is no name for the court here.
    "at_time": (
        "Tid", "Tidspunkt", "Klokkeslæt", "Kl.", "Klokken", "Mødetid", "Tidspunkt for retsmøde",
        "Klokkeslett", "Klokka", "Møtetid", "Oppmøtetid", "Tidspunkt for rettsmøte",
        "Time", "Time of day", "Starts at", "Hearing time",
    ),
    "place": (
        "Ret", "Retten", "Domstol", "Fogedret", "Fogedretten", "Mødested", "Retsmødested",
        "Sted for retsmøde", "Rett", "Tingrett", "Tingretten", "Namsmann", "Namsmannen",
        "Møtested", "Oppmøtested", "Sted for rettsmøte", "Court", "Court address", "Venue",
        "Place", "Place of hearing",
    ),
}

# fmt: on

# Each inner tuple is a set of alternatives of which at least one column must exist.
ARREARS_REQUIRED: tuple[tuple[str, ...], ...] = (("tenancy_ref", "address"), ("arrears",))
LEGAL_STEP_REQUIRED: tuple[tuple[str, ...], ...] = (
    ("tenancy_ref", "address"),
    ("step",),
    ("date",),
)

FIELD_LABELS: dict[str, str] = {
    "tenancy_ref": N_("tenancy reference"),
    "tenant_name": N_("tenant name"),
    "address": N_("address"),
    "postcode": N_("postcode"),
    "town": N_("town"),
    "phone": N_("phone"),
    "monthly_rent": N_("monthly rent"),
    "arrears": N_("arrears"),
    "months_in_arrears": N_("months in arrears"),
    "as_of": N_("as-of date"),
    "landlord": N_("landlord"),
    "step": N_("step"),
    "date": N_("date"),
    "cause": N_("cause"),
    "children": N_("children"),
    "at_time": N_("time"),
    "place": N_("court or place"),
}

# fmt: off
STEPS: tuple[str, ...] = (
    "demand", "notice_9_11",
    "petition", "hearing", "eviction_scheduled", "executed", "withdrawn", "cancelled",
)

_STEP_WORDS: dict[str, tuple[str, ...]] = {
    # Denmark's påkrav: the landlord's written demand that starts the tenant's 14 days.
    "demand": (
        "demand", "payment demand", "written demand",
        "påkrav", "pakrav", "paakrav", "betalingspåkrav", "påkrav om betaling",
        "påkrav sendt",
    ),
    # Norway's varsel under husleieloven § 9-11 to NAV, two weeks before a petition.
    "notice_9_11": (
        "notice", "notice 9-11", "notice to nav", "9-11", "§ 9-11", "§9-11", "9 11",
        "varsel", "varsel 9-11", "varsel § 9-11", "varsel til nav", "varsel til NAV § 9-11",
        "varsel etter husleieloven § 9-11", "varsel etter § 9-11", "husleieloven § 9-11",
    ),
    "petition": (
        "petition", "claim filed", "filed",
        "stævning", "begæring", "udsættelsesbegæring", "begæring om udsættelse",
        "anmodning om udsættelse",
        "stevning", "begjæring", "begjæring om utkastelse", "begjæring om fravikelse",
        "begjæring om tvangsfravikelse",
    ),
    "hearing": (
        "hearing", "court hearing",
        "retsmøde", "fogedret", "fogedretten", "fogedmøde", "fogedretsmøde",
        "boligret", "boligretten",
        "rettsmøde", "rettsmøte", "forliksråd", "forliksrådet", "forliksmøte",
    ),
    "eviction_scheduled": (
        "eviction scheduled", "scheduled", "eviction date set",
        "udsættelse berammet", "berammet udsættelse", "berammet",
        # Norwegian files name the forced-eviction appointment itself; it is the date set.
        "fravikelse berammet", "utkastelse berammet", "berammet fravikelse",
        "tvangsfravikelse",
        # The enforcement officer's notice of the date, not the landlord's § 9-11 notice.
        "varsel om fravikelse", "varsel om tvangsfravikelse",
    ),
    "executed": (
        "executed", "eviction executed", "evicted", "carried out", "completed",
        "udsat", "effektueret", "gennemført", "udsættelse gennemført",
        "udsættelse effektueret",
        "fravikelse gjennomført", "utkastelse gjennomført", "gjennomført", "utkastet",
    ),
    "withdrawn": (
        "withdrawn", "withdrew",
        "tilbagekaldt", "trukket tilbage", "frafaldet",
        "trukket", "trukket tilbake", "frafalt",
    ),
    "cancelled": (
        "cancelled", "canceled", "called off",
        "aflyst", "annulleret",
        "avlyst", "kansellert",
    ),
}

CAUSES: tuple[str, ...] = ("economic", "behavioural", "contract_end", "other")

# Cause cells are often free text ("manglende betaling af husleje"), so causes are found
# by keyword, in this order: the economic reason wins over "opsigelse pga. restance".
_CAUSE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("economic", (
        "økonomi", "restance", "restanse", "betaling", "husleje", "husleie", "skyld",
        "economic", "arrears", "payment", "rent",
    )),
    ("behavioural", (
        "adfærd", "atferd", "god skik", "husorden", "støj", "chikane", "vold",
        "behaviour", "behavior", "conduct", "nuisance", "antisocial",
    )),
    ("contract_end", (
        "ophør", "opsigelse", "opphør", "oppsigelse", "udløb", "utløp", "tidsbegrænset",
        "tidsbestemt", "contract end", "end of contract", "end of tenancy", "termination",
        "notice",
    )),
    ("other", ("andet", "anden", "annet", "other")),
)

# fmt: on

# First cells that mark a sum line rather than a tenancy; such lines are skipped silently.
_TOTAL_WORDS = frozenset(
    {"i alt", "ialt", "total", "totalt", "sum", "sum i alt", "samlet", "subtotal", "totals"}
)

_HEADER_SCAN_ROWS = 10
_DELIMITERS: tuple[str, ...] = (";", ",", "\t")
_MAX_LISTED_HEADERS = 20

# ---------------------------------------------------------------------------
# Text normalisation helpers
# ---------------------------------------------------------------------------

_NON_WORD = re.compile(r"[^\w]+")
_SPACES = re.compile(r"\s+")
# No-break, narrow no-break, thin and figure spaces all appear as thousands separators.
_ODD_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " "})
_ASCII_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})
_LOOSE_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a"})


def _strip_accents(text: str) -> str:
    """Drop acute and grave accents (allé -> alle) but keep å, ø and æ intact."""
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if ch not in "\u0300\u0301")
    return unicodedata.normalize("NFC", kept)


def normalise_header(text: str) -> str:
    """Casefold a header or phrase, turn punctuation into spaces and collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _strip_accents(text).replace("_", " ")
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text)).strip()


def _header_keys(text: str) -> list[str]:
    """Return lookup keys for a header: as written, ASCII-folded, and loosely folded."""
    base = normalise_header(text)
    keys = [base, base.translate(_ASCII_FOLD), base.translate(_LOOSE_FOLD)]
    return list(dict.fromkeys(k for k in keys if k))


def _header_variants(text: str) -> list[str]:
    """Return keys for a header and for its forms without units like "(kr.)" or "DKK"."""
    variants = [text]
    without_parens = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", text)
    variants.append(without_parens)
    # Headers like "Restance kr." or "Husleje i DKK" carry the currency as a suffix.
    variants.append(re.sub(r"(?i)(\s+i)?\s+(kr\.?|kroner|dkk|nok)\s*$", "", without_parens.strip()))
    keys: list[str] = []
    for variant in variants:
        keys.extend(_header_keys(variant))
    return list(dict.fromkeys(keys))


def _synonym_index(fields: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Build normalised synonym -> canonical field; the field's own name counts too."""
    index: dict[str, str] = {}
    for canonical, synonyms in fields.items():
        for synonym in (canonical, *synonyms):
            for key in _header_keys(synonym):
                index.setdefault(key, canonical)
    return index


def _collapse(text: str) -> str:
    """Strip a cell and collapse inner whitespace (including no-break spaces)."""
    return _SPACES.sub(" ", text.translate(_ODD_SPACES)).strip()


# ---------------------------------------------------------------------------
# Value parsers
# ---------------------------------------------------------------------------

_CURRENCY_PREFIX = re.compile(r"(?i)^(kr\.?|dkk|nok)\s*")
_CURRENCY_SUFFIX = re.compile(r"(?i)\s*(kr\.?|dkk|nok)$")
_AMOUNT_CHARS = re.compile(r"[\d., ]+")


def _not_an_amount(original: str) -> CellError:
    return CellError(Wording(N_("not an amount: %(value)s"), value=repr(original)))


def _check_groups(integer: str, separator: str, original: str) -> str:
    """Validate thousands grouping (1-3 digits, then groups of 3) and return bare digits."""
    groups = integer.split(separator)
    first, rest = groups[0], groups[1:]
    if not (1 <= len(first) <= 3 and first.isdigit()):
        raise _not_an_amount(original)
    if any(len(g) != 3 or not g.isdigit() for g in rest):
        raise _not_an_amount(original)
    return "".join(groups)


def parse_amount(text: str, *, dot_decimal: bool = False) -> int:
    """Parse a Danish, Norwegian or English money amount into minor units (øre)."""
    # Rules, chosen so Nordic files read right and anything doubtful is an error rather
    # than a wrong number: currency marks (kr., DKK, NOK) and a leading sign are allowed;
    # spaces (also no-break) group thousands; when both "." and "," occur the last one is
    # the decimal mark; a lone "," is always decimal ("1,234" is then an error, not 1234);
    # a lone "." with exactly three digits after and one to three before ("12.345") is
    # thousands, as Danish and Norwegian files write it, otherwise decimal; repeated "."
    # or "," group thousands; "1.234,-" means whole kroner; at most two decimals.
    # dot_decimal makes a lone "." always decimal, for spreadsheet number cells.
    original = text
    s = text.translate(_ODD_SPACES).replace("\u2212", "-").strip()
    if not s:
        raise CellError(Wording(N_("amount is missing")))
    negative = False
    if s[0] in "+-":
        negative, s = s[0] == "-", s[1:].strip()
    s = _CURRENCY_SUFFIX.sub("", _CURRENCY_PREFIX.sub("", s)).strip()
    # "kr. -1.234,00" puts the sign after the currency mark.
    if s[:1] in ("+", "-") and not negative:
        negative, s = s[0] == "-", s[1:].strip()
    if s.endswith((",-", ".-")):
        s = s[:-2]
    if not s or not _AMOUNT_CHARS.fullmatch(s) or not any(ch.isdigit() for ch in s):
        raise _not_an_amount(original)

    integer, fraction = s, ""
    has_dot, has_comma = "." in s, "," in s
    if has_dot and has_comma:
        decimal_mark = "." if s.rfind(".") > s.rfind(",") else ","
        thousands = "," if decimal_mark == "." else "."
        if s.count(decimal_mark) != 1:
            raise _not_an_amount(original)
        integer, fraction = s.split(decimal_mark)
        if " " in integer:
            raise _not_an_amount(original)
        integer = _check_groups(integer, thousands, original)
    elif has_dot or has_comma:
        mark = "." if has_dot else ","
        if s.count(mark) > 1:
            integer = _check_groups(s.replace(" ", mark), mark, original)
        else:
            before, after = s.split(mark)
            lone_dot_thousands = (
                mark == "."
                and not dot_decimal
                and len(after) == 3
                and after.isdigit()
                and before.isdigit()
                and 1 <= len(before) <= 3
                and not before.startswith("0")
            )
            if lone_dot_thousands:
                integer = before + after
            else:
                integer, fraction = before, after
    if " " in integer:
        integer = _check_groups(integer, " ", original)
    if not integer and not fraction:
        raise _not_an_amount(original)
    if not integer.isdigit() and integer != "":
        raise _not_an_amount(original)
    if (has_dot or has_comma) and fraction == "" and s.endswith((".", ",")):
        raise _not_an_amount(original)
    if fraction and not fraction.isdigit():
        raise _not_an_amount(original)
    if len(fraction) > 2:
        raise CellError(
            Wording(N_("more than 2 decimals in amount: %(value)s"), value=repr(original))
        )
    value = int(integer or "0") * 100 + int(fraction.ljust(2, "0") or "0")
    return -value if negative else value


_TIME_SUFFIX = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
_YEAR_FIRST = re.compile(r"(\d{4})([-./])(\d{1,2})\2(\d{1,2})")
_DAY_FIRST = re.compile(r"(\d{1,2})([-./])(\d{1,2})\2(\d{4}|\d{2})")


def parse_date(text: str) -> date:
    """Parse a day-first Nordic date (15-11-2026, 15.11.26, 15/11/2026) or ISO 2026-11-15."""
    s = _collapse(text)
    if not s:
        raise CellError(Wording(N_("date is missing")))
    s = _TIME_SUFFIX.sub("", s)
    if match := _YEAR_FIRST.fullmatch(s):
        year, month, day = int(match[1]), int(match[3]), int(match[4])
    elif match := _DAY_FIRST.fullmatch(s):
        day, month, year = int(match[1]), int(match[3]), int(match[4])
        # Two-digit years in these files are always this century.
        if len(match[4]) == 2:
            year += 2000
    else:
        raise CellError(
            Wording(
                N_("not a date: %(value)s (expected day-month-year, e.g. 15-11-2026)"),
                value=repr(text),
            )
        )
    try:
        return date(year, month, day)
    except ValueError:
        raise CellError(Wording(N_("not a valid date: %(value)s"), value=repr(text))) from None


_CLOCK = re.compile(r"(?:kl\.?|klokken|klokka)?\s*(\d{1,2})(?:[.:,](\d{2})(?::(\d{2}))?)?")


def parse_clock(text: str) -> time:
    """Parse a time of day as Danish and Norwegian files and people write it: "kl. 10.00",
    "10:00", "10.00", "kl. 9", "09:30:00" (a spreadsheet's time cell)."""
    s = _collapse(text).casefold()
    if not s:
        raise CellError(Wording(N_("time is missing")))
    match = _CLOCK.fullmatch(s)
    values = [int(part) for part in match.groups("0")] if match else []
    if not values or values[0] > 23 or values[1] > 59 or values[2] > 59:
        raise CellError(
            Wording(
                N_("not a time: %(value)s (expected hours and minutes, e.g. 10.00)"),
                value=repr(text),
            )
        )
    hours, minutes = values[0], values[1]
    return time(hours, minutes)


def parse_int(text: str) -> int:
    """Parse a non-negative whole number such as a count of children ("5", "5,0", "5.0")."""
    s = _collapse(text)
    if not s:
        raise CellError(Wording(N_("number is missing")))
    if re.fullmatch(r"-\s*\d+([.,]\d*)?", s):
        raise CellError(Wording(N_("must not be negative: %(value)s"), value=repr(text)))
    match = re.fullmatch(r"\+?(\d+)(?:[.,]0*)?", s)
    if not match:
        raise CellError(Wording(N_("not a whole number: %(value)s"), value=repr(text)))
    return int(match[1])


def parse_quantity(text: str) -> float:
    """Parse a non-negative decimal such as months in arrears ("1,5", "1.5", "2")."""
    s = _collapse(text)
    if not s:
        raise CellError(Wording(N_("number is missing")))
    if re.fullmatch(r"-\s*\d+([.,]\d+)?", s):
        raise CellError(Wording(N_("must not be negative: %(value)s"), value=repr(text)))
    match = re.fullmatch(r"\+?(\d+)(?:[.,](\d+))?", s)
    if not match:
        raise CellError(Wording(N_("not a number: %(value)s"), value=repr(text)))
    return float(f"{match[1]}.{match[2] or '0'}")


def normalise_phone(text: str) -> str:
    """Strip spaces and separators from a phone number, keeping a leading + (00 -> +)."""
    s = _collapse(text)
    if not s:
        return ""
    compact = re.sub(r"[\s\-.()]", "", s)
    if compact.startswith("00") and compact[2:].isdigit():
        compact = "+" + compact[2:]
    if re.fullmatch(r"\+?\d+", compact):
        return compact
    # Not a single number (text, or two numbers with "/"): keep it readable, unmerged.
    return s


_FLOOR_WORDS = {"stuen": "st", "kælder": "kl", "kaelder": "kl"}
_SIDE_PHRASES = (
    (re.compile(r"\bt h\b"), "th"),
    (re.compile(r"\bt v\b"), "tv"),
    (re.compile(r"\btil højre\b"), "th"),
    (re.compile(r"\btil venstre\b"), "tv"),
)


def normalise_address(text: str) -> str:
    """Reduce an address to a key: "Søndre Strandvej 110, 3." -> "søndre strandvej 110 3"."""
    s = _strip_accents(unicodedata.normalize("NFKC", text).casefold())
    s = _SPACES.sub(" ", re.sub(r"[.,;:]", " ", s)).strip()
    for pattern, replacement in _SIDE_PHRASES:
        s = pattern.sub(replacement, s)
    tokens: list[str] = []
    for token in s.split(" "):
        if not token:
            continue
        token = _FLOOR_WORDS.get(token, token)
        # "3. sal" and "3." name the same floor.
        if token == "sal" and tokens and tokens[-1].isdigit():
            continue
        # "53 A" and "53A" are the same house number.
        if len(token) == 1 and token.isalpha() and tokens and tokens[-1].isdigit():
            tokens[-1] += token
            continue
        tokens.append(token)
    return " ".join(tokens)


# Letters a laptop without a Nordic keyboard types otherwise: "Sondre" finds "Søndre",
# "Aabenraa" finds "Åbenrå" (aa is the old spelling of å), "Vaerloese" finds "Værløse".
SEARCH_FOLDS = (("æ", "ae"), ("ø", "o"), ("ö", "o"), ("ä", "ae"), ("ü", "u"), ("oe", "o"),
                ("å", "a"), ("aa", "a"))  # fmt: skip


def search_fold(key: str) -> str:
    """A stored name or address key folded for searching (the same folds as in SQL)."""
    for letter, plain in SEARCH_FOLDS:
        key = key.replace(letter, plain)
    return key


def normalise_name(text: str) -> str:
    """Reduce a person's name to a matching key; "Bakken, Lars" and "Lars Bakken" agree."""
    s = _strip_accents(unicodedata.normalize("NFKC", text).casefold())
    if s.count(",") == 1:
        last, first = (part.strip() for part in s.split(","))
        if last and first:
            s = f"{first} {last}"
    s = s.replace(",", " ").replace(".", " ")
    return _SPACES.sub(" ", s).strip()


def _phrase(text: str) -> str:
    """Normalise a short free-text cell (step or cause) for word lookup."""
    return normalise_header(text)


_STEP_INDEX: dict[str, str] = {
    key: step for step, words in _STEP_WORDS.items() for word in words for key in _header_keys(word)
}


def normalise_step(text: str, country: str | None = None) -> str:
    """Map a step word in English, Danish or Norwegian to one of STEPS; with a country, to
    one of the steps its organisations are offered (domain.legal_clock): a Norwegian list
    naming a Danish påkrav is refused with the names that country accepts."""
    phrase = _phrase(text)
    if not phrase:
        raise CellError(Wording(N_("step is missing")))
    keys = _header_keys(phrase)
    step = next((_STEP_INDEX[key] for key in keys if key in _STEP_INDEX), None)
    if step is None:
        # Longer cells ("Udsættelse berammet til kl. 9") still count if every known phrase
        # inside them points to the same step; conflicting phrases are left to a human.
        found: set[str] = set()
        for key in keys:
            padded = f" {key} "
            found.update(s for word, s in _STEP_INDEX.items() if f" {word} " in padded)
        step = found.pop() if len(found) == 1 else None
    if country is None:
        if step is not None:
            return step
        raise CellError(
            Wording(
                N_("unknown step: %(value)s; allowed: %(allowed)s (or the Danish/Norwegian words)"),
                value=repr(text.strip()),
                allowed=", ".join(STEPS),
            )
        )
    clock = clock_of(country)
    if step is not None and step in clock.offered:
        return step
    allowed = ", ".join(f"{name} ({code})" for code, name in clock.import_names)
    raise CellError(
        Wording(
            N_("unknown step: %(value)s; allowed here: %(allowed)s")
            if step is None
            else N_("step %(value)s is not used in this country; allowed here: %(allowed)s"),
            value=repr(text.strip()),
            allowed=allowed,
        )
    )


def _mentions(phrase: str, word: str) -> bool:
    """Tell whether phrase mentions word; long words may sit inside compounds."""
    # Nordic compounds ("huslejerestance") hide long keywords mid-word; short ones like
    # "rent" must start a word or "different" would read as economic.
    if len(word) >= 6:
        return word in phrase
    return re.search(rf"(?<!\w){re.escape(word)}", phrase) is not None


def normalise_cause(text: str) -> str | None:
    """Map a cause cell to one of CAUSES; empty gives None, unknown text gives "other"."""
    phrase = _phrase(text)
    if not phrase:
        return None
    keys = _header_keys(phrase)
    for key in keys:
        if key in CAUSES:
            return key
        if key == "contract end":
            return "contract_end"
    for cause, words in _CAUSE_KEYWORDS:
        if any(_mentions(phrase, word) for word in words):
            return cause
    # Cause is descriptive; dropping a court date over odd wording would be worse.
    return "other"


# ---------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig", "utf-8-sig"),
    (b"\xff\xfe", "utf-16", "utf-16"),
    (b"\xfe\xff", "utf-16", "utf-16"),
)


def _decode(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes as UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), label
            except UnicodeDecodeError:
                raise FileRefused(
                    "The file is not a table: it could not be read as text."
                ) from None
    if b"\x00" in data:
        raise FileRefused("The file is not a table: it contains binary data.")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise FileRefused("The file is not a table: it could not be read as text.") from None


def _looks_binary(text: str) -> bool:
    """Tell whether decoded text is really binary (control characters beyond tabs/newlines)."""
    sample = text[:65536]
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\f")
    # A stray control character or two happens in old exports; lots of them means binary.
    return controls > max(2, len(sample) // 1000)


def _sniff_signature(data: bytes) -> None:
    """Refuse well-known non-table formats early with a message saying what they are."""
    head = data[:1024].lstrip()
    if data.startswith(_OLE2_MAGIC):
        raise FileRefused(
            "The file is an old Excel .xls (or other Office) file; "
            "save it as .xlsx or CSV and upload it again."
        )
    if head.startswith(b"%PDF"):
        raise FileRefused("The file is a PDF, not a table; upload the CSV or Excel file.")
    if head[:15].lower().startswith((b"<!doctype html", b"<html")):
        raise FileRefused("The file is a web page (HTML), not a table.")


def _cell_to_text(value: object) -> tuple[str, bool]:
    """Render an XLSX cell value as text; the flag says whether it was a number."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), False
    if isinstance(value, datetime):
        return value.date().isoformat(), False
    if isinstance(value, date | time):
        return value.isoformat(), False
    if isinstance(value, timedelta):
        return str(value), False
    if isinstance(value, int):
        return str(value), True
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value)), True
        # 15 significant digits is what Excel itself keeps; it drops float noise.
        rendered = format(value, ".15g")
        if "e" in rendered:
            rendered = format(Decimal(rendered), "f")
        return rendered, True
    return str(value), False


_NOT_A_WORKBOOK = (
    "The file could not be read as an Excel workbook (.xlsx); "
    "it may be damaged or another kind of file."
)
_ZIP_END = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_MIB = 1024 * 1024


def _megabytes(size: int) -> int:
    """A size in whole MB (MiB), rounded up so a size just past a limit does not equal it."""
    return -(-size // _MIB)


def _zip_directory(data: bytes) -> tuple[int, int] | None:
    """The number of files a zip says it holds and the size of its list of them, from its end
    record ((0, 0) when it has none; None when it is a zip64 one)."""
    # Read by hand because zipfile parses the whole list as it opens the archive, building an
    # object per entry: 400,000 empty entries in 35 MB cost 230 MB and 2 s before anything
    # could be checked. The end record is found as zipfile finds it: the last 22 bytes, else
    # the last one in the tail. zipfile trusts a zip64 record over it, so none is accepted.
    end = len(data) - 22 if data[-22:-18] == _ZIP_END else data.rfind(_ZIP_END, -65_557)
    if end < 0 or end + 22 > len(data):
        return 0, 0
    if end >= 20 and data[end - 20 : end - 16] == _ZIP64_LOCATOR:
        return None
    count = int.from_bytes(data[end + 10 : end + 12], "little")
    return count, int.from_bytes(data[end + 12 : end + 16], "little")


def _check_package(data: bytes) -> None:
    """Refuse a workbook whose zip would unpack past the limits, before openpyxl opens it."""
    # zipfile never unpacks a part beyond its declared size (it stops there, and a wrong
    # size fails the CRC check), so the declared sizes bound what reading can cost.
    directory = _zip_directory(data)
    if directory is None:
        raise FileRefused(
            "The workbook is a zip64 archive, a form made for sizes no list has; "
            "save it again from Excel."
        )
    count, listing = directory
    if count > MAX_XLSX_PARTS:
        raise FileRefused(
            f"The workbook holds {count:,} files; at most {MAX_XLSX_PARTS:,} are read."
        )
    # The count can lie; the list's size bounds what zipfile parses (46 bytes an entry at least).
    if listing > _MIB:
        raise FileRefused(
            f"The workbook's list of files is {_megabytes(listing):,} MB; at most 1 MB is read."
        )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        _check_parts(archive)


def _check_parts(archive: zipfile.ZipFile) -> None:
    """Check the sizes and packing of a workbook's parts, then scan each for its rows."""
    parts = archive.infolist()
    if len(parts) > MAX_XLSX_PARTS:
        raise FileRefused(
            f"The workbook holds {len(parts):,} files; at most {MAX_XLSX_PARTS:,} are read."
        )
    unpacked = sum(part.file_size for part in parts)
    if unpacked > MAX_XLSX_BYTES:
        raise FileRefused(
            f"The workbook unpacks to {_megabytes(unpacked):,} MB; "
            f"at most {MAX_XLSX_BYTES // _MIB:,} MB are read."
        )
    for part in parts:
        # bzip2 and LZMA parts are unpacked in one call of unbounded size; Excel never
        # writes them.
        if part.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileRefused(
                "The workbook is packed with a compression method Excel does not use; "
                "save it again from Excel."
            )
        ratio = part.file_size // max(part.compress_size, 1)
        if part.file_size > _MIB and ratio > MAX_COMPRESSION_RATIO:
            raise FileRefused(
                f"A part of the workbook unpacks {ratio:,} times its packed size; "
                f"at most {MAX_COMPRESSION_RATIO:,} times (more is how zip bombs work)."
            )
    # openpyxl streams every worksheet once as it opens the workbook (to find its size), so
    # every part is scanned, not only the first sheet; in the other parts nothing matches.
    for part in parts:
        try:
            with archive.open(part) as source:
                _scan_sheet(source)
        except zipfile.BadZipFile:
            raise FileRefused(
                "A part of the workbook does not unpack to what its zip headers say; "
                "the file is damaged, or a zip bomb."
            ) from None


# Start tags of rows and cells, with or without a namespace prefix; chart parts' "<c:…>"
# elements do not match.
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row(?=[\s/>])([^>]*)>")
_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c(?=[\s/>])")
_ROW_NUMBER = re.compile(rb"""(?:^|\s)r\s*=\s*["']\s*(\d+)""")
# A cell reference past column 200 (GR): three letters, G then S-Z, or H-Z then a letter.
_FAR_CELL = re.compile(
    rb"""\sr\s*=\s*["']\$?((?:[A-Za-z]{3,}|[Gg][S-Zs-z]|[H-Zh-z][A-Za-z])\$?\d+)"""
)
_SCAN_CHUNK = _MIB


def _column_number(letters: str) -> int:
    """Column number of a cell reference's letters: A -> 1, XFD -> 16384."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _scan_sheet(source) -> None:
    """Refuse a worksheet's XML whose rows would cost too much, before openpyxl parses it."""
    # openpyxl builds each row's elements whole before handing the row on, so a row of a
    # million cells costs gigabytes before any check on the row could run. This pass only
    # counts start tags (rows, cells in each row, cells in all), streaming, and finds
    # references past the last column read. The sheet's declared dimension is not used.
    number = cells = in_row = 0
    carry = b""
    head = True
    while chunk := source.read(_SCAN_CHUNK):
        if head:
            head = False
            if chunk[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<"):
                raise FileRefused(
                    "A part of the workbook is stored as UTF-16, which this reader does "
                    "not take; save it again from Excel."
                )
        buffer = carry + chunk
        cut = buffer.rfind(b"<")
        buffer, carry = (buffer[:cut], buffer[cut:]) if cut >= 0 else (buffer, b"")
        if len(carry) > _SCAN_CHUNK:
            raise FileRefused("The workbook holds a cell or a tag longer than 1 MB.")
        if far := _FAR_CELL.search(buffer):
            reference = far[1].decode("ascii").replace("$", "")
            column = _column_number(reference.rstrip("0123456789"))
            raise FileRefused(
                f"A sheet has a cell in column {column:,} ({reference}); "
                f"at most {MAX_COLUMNS:,} columns are read."
            )
        pieces = _ROW_TAG.split(buffer)
        # pieces: what continues the current row, then (row attributes, row body) pairs.
        bodies = [(None, pieces[0]), *zip(pieces[1::2], pieces[2::2], strict=True)]
        for attributes, body in bodies:
            if attributes is not None:
                given = _ROW_NUMBER.search(attributes)
                number = int(given[1]) if given else number + 1
                in_row = 0
            found = len(_CELL_TAG.findall(body))
            if not found:
                continue
            in_row += found
            cells += found
            if number > MAX_ROWS:
                raise FileRefused(
                    f"Row {number:,} of a sheet holds cells; at most {MAX_ROWS:,} rows are read."
                )
            if in_row > MAX_COLUMNS:
                raise FileRefused(
                    f"Row {number:,} of a sheet has more than {MAX_COLUMNS:,} cells; "
                    f"at most {MAX_COLUMNS:,} are read."
                )
            if cells > MAX_CELLS:
                raise FileRefused(
                    f"A sheet has more than {MAX_CELLS:,} cells; at most {MAX_CELLS:,} are read."
                )


def _read_xlsx(data: bytes) -> tuple[list[tuple[int, list[str]]], set[tuple[int, int]]]:
    """Read the first worksheet of an XLSX workbook into numbered rows of text cells."""
    import openpyxl  # Imported here so CSV-only callers never pay for it.

    rows: list[tuple[int, list[str]]] = []
    numeric: set[tuple[int, int]] = set()
    budget = _Budget()
    try:
        _check_package(data)
        with warnings.catch_warnings():
            # openpyxl warns about styles and data validation it ignores; not our concern.
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(
                io.BytesIO(data), read_only=True, data_only=True, keep_links=False
            )
            try:
                if not workbook.worksheets:
                    raise FileRefused("The file is empty.")
                sheet = workbook.worksheets[0]
                # The declared dimension (A1:XFD1048576 in a hostile file) is ignored: each
                # row is as wide as its last cell, and no row past MAX_ROWS is parsed.
                sheet.reset_dimensions()
                values_by_row = sheet.iter_rows(max_row=MAX_ROWS, values_only=True)
                for number, values in enumerate(values_by_row, start=1):
                    cells: list[str] = []
                    for column, value in enumerate(values):
                        text, is_number = _cell_to_text(value)
                        cells.append(text)
                        if is_number:
                            numeric.add((number, column))
                    if _is_blank(cells):
                        continue
                    budget.take(number, cells)
                    rows.append((number, cells))
            finally:
                workbook.close()
    except FileRefused:
        raise
    except Exception:
        # Untrusted uploads fail inside openpyxl/zipfile in many ways; all mean the same.
        raise FileRefused(_NOT_A_WORKBOOK) from None
    return rows, numeric


_LONG_LINE = re.compile(rf"(?:\A|(?<=[\r\n]))[^\r\n]{{{MAX_LINE_CHARS + 1}}}")
_LINE_END = re.compile(r"[\r\n]")


def _check_lines(text: str) -> None:
    """Refuse CSV text with a line longer than MAX_LINE_CHARS, before any of it is split."""
    long_line = _LONG_LINE.search(text)
    if long_line is None:
        return
    start = long_line.start()
    end = _LINE_END.search(text, start)
    length = (end.start() if end else len(text)) - start
    number = (text.count("\n", 0, start) or text.count("\r", 0, start)) + 1
    raise FileRefused(
        f"Line {number:,} has {length:,} characters; at most {MAX_LINE_CHARS:,} are read."
    )


def _split_csv(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """Split CSV text into (row number, cells), leaving out blank rows but not their numbers."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    budget = _Budget()
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if len(cells) > MAX_COLUMNS or not _is_blank(cells):
                budget.take(number, cells)
                rows.append((number, cells))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise FileRefused(
                f"Row {number + 1:,} has a cell of more than {csv.field_size_limit():,} "
                f"characters; at most {MAX_CELL_CHARS:,} are read."
            ) from None
        raise FileRefused(f"The file is not a readable table: {exc}.") from None
    return rows


def _is_blank(cells: Iterable[str]) -> bool:
    """Tell whether every cell of a row is empty or whitespace."""
    return all(not cell.strip() for cell in cells)


def _map_headers(
    headers: Sequence[str],
    fields: Mapping[str, Sequence[str]],
    explicit: Mapping[str, str] | None,
) -> tuple[dict[str, int], list[str]]:
    """Map header cells to canonical fields; explicit choices beat synonyms."""
    index = _synonym_index(fields)
    explicit_keys: dict[str, str] = {}
    for header_text, canonical in (explicit or {}).items():
        if canonical and canonical not in fields:
            raise ValueError(f"unknown field in saved mapping: {canonical!r}")
        for key in _header_keys(header_text):
            explicit_keys.setdefault(key, canonical)

    mapping: dict[str, int] = {}
    decided: set[int] = set()
    # First pass: the saved mapping, which may also say "ignore" with an empty field.
    for column, header in enumerate(headers):
        for key in _header_keys(header):
            if key in explicit_keys:
                canonical = explicit_keys[key]
                if canonical and canonical not in mapping:
                    mapping[canonical] = column
                decided.add(column)
                break
    # Second pass: synonyms, for columns and fields the saved mapping did not settle.
    for column, header in enumerate(headers):
        if column in decided:
            continue
        for key in _header_variants(header):
            canonical = index.get(key)
            if canonical is not None:
                if canonical not in mapping:
                    mapping[canonical] = column
                break
    mapped_columns = set(mapping.values())
    unmapped = [
        header
        for column, header in enumerate(headers)
        if column not in mapped_columns and header.strip()
    ]
    return mapping, unmapped


def _trim_trailing_blanks(cells: list[str]) -> list[str]:
    """Drop empty cells at the end of a header row (spreadsheets pad rows with them)."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _find_header(
    rows: Sequence[tuple[int, list[str]]],
    fields: Mapping[str, Sequence[str]],
    explicit: Mapping[str, str] | None,
) -> tuple[int, int]:
    """Return (position in rows, mapped column count) of the header row."""
    # The header is the first of the first few non-blank rows with two or more known
    # columns, which skips title lines; failing that, the first non-blank row, so the
    # refusal message can name what the landlord's file actually has.
    first_nonblank = -1
    seen = 0
    for position, (_, cells) in enumerate(rows):
        if _is_blank(cells):
            continue
        if first_nonblank < 0:
            first_nonblank = position
        mapping, _ = _map_headers(_trim_trailing_blanks(cells), fields, explicit)
        if len(mapping) >= 2:
            return position, len(mapping)
        seen += 1
        if seen >= _HEADER_SCAN_ROWS:
            break
    return first_nonblank, 0


def _describe_headers(headers: Sequence[str], mapping: Mapping[str, int]) -> str:
    """List header cells for a message, saying which field each one was read as."""
    by_column = {column: canonical for canonical, column in mapping.items()}
    parts: list[str] = []
    for column, header in enumerate(headers):
        if not header.strip():
            continue
        shown = header.strip()
        if len(shown) > 40:
            shown = shown[:39] + "…"
        label = FIELD_LABELS.get(by_column.get(column, ""), by_column.get(column, ""))
        parts.append(f"{shown!r} ({label})" if label else repr(shown))
    if len(parts) > _MAX_LISTED_HEADERS:
        extra = len(parts) - _MAX_LISTED_HEADERS
        parts = [*parts[:_MAX_LISTED_HEADERS], f"and {extra} more"]
    return ", ".join(parts) if parts else "no column names"


def _describe_required(required: Sequence[Sequence[str]]) -> str:
    """Phrase required field groups: "tenancy reference or address, and arrears"."""
    groups = [" or ".join(FIELD_LABELS.get(f, f) for f in group) for group in required]
    if len(groups) <= 1:
        return "".join(groups)
    return ", ".join(groups[:-1]) + ", and " + groups[-1]


def _check_required(
    headers: Sequence[str],
    mapping: Mapping[str, int],
    required: Sequence[Sequence[str]],
) -> None:
    """Refuse the file when a required column (or all of its alternatives) is missing."""
    missing = [group for group in required if not any(f in mapping for f in group)]
    if not missing:
        return
    need = _describe_required(required)
    found = _describe_headers(headers, mapping)
    if not mapping:
        raise FileRefused(f"No recognisable columns: found {found}; need at least {need}.")
    lacking = _describe_required(missing).replace(", and ", " and ")
    raise FileRefused(f"Missing columns for {lacking}: found {found}; need at least {need}.")


def _choose_delimiter(
    text: str,
    fields: Mapping[str, Sequence[str]],
    explicit: Mapping[str, str] | None,
) -> tuple[str, bool]:
    """Pick the delimiter; the flag says the first line is an Excel "sep=;" hint."""
    first_line = text.lstrip("\r\n").split("\n", 1)[0].strip("\r ")
    hint = re.fullmatch(r"(?i)sep=(.)", first_line)
    if hint and hint[1] in _DELIMITERS:
        return hint[1], True
    # Lines are at most MAX_LINE_CHARS long by now, so the head is found in a bounded slice.
    lines = _HEADER_SCAN_ROWS * 3
    head = "\n".join(text[: lines * (MAX_LINE_CHARS + 2)].splitlines()[:lines])
    best: tuple[int, int, int] | None = None
    chosen = ""
    for order, delimiter in enumerate(_DELIMITERS):
        try:
            rows = _split_csv(head, delimiter)
        except FileRefused:
            continue
        position, mapped = _find_header(rows, fields, explicit)
        if mapped < 2:
            continue
        # More mapped columns wins; then more cells, i.e. the delimiter the header uses.
        score = (mapped, len(rows[position][1]), -order)
        if best is None or score > best:
            best, chosen = score, delimiter
    if chosen:
        return chosen, False
    # Nothing recognisable: use the character the first real line uses most, so the
    # refusal message shows the column names as the landlord wrote them.
    first = next((line for line in io.StringIO(text) if line.strip()), "")
    counts = [(first.count(d), -order, d) for order, d in enumerate(_DELIMITERS)]
    return max(counts)[2], False


def read_table(
    data: bytes,
    filename: str = "",
    fields: Mapping[str, Sequence[str]] = ARREARS_FIELDS,
    mapping: Mapping[str, str] | None = None,
    required: Sequence[Sequence[str]] | None = None,
) -> Table:
    """Read CSV or XLSX bytes into a Table, or raise FileRefused with a human message."""
    # mapping is a saved header-text -> canonical-field choice that beats the synonyms (an
    # empty field means "ignore this column"). required lists groups of alternatives; by
    # default it follows fields (ARREARS_REQUIRED or LEGAL_STEP_REQUIRED, else nothing).
    if required is None:
        if fields is LEGAL_STEP_FIELDS:
            required = LEGAL_STEP_REQUIRED
        elif fields is ARREARS_FIELDS:
            required = ARREARS_REQUIRED
        else:
            required = ()
    if len(data) > MAX_FILE_BYTES:
        raise FileRefused(
            f"The file is {_megabytes(len(data)):,} MB; "
            f"at most {MAX_FILE_BYTES // _MIB:,} MB are read."
        )
    if not data.strip():
        raise FileRefused("The file is empty.")

    numeric: set[tuple[int, int]] = set()
    delimiter: str | None
    if data.startswith(_ZIP_MAGIC):
        raw_rows, numeric = _read_xlsx(data)
        encoding, delimiter = "xlsx", None
    elif filename.lower().endswith((".xlsx", ".xlsm")):
        raise FileRefused(
            "The file is named .xlsx but is not an Excel workbook; "
            "it may be damaged or another kind of file."
        )
    else:
        _sniff_signature(data)
        text, encoding = _decode(data)
        if _looks_binary(text):
            raise FileRefused("The file is not a table: it contains binary data.")
        if not text.strip():
            raise FileRefused("The file is empty.")
        _check_lines(text)
        delimiter, has_hint = _choose_delimiter(text, fields, mapping)
        raw_rows = _split_csv(text, delimiter)
        if has_hint:
            first = next(i for i, (_, cells) in enumerate(raw_rows) if not _is_blank(cells))
            raw_rows = raw_rows[first + 1 :]

    if all(_is_blank(cells) for _, cells in raw_rows):
        raise FileRefused("The file is empty.")
    position, _ = _find_header(raw_rows, fields, mapping)
    headers = _trim_trailing_blanks(list(raw_rows[position][1]))
    for column, header in enumerate(headers, start=1):
        if len(header) > MAX_HEADER_CHARS:
            raise FileRefused(
                f"The column name in column {column} has {len(header):,} characters; "
                f"at most {MAX_HEADER_CHARS:,} are read."
            )
    column_map, unmapped = _map_headers(headers, fields, mapping)
    _check_required(headers, column_map, required)
    data_rows = [
        (number, cells) for number, cells in raw_rows[position + 1 :] if not _is_blank(cells)
    ]
    return Table(
        headers=headers,
        mapping=column_map,
        unmapped=unmapped,
        rows=data_rows,
        encoding=encoding,
        delimiter=delimiter,
        numeric_cells=numeric,
    )


def _spreadsheet_safe(text: str) -> str:
    """Keep a spreadsheet from reading a cell as a formula (CSV injection): "'=1+2"."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rejected_rows_csv(errors: Iterable[RowError]) -> str:
    """Rejected rows as CSV: row, field, value, reason (UTF-8 with a BOM, so Excel reads æøå).

    The values are the landlord's cells, i.e. tenants' personal data: for the lead's download
    only, never for a log."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["row", "field", "value", "reason"])
    for error in errors:
        texts = (error.field, error.value, error.worded())
        writer.writerow([error.row, *map(_spreadsheet_safe, texts)])
    return out.getvalue()


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------


class _RowReader:
    """Gives one row's cells by canonical field and collects that row's errors."""

    def __init__(self, table: Table, number: int, cells: list[str]) -> None:
        """Remember the row and check it has no stray cells beyond the header."""
        self.table = table
        self.number = number
        self.cells = cells
        self.errors: list[RowError] = []
        width = len(table.headers)
        extras = [cell for cell in cells[width:] if cell.strip()]
        if extras:
            self.errors.append(
                RowError(
                    number,
                    "",
                    extras[0].strip(),
                    Wording(
                        N_("more cells than headers: %(cells)s cells for %(columns)s columns"),
                        cells=len(cells),
                        columns=width,
                    ),
                )
            )

    def text(self, name: str) -> str:
        """Return the stripped cell for a field, or "" when the column or cell is absent."""
        column = self.table.mapping.get(name)
        if column is None or column >= len(self.cells):
            return ""
        return _collapse(self.cells[column])

    def amount(self, name: str, *, required: bool) -> int | None:
        """Parse a non-negative amount cell, recording an error instead of raising."""
        raw = self.text(name)
        if not raw:
            if required:
                self.error(name, raw, Wording(N_("%(field)s is missing"), field=field_word(name)))
            return None
        column = self.table.mapping[name]
        numeric = (self.number, column) in self.table.numeric_cells
        try:
            value = parse_amount(raw, dot_decimal=numeric)
        except ValueError as exc:
            self.error(name, raw, wording_of(exc) or str(exc))
            return None
        if value < 0:
            problem = N_("%(field)s must not be negative: %(value)s")
            self.error(name, raw, Wording(problem, field=field_word(name), value=repr(raw)))
            return None
        return value

    def optional(self, name: str, parser: Callable[[str], _T]) -> _T | None:
        """Parse an optional cell with parser; empty gives None, bad values an error."""
        raw = self.text(name)
        if not raw:
            return None
        try:
            return parser(raw)
        except ValueError as exc:
            self.error(name, raw, wording_of(exc) or str(exc))
            return None

    def error(self, name: str, value: str, reason: str | Wording) -> None:
        """Record a problem with one field of this row."""
        self.errors.append(RowError(self.number, name, value, reason))

    def is_total_line(self) -> bool:
        """Tell whether the row is a sum line ("I alt", "Total") rather than a tenancy."""
        first = next((cell for cell in self.cells if cell.strip()), "")
        return normalise_header(first) in _TOTAL_WORDS


def field_word(name: str) -> Wording:
    """A field's name in a row error ("arrears", "tenancy reference"), worded with it."""
    return Wording(FIELD_LABELS.get(name, name))


def _duplicate_of(row: int) -> Wording:
    return Wording(N_("duplicate of row %(row)s"), row=row)


def _postcode(text: str) -> str:
    """Restore leading zeros Excel drops from 4-digit postcodes (Oslo 0150 -> 150)."""
    if text.isdigit() and len(text) < 4:
        return text.zfill(4)
    return text


def _ref_key(text: str) -> str:
    """Key for spotting the same tenancy reference written twice."""
    return re.sub(r"\s+", "", text).casefold()


def parse_arrears_rows(table: Table) -> tuple[list[ArrearsRow], list[RowError]]:
    """Turn a Table read with ARREARS_FIELDS into ArrearsRows plus errors for rows left out."""
    # Sum lines ("I alt", "Total") are skipped silently. Duplicate references are checked
    # against earlier accepted rows only, so a corrected repeat of a bad row is kept.
    results: list[ArrearsRow] = []
    errors: list[RowError] = []
    seen_refs: dict[str, int] = {}
    for number, cells in table.rows:
        reader = _RowReader(table, number, cells)
        if reader.is_total_line():
            continue
        tenancy_ref = reader.text("tenancy_ref")
        address = reader.text("address")
        if not tenancy_ref and not address:
            reader.errors.append(
                RowError(number, "", "", Wording(N_("no tenancy reference or address")))
            )
        arrears = reader.amount("arrears", required=True)
        rent = reader.amount("monthly_rent", required=False)
        months = reader.optional("months_in_arrears", parse_quantity)
        as_of = reader.optional("as_of", parse_date)
        if tenancy_ref and not reader.errors:
            key = _ref_key(tenancy_ref)
            if key in seen_refs:
                reader.error("tenancy_ref", tenancy_ref, _duplicate_of(seen_refs[key]))
            else:
                seen_refs[key] = number
        if reader.errors or arrears is None:
            errors.extend(reader.errors)
            continue
        if months is None and rent:
            months = round(arrears / rent, 1)
        results.append(
            ArrearsRow(
                row=number,
                tenancy_ref=tenancy_ref,
                tenant_name=reader.text("tenant_name"),
                address=address,
                postcode=_postcode(reader.text("postcode")),
                town=reader.text("town"),
                phone=normalise_phone(reader.text("phone")),
                monthly_rent=rent,
                arrears=arrears,
                months_in_arrears=months,
                as_of=as_of,
            )
        )
    return results, errors


def parse_legal_step_rows(
    table: Table, country: str | None = None
) -> tuple[list[LegalStepRow], list[RowError]]:
    """Turn a Table read with LEGAL_STEP_FIELDS into LegalStepRows plus errors; with a
    country, only the steps that country's organisations are offered."""
    # One tenancy has many steps; only the same step on the same date for the same
    # tenancy (by reference, else by address key) is reported as a duplicate.
    results: list[LegalStepRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str, date], int] = {}
    for number, cells in table.rows:
        reader = _RowReader(table, number, cells)
        if reader.is_total_line():
            continue
        tenancy_ref = reader.text("tenancy_ref")
        address = reader.text("address")
        if not tenancy_ref and not address:
            reader.errors.append(
                RowError(number, "", "", Wording(N_("no tenancy reference or address")))
            )
        step_text = reader.text("step")
        step: str | None = None
        if not step_text:
            reader.error("step", "", Wording(N_("step is missing")))
        else:
            try:
                step = normalise_step(step_text, country)
            except ValueError as exc:
                reader.error("step", step_text, wording_of(exc) or str(exc))
        date_text = reader.text("date")
        when: date | None = None
        if not date_text:
            reader.error("date", "", Wording(N_("date is missing")))
        else:
            when = reader.optional("date", parse_date)
        children = reader.optional("children", parse_int)
        cause = normalise_cause(reader.text("cause"))
        at_time = reader.optional("at_time", parse_clock)
        if step is not None and when is not None and not reader.errors:
            who = _ref_key(tenancy_ref) if tenancy_ref else normalise_address(address)
            key = (who, step, when)
            if key in seen:
                reader.error("step", step_text, _duplicate_of(seen[key]))
            else:
                seen[key] = number
        if reader.errors or step is None or when is None:
            errors.extend(reader.errors)
            continue
        results.append(
            LegalStepRow(
                row=number,
                landlord=reader.text("landlord"),
                tenancy_ref=tenancy_ref,
                address=address,
                postcode=_postcode(reader.text("postcode")),
                town=reader.text("town"),
                step=step,
                date=when,
                cause=cause,
                children=children,
                at_time=at_time,
                place=reader.text("place"),
            )
        )
    return results, errors
