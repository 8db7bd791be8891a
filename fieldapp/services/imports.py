"""Import landlords' arrears lists and legal-step files into households, tenancies and cases."""

# Both imports read the file with services.tabular, plan every row against what is stored
# (loaded in a few queries up front, never one query per row), then write. They flush and
# never commit: the caller commits, or rolls back after a dry run.

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from sqlalchemy import JSON, Integer, cast, func, insert, literal, null, select, text
from sqlalchemy.orm import Session, joinedload

from ..domain.cases import bump_version, close, outcome_of_step
from ..domain.lists import ImplausibleListDate, check_list_date
from ..domain.organisation import organisation_of
from ..domain.registers import address_key, in_register
from ..domain.wording import N_, Wording
from ..models import (
    LANDLORD_KINDS,
    OPEN_STATUSES,
    ArrearsRecord,
    Case,
    CaseEvent,
    Household,
    ImportBatch,
    Landlord,
    LegalStep,
    Team,
    Tenancy,
    User,
)
from ..models.case import LEGAL_STEP_KINDS
from ..models.types import UTCDateTime, utcnow
from .agreements import check_plans
from .audit import record_event
from .holds import end_holds
from .tabular import (
    ARREARS_FIELDS,
    LEGAL_STEP_FIELDS,
    ArrearsRow,
    FileRefused,
    LegalStepRow,
    RowError,
    Table,
    _postcode,
    field_word,
    normalise_name,
    parse_arrears_rows,
    parse_legal_step_rows,
    read_table,
)
from .triage import refresh_priorities

__all__ = [
    "FileRefused",
    "ImportReport",
    "RowError",
    "file_hash",
    "find_landlord",
    "import_arrears",
    "import_legal_steps",
]

_T = TypeVar("_T")

# Keep IN lists well below SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 5000

# Column widths, read from the models so a long cell becomes a row error instead of a
# PostgreSQL DataError that would abort the whole import (SQLite does not check widths).
_WIDTHS: dict[str, int] = {
    "tenancy_ref": Tenancy.__table__.c.reference.type.length,
    "tenant_name": Household.__table__.c.name.type.length,
    "address": Household.__table__.c.address.type.length,
    "postcode": Household.__table__.c.postcode.type.length,
    "town": Household.__table__.c.town.type.length,
    "phone": Household.__table__.c.phone.type.length,
    "landlord": Landlord.__table__.c.name.type.length,
    "place": LegalStep.__table__.c.place.type.length,
}


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do), row by row in totals."""

    kind: str
    filename: str
    file_hash: str
    landlord: str | None
    as_of: date | None
    dry_run: bool
    already_imported: bool = False
    landlord_created: bool = False
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    cleared: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    batch_id: int | None = None
    case_ids: list[int] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every row was taken, 1 when some were rejected (a refused file raises)."""
        return 0 if self.rejected == 0 else 1

    def counts(self) -> dict[str, int]:
        """The five totals, as stored on the ImportBatch."""
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "cleared": self.cleared,
            "rejected": self.rejected,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: dates in ISO form, errors as dicts, plus the exit code."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat() if self.as_of else None
        data["exit_code"] = self.exit_code
        # The command line's JSON keeps its shape: each error's reason in English.
        for error in data["errors"]:
            del error["wording"]
        return data


def file_hash(data: bytes) -> str:
    """The SHA-256 of a file's bytes, in hex: what makes a re-import a no-op."""
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Landlords
# ---------------------------------------------------------------------------


def _name_key(name: str) -> str:
    """Casefold a name and collapse its whitespace, for matching landlords."""
    return " ".join(name.split()).casefold()


def find_landlord(
    session: Session, name: str, create: bool = False, kind: str = "private"
) -> Landlord | None:
    """Find a landlord by name ignoring case and spacing; create it (flushed) if asked."""
    wanted = _name_key(name)
    if not wanted:
        raise ValueError("landlord name is empty")
    # Landlords are few (dozens per municipality), so compare in Python where the
    # whitespace folding is exact on every database.
    for landlord in session.scalars(select(Landlord).order_by(Landlord.id)):
        if _name_key(landlord.name) == wanted:
            return landlord
    if not create:
        return None
    if kind not in LANDLORD_KINDS:
        raise ValueError(f"unknown landlord kind {kind!r}; allowed: {', '.join(LANDLORD_KINDS)}")
    landlord = Landlord(name=" ".join(name.split()), kind=kind)
    session.add(landlord)
    session.flush()
    return landlord


# ---------------------------------------------------------------------------
# Matching rows to stored tenancies
# ---------------------------------------------------------------------------


def _ref_key(text: str | None) -> str:
    """Key for a tenancy reference: no whitespace, casefolded ("kb 157" = "KB157")."""
    return "".join((text or "").split()).casefold()


def _address_key(address: str, postcode: str) -> str:
    """Household.address_key for an address and postcode; empty when there is no address."""
    return address_key(address, postcode)


@dataclass(eq=False)
class _Entry:
    """One tenancy as matching sees it: a stored one, or one this file is about to create."""

    tenancy: Tenancy | None
    ref_key: str
    address_key: str
    name_key: str
    open_case: Case | None = None
    latest: ArrearsRecord | None = None  # the newest arrears record
    same_date: ArrearsRecord | None = None  # the record of this list's date, if any
    first_row: int | None = None  # the row of this file that matched it first
    new_reference: str = ""  # a reference to store on a tenancy that had none
    steps: set[tuple[str, date]] = field(default_factory=set)  # legal steps on any of its cases

    @property
    def rank(self) -> tuple[int, int]:
        """Preference among several candidates: an open case first, then the newest."""
        newest = self.tenancy.id if self.tenancy is not None and self.tenancy.id else 1 << 62
        return (self.open_case is not None, newest)


class _TenancyIndex:
    """One landlord's tenancies in one team's register, with their open cases, found by
    reference or by address. Another team's tenancies are not in it: a row naming one is,
    for this team, a tenancy it does not know yet."""

    def __init__(self, landlord_id: int | None, team_id: int | None) -> None:
        """Start empty; use load() for a stored landlord."""
        self.landlord_id = landlord_id
        self.team_id = team_id
        self.entries: list[_Entry] = []
        self.by_ref: dict[str, _Entry] = {}
        self.by_address: dict[str, list[_Entry]] = defaultdict(list)

    @classmethod
    def load(cls, session: Session, landlord_id: int, team_id: int | None) -> _TenancyIndex:
        """Load the landlord's tenancies, households and open cases in two queries."""
        index = cls(landlord_id, team_id)
        tenancies = session.scalars(
            select(Tenancy)
            .options(joinedload(Tenancy.household))
            .where(Tenancy.landlord_id == landlord_id, in_register(Tenancy.team_id, team_id))
            .order_by(Tenancy.id)
        ).all()
        by_id: dict[int, _Entry] = {}
        for tenancy in tenancies:
            entry = _Entry(
                tenancy=tenancy,
                ref_key=_ref_key(tenancy.reference),
                address_key=tenancy.household.address_key,
                name_key=tenancy.household.name_key,
            )
            by_id[tenancy.id] = entry
            index.add(entry)
        # Ordered by id so the newest open case wins if a tenancy ever has two.
        for case in session.scalars(
            select(Case)
            .join(Tenancy, Case.tenancy_id == Tenancy.id)
            .where(Tenancy.landlord_id == landlord_id, Case.status.in_(OPEN_STATUSES))
            .where(in_register(Tenancy.team_id, team_id))
            .order_by(Case.id)
        ):
            by_id[case.tenancy_id].open_case = case
        return index

    def add(self, entry: _Entry) -> None:
        """Make an entry findable by its reference and its address."""
        self.entries.append(entry)
        if entry.ref_key:
            self.by_ref[entry.ref_key] = entry
        if entry.address_key:
            self.by_address[entry.address_key].append(entry)

    def find(self, ref_key: str, address_key: str, name_key: str | None) -> _Entry | None:
        """Find by reference; else by address (and name, unless name_key is None)."""
        if ref_key:
            entry = self.by_ref.get(ref_key)
            if entry is not None:
                return entry
            # A tenancy stored without a reference (from a legal-step file or a list
            # without references) is the same lease once address and name agree.
            candidates = [e for e in self.by_address.get(address_key, []) if not e.ref_key]
        else:
            candidates = list(self.by_address.get(address_key, []))
        if not address_key:
            return None
        if name_key:
            # A household stored without a name (from a legal-step file) matches any name.
            candidates = [e for e in candidates if e.name_key in (name_key, "")]
        elif name_key == "" and len(candidates) > 1:
            # No name on the row and several tenancies at the address: do not guess.
            return None
        return max(candidates, key=lambda e: e.rank, default=None)


def _load_arrears_records(session: Session, index: _TenancyIndex, as_of: date) -> None:
    """Attach each tenancy's newest record and its record of this list's date (two queries)."""
    by_id = {e.tenancy.id: e for e in index.entries if e.tenancy is not None}
    newest = (
        select(ArrearsRecord.tenancy_id, func.max(ArrearsRecord.as_of).label("as_of"))
        .join(Tenancy, ArrearsRecord.tenancy_id == Tenancy.id)
        .where(Tenancy.landlord_id == index.landlord_id)
        .where(in_register(Tenancy.team_id, index.team_id))
        .group_by(ArrearsRecord.tenancy_id)
        .subquery()
    )
    for record in session.scalars(
        select(ArrearsRecord).join(
            newest,
            (ArrearsRecord.tenancy_id == newest.c.tenancy_id)
            & (ArrearsRecord.as_of == newest.c.as_of),
        )
    ):
        by_id[record.tenancy_id].latest = record
    for record in session.scalars(
        select(ArrearsRecord)
        .join(Tenancy, ArrearsRecord.tenancy_id == Tenancy.id)
        .where(Tenancy.landlord_id == index.landlord_id, ArrearsRecord.as_of == as_of)
        .where(in_register(Tenancy.team_id, index.team_id))
    ):
        by_id[record.tenancy_id].same_date = record


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    """Split a sequence into slices of at most size items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _width_errors(number: int, values: Iterable[tuple[str, str]]) -> list[RowError]:
    """Errors for cells longer than the column that would store them."""
    errors = []
    for name, value in values:
        limit = _WIDTHS[name]
        if len(value) > limit:
            shown = value if len(value) <= 40 else value[:39] + "…"
            problem = N_("%(field)s is longer than %(limit)s characters")
            reason = Wording(problem, field=field_word(name), limit=limit)
            errors.append(RowError(number, name, shown, reason))
    return errors


def _same_tenancy_as(row: int) -> Wording:
    return Wording(N_("same tenancy as row %(row)s"), row=row)


def _sorted_errors(errors: Iterable[RowError]) -> list[RowError]:
    """Errors by row, keeping each row's errors in the order they were found."""
    return sorted(errors, key=lambda e: e.row)


def _mapping_by_header(table: Table) -> dict[str, str]:
    """Header text -> canonical field, as the file's columns were read."""
    return {table.headers[column]: name for name, column in table.mapping.items()}


def _default_team_id(session: Session, user: User | None) -> int | None:
    """The importing user's team; else the only team, when there is exactly one."""
    if user is not None and user.team_id is not None:
        return user.team_id
    team_ids = session.scalars(select(Team.id).order_by(Team.id).limit(2)).all()
    return team_ids[0] if len(team_ids) == 1 else None


def _previous_batch(
    session: Session, kind: str, landlord_id: int | None, digest: str, team_id: int | None
) -> ImportBatch | None:
    """The earlier import of this very file (same bytes) for this landlord and kind, into this
    team's register (another team's import of the same file is not this team's business)."""
    query = select(ImportBatch).where(ImportBatch.kind == kind, ImportBatch.file_hash == digest)
    query = query.where(in_register(ImportBatch.team_id, team_id))
    if landlord_id is None:
        query = query.where(ImportBatch.landlord_id.is_(None))
    else:
        query = query.where(ImportBatch.landlord_id == landlord_id)
    return session.scalars(query.order_by(ImportBatch.id).limit(1)).first()


def _last_list_date(session: Session, landlord_id: int, team_id: int | None) -> date | None:
    """The date of the newest list of this landlord imported into this team's register."""
    return session.scalar(
        select(func.max(ImportBatch.as_of)).where(
            ImportBatch.kind == "arrears",
            ImportBatch.landlord_id == landlord_id,
            in_register(ImportBatch.team_id, team_id),
        )
    )


def _start_batch(
    session: Session,
    report: ImportReport,
    landlord_id: int | None,
    user: User | None,
    team_id: int | None,
) -> ImportBatch:
    """Write the batch first so records and events can name it; counts are filled at the end."""
    batch = ImportBatch(
        kind=report.kind,
        landlord_id=landlord_id,
        team_id=team_id,
        filename=report.filename[:255],
        file_hash=report.file_hash,
        as_of=report.as_of,
        created_by_id=user.id if user is not None else None,
        counts={},
        errors=[],
    )
    session.add(batch)
    session.flush()
    return batch


def _finish(
    session: Session,
    report: ImportReport,
    batch: ImportBatch | None,
    case_ids: tuple[list[int], list[int]],
    user: User | None,
    today: date,
    audit_address: str = "",
) -> None:
    """Refresh priorities of touched open cases, fill in the batch, write the audit line."""
    report.case_ids, open_ids = case_ids
    for chunk in _chunks(open_ids):
        refresh_priorities(session, list(chunk), today)
    if batch is not None:
        # An accepted hold on a case this list or file touched may have ended (paid, or a
        # petition after all): services.holds decides, for the figures.
        end_holds(session, report.case_ids, today)
        batch.counts = report.counts()
        batch.errors = [asdict(error) for error in report.errors]
        record_event(
            session,
            user,
            "import",
            "import_batch",
            batch.id,
            address=audit_address,
            detail=(
                f"{report.kind} {report.filename}: "
                + ", ".join(f"{name}={value}" for name, value in report.counts().items())
            ),
        )
    session.flush()


def _insert_with_ids(session: Session, model, rows: list[dict]) -> list[int]:
    """Insert rows and return their new ids, in order.

    PostgreSQL: the ids come from the table's sequence first, then the rows go in by COPY;
    a RETURNING statement of a thousand rows of placeholders is parsed in Python by psycopg,
    which made a first list of 20,000 rows three times slower. SQLite: RETURNING.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        ids = list(
            session.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :count)"
                ),
                {"table": model.__table__.name, "count": len(rows)},
            )
        )
        _bulk_insert(
            session, model, [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
        )
        return ids
    return list(
        session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    )


def _bulk_insert(session: Session, model, rows: list[dict]) -> None:
    """Insert many rows of one shape: COPY on PostgreSQL (several times faster than even a
    pipelined executemany), executemany elsewhere. Values go through the columns' own
    conversions (UTC timestamps stored naive, JSON as text), as an INSERT would do them."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(model), rows)
        return
    session.flush()
    table = model.__table__
    # COPY knows only server defaults: fill in the columns' Python-side ones as INSERT would.
    defaults = {
        column.name: column.default
        for column in table.columns
        if column.name not in rows[0] and column.default is not None
    }
    if defaults:
        rows = [
            {
                **{
                    name: default.arg(None) if default.is_callable else default.arg
                    for name, default in defaults.items()
                },
                **row,
            }
            for row in rows
        ]
    names = list(rows[0])
    dialect = session.get_bind().dialect
    converters = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    cursor = session.connection().connection.driver_connection.cursor()
    columns = ", ".join(f'"{name}"' for name in names)
    with cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    convert(row[name]) if convert else row[name]
                    for name, convert in zip(names, converters, strict=True)
                ]
            )


def _as_datetime(day: date) -> datetime:
    """A list date as the aware UTC timestamp Tenancy.arrears_as_of stores."""
    return datetime.combine(day, time(), tzinfo=UTC)


# ---------------------------------------------------------------------------
# Arrears lists
# ---------------------------------------------------------------------------


def _list_date(rows: Sequence[ArrearsRow], as_of: date | None, today: date) -> date:
    """The list's date: as given, else the most common date in its rows, else today."""
    if as_of is not None:
        return as_of
    dates = Counter(row.as_of for row in rows if row.as_of is not None)
    return dates.most_common(1)[0][0] if dates else today


def _protected_keys(table: Table, rejected: set[int]) -> tuple[set[str], set[str]]:
    """References and address keys in the raw rows that keep a tenancy from being cleared."""
    # Every reference in the file protects its tenancy, accepted or not. Addresses protect
    # only where they are the row's identity (no reference) or the row was rejected (its
    # reference may be the garbled cell), so a new tenant at an old tenant's address on a
    # list with references does not keep the old tenancy in arrears for ever.
    refs: set[str] = set()
    addresses: set[str] = set()

    def cell(cells: list[str], name: str) -> str:
        """The stripped cell of a field in a raw row ("" when absent)."""
        column = table.mapping.get(name)
        return cells[column].strip() if column is not None and column < len(cells) else ""

    for number, cells in table.rows:
        ref = _ref_key(cell(cells, "tenancy_ref"))
        if ref:
            refs.add(ref)
        if not ref or number in rejected:
            key = _address_key(cell(cells, "address"), _postcode(cell(cells, "postcode")))
            if key:
                addresses.add(key)
    return refs, addresses


def _same_figures(record: ArrearsRecord, row: ArrearsRow) -> bool:
    """Whether a stored record says what the row says (rent only when the row gives one)."""
    if record.amount != row.arrears:
        return False
    if (record.months_in_arrears is None) != (row.months_in_arrears is None):
        return False
    if record.months_in_arrears is not None and row.months_in_arrears is not None:
        if abs(record.months_in_arrears - row.months_in_arrears) > 0.005:
            return False
    return row.monthly_rent is None or record.monthly_rent == row.monthly_rent


def _is_stale(entry: _Entry, as_of: date) -> bool:
    """Whether the tenancy already has figures from a list newer than this one."""
    tenancy = entry.tenancy
    if tenancy is None:
        return False
    newest = entry.latest.as_of if entry.latest is not None else None
    if tenancy.arrears_as_of is not None:
        stamped = tenancy.arrears_as_of.date()
        newest = stamped if newest is None else max(newest, stamped)
    return newest is not None and newest > as_of


def _plan_arrears(
    rows: Sequence[ArrearsRow], index: _TenancyIndex
) -> tuple[list[tuple[ArrearsRow, _Entry]], list[RowError]]:
    """Match every row to a stored tenancy or a new one; refuse a second row for one tenancy."""
    plan: list[tuple[ArrearsRow, _Entry]] = []
    errors: list[RowError] = []
    for row in rows:
        row_errors = _width_errors(
            row.row,
            [
                ("tenancy_ref", row.tenancy_ref),
                ("tenant_name", row.tenant_name),
                ("address", row.address),
                ("postcode", row.postcode),
                ("town", row.town),
                ("phone", row.phone),
            ],
        )
        if row_errors:
            errors.extend(row_errors)
            continue
        ref_key = _ref_key(row.tenancy_ref)
        address_key = _address_key(row.address, row.postcode)
        name_key = normalise_name(row.tenant_name)
        entry = index.find(ref_key, address_key, name_key)
        if entry is None:
            entry = _Entry(None, ref_key, address_key, name_key)
            index.add(entry)
        elif entry.first_row is not None:
            # tabular catches a repeated reference; this catches the same tenancy named
            # twice by address and name, or once by reference and once by address.
            name = "tenancy_ref" if row.tenancy_ref else "address"
            value = row.tenancy_ref or row.address
            errors.append(RowError(row.row, name, value, _same_tenancy_as(entry.first_row)))
            continue
        elif ref_key and not entry.ref_key:
            entry.ref_key, entry.new_reference = ref_key, row.tenancy_ref
            index.by_ref[ref_key] = entry
        entry.first_row = row.row
        plan.append((row, entry))
    return plan, errors


class _ArrearsWriter:
    """Applies a planned arrears list: records, tenancy figures, cases and their events."""

    def __init__(
        self,
        session: Session,
        landlord: Landlord,
        report: ImportReport,
        batch: ImportBatch | None,
        user: User | None,
        team_id: int | None,
    ) -> None:
        """Hold what every row needs."""
        assert report.as_of is not None
        self.session = session
        self.landlord = landlord
        self.report = report
        self.as_of = report.as_of
        self.as_of_at = _as_datetime(report.as_of)
        self.batch_id = batch.id if batch is not None else None
        self.user_id = user.id if user is not None else None
        self.team_id = team_id
        # Cases changed through the session, and ids of cases inserted in bulk (all open).
        self.touched: list[Case] = []
        self.created_case_ids: list[int] = []
        # Rows for tenancies first seen on this list, inserted in bulk after the loop.
        self.creates: list[tuple[ArrearsRow, _Entry]] = []
        # Cases opened on known tenancies; their "opened" events need the ids of a flush.
        self.reopened: list[Case] = []
        # The arrears this list gives each known tenancy (0: paid up), for the check of the
        # payment plans (services.agreements.check_plans).
        self.listed: dict[int, int] = {}

    def apply(self, plan: Sequence[tuple[ArrearsRow, _Entry]]) -> None:
        """Write every planned row and flush."""
        for row, entry in plan:
            self._row(row, entry)
        self.session.flush()
        self._create_all()
        for case in self.reopened:
            self._event(case, "opened", {"source": "arrears_list", "batch": self.batch_id})
        self.session.flush()

    def clear_absent(self, index: _TenancyIndex, protected: tuple[set[str], set[str]]) -> None:
        """Mark paid up every tenancy in arrears that this list no longer names."""
        refs, addresses = protected
        for entry in index.entries:
            tenancy = entry.tenancy
            if tenancy is None or entry.first_row is not None or tenancy.current_arrears <= 0:
                continue
            if (entry.ref_key and entry.ref_key in refs) or entry.address_key in addresses:
                continue
            if _is_stale(entry, self.as_of):
                continue
            self._clear(entry)
        self.session.flush()

    def case_ids(self) -> tuple[list[int], list[int]]:
        """Ids of every case opened or touched, and of those still open."""
        all_ids = {case.id: case.is_open for case in self.touched}
        all_ids.update(dict.fromkeys(self.created_case_ids, True))
        return sorted(all_ids), sorted(i for i, is_open in all_ids.items() if is_open)

    def _row(self, row: ArrearsRow, entry: _Entry) -> None:
        """Apply one row to its tenancy and count it."""
        report = self.report
        if entry.tenancy is None:
            if row.arrears == 0:
                # Paid up and unknown to us: nothing to follow up.
                report.unchanged += 1
                return
            self.creates.append((row, entry))
            report.new += 1
            return
        tenancy = entry.tenancy
        household = tenancy.household
        # Fill what the household lacks; never overwrite what someone already knows.
        if not household.phone and row.phone:
            household.phone = row.phone
        if not household.name and row.tenant_name:
            household.name, household.name_key = row.tenant_name, normalise_name(row.tenant_name)
        if entry.new_reference:
            tenancy.reference = entry.new_reference
        if _is_stale(entry, self.as_of):
            # An older list imported late: the newer figures stand.
            report.unchanged += 1
            return
        self.listed[tenancy.id] = row.arrears
        if row.arrears == 0:
            if tenancy.current_arrears > 0:
                self._clear(entry)
            else:
                report.unchanged += 1
            return
        same, latest = entry.same_date, entry.latest
        if same is not None and _same_figures(same, row):
            report.unchanged += 1
            return
        if same is None and latest is not None and latest.amount > 0:
            if _same_figures(latest, row):
                report.unchanged += 1
                return
        if same is not None:
            self._fill_record(same, row.arrears, row)
        else:
            self.session.add(self._record(tenancy.id, row.arrears, row))
        self._set_figures(tenancy, row)
        if entry.open_case is not None:
            report.updated += 1
            self.touched.append(entry.open_case)
        else:
            case = Case(tenancy=tenancy, team_id=self.team_id, status="new", cause="economic")
            self.session.add(case)
            entry.open_case = case
            self.reopened.append(case)
            self.touched.append(case)
            report.new += 1

    def _create_all(self) -> None:
        """Insert the new households, tenancies, cases, records and events in bulk."""
        # A first list of 20,000 tenancies is 100,000 rows; ORM bulk inserts with RETURNING
        # take a fraction of the unit of work's time. Nothing else in the session refers to
        # these rows, so they need not be in its identity map.
        if not self.creates:
            return
        session, now = self.session, utcnow()
        household_ids = _insert_with_ids(
            session,
            Household,
            [
                {
                    "team_id": self.team_id,
                    "name": row.tenant_name,
                    "name_key": entry.name_key,
                    "address": row.address,
                    "postcode": row.postcode,
                    "town": row.town,
                    "address_key": entry.address_key,
                    "phone": row.phone,
                    "created_at": now,
                }
                for row, entry in self.creates
            ],
        )
        tenancy_ids = _insert_with_ids(
            session,
            Tenancy,
            [
                {
                    "team_id": self.team_id,
                    "household_id": household_id,
                    "landlord_id": self.landlord.id,
                    "reference": row.tenancy_ref or None,
                    "monthly_rent": row.monthly_rent,
                    "current_arrears": row.arrears,
                    "months_in_arrears": row.months_in_arrears,
                    "arrears_as_of": self.as_of_at,
                    "created_at": now,
                }
                for (row, _), household_id in zip(self.creates, household_ids, strict=True)
            ],
        )
        # Every new case is the same but for its tenancy, so INSERT ... SELECT sends one id per
        # row instead of a row of parameters (which psycopg parses one by one, slowly).
        team = literal(self.team_id, Integer) if self.team_id is not None else null()
        case_ids: list[int] = []
        for chunk in _chunks(tenancy_ids):
            session.execute(
                insert(Case).from_select(
                    ["tenancy_id", "team_id", "status", "cause", "priority"]
                    + ["priority_reasons", "opened_at", "version"],
                    select(
                        Tenancy.id,
                        cast(team, Integer),
                        literal("new"),
                        literal("economic"),
                        literal(0),
                        literal([], JSON),
                        literal(now, UTCDateTime),
                        literal(1),
                    ).where(Tenancy.id.in_(chunk)),
                )
            )
            case_ids.extend(session.scalars(select(Case.id).where(Case.tenancy_id.in_(chunk))))
        _bulk_insert(
            session,
            ArrearsRecord,
            [
                {
                    "tenancy_id": tenancy_id,
                    "batch_id": self.batch_id,
                    "as_of": self.as_of,
                    "amount": row.arrears,
                    "months_in_arrears": row.months_in_arrears,
                    "monthly_rent": row.monthly_rent,
                }
                for (row, _), tenancy_id in zip(self.creates, tenancy_ids, strict=True)
            ],
        )
        _bulk_insert(
            session,
            CaseEvent,
            [
                {
                    "case_id": case_id,
                    "at": now,
                    "user_id": self.user_id,
                    "kind": "opened",
                    "detail": {"source": "arrears_list", "batch": self.batch_id},
                }
                for case_id in case_ids
            ],
        )
        self.created_case_ids.extend(case_ids)

    def _set_figures(self, tenancy: Tenancy, row: ArrearsRow) -> None:
        """Put the list's figures on the tenancy (keeping the rent when the list has none)."""
        tenancy.current_arrears = row.arrears
        tenancy.months_in_arrears = row.months_in_arrears
        if row.monthly_rent is not None:
            tenancy.monthly_rent = row.monthly_rent
        tenancy.arrears_as_of = self.as_of_at

    def _record(self, tenancy_id: int, amount: int, row: ArrearsRow | None) -> ArrearsRecord:
        """A new arrears record of this list's date."""
        record = ArrearsRecord(tenancy_id=tenancy_id, as_of=self.as_of)
        self._fill_record(record, amount, row)
        return record

    def _fill_record(self, record: ArrearsRecord, amount: int, row: ArrearsRow | None) -> None:
        """Set a record's figures; a record without a row is the paid-up one."""
        record.batch_id = self.batch_id
        record.amount = amount
        if row is None:
            record.months_in_arrears = 0.0
        else:
            record.months_in_arrears = row.months_in_arrears
            if row.monthly_rent is not None:
                record.monthly_rent = row.monthly_rent

    def _clear(self, entry: _Entry) -> None:
        """Mark a tenancy paid up; close its case if nobody has started on it yet."""
        tenancy = entry.tenancy
        assert tenancy is not None
        if entry.same_date is not None:
            self._fill_record(entry.same_date, 0, None)
        else:
            record = self._record(tenancy.id, 0, None)
            record.monthly_rent = tenancy.monthly_rent
            self.session.add(record)
        tenancy.current_arrears = 0
        tenancy.months_in_arrears = 0.0
        tenancy.arrears_as_of = self.as_of_at
        self.listed[tenancy.id] = 0
        self.report.cleared += 1
        case = entry.open_case
        if case is None:
            return
        detail: dict[str, Any] = {
            "source": "arrears_list",
            "batch": self.batch_id,
            "as_of": self.as_of.isoformat(),
        }
        # A case someone is working on stays open: paying up the rent may not be the end.
        if case.status == "new":
            close(case, "paid_up")
            detail["closed"] = "paid_up"
            entry.open_case = None
        self._event(case, "cleared", detail)
        self.touched.append(case)

    def _event(self, case: Case, kind: str, detail: dict[str, Any]) -> None:
        """Add a line to the case's timeline (the case must have its id)."""
        self.session.add(CaseEvent(case_id=case.id, user_id=self.user_id, kind=kind, detail=detail))


def import_arrears(
    session: Session,
    data: bytes,
    filename: str,
    landlord: Landlord,
    *,
    as_of: date | None = None,
    user: User | None = None,
    dry_run: bool = False,
    mapping: dict[str, str] | None = None,
    today: date | None = None,
    team_id: int | None = None,
    older_list: bool = False,
    audit_address: str = "",
) -> ImportReport:
    """Import one landlord's arrears list into one team's register (team_id, else the user's
    team, else the only team): open, update and clear that team's cases; return the report.
    Another team's tenancies are neither matched, counted nor cleared.

    mapping=None uses the landlord's saved column_mapping; this function never saves one.
    FileRefused propagates before anything is written. The same bytes imported again for
    the same landlord change nothing (already_imported). dry_run=True does all the same work
    in the session, so the counts are right, but writes no ImportBatch or audit line; the
    CALLER MUST call session.rollback() afterwards. Otherwise the caller commits.
    The landlord is given, so report.landlord_created is False; a caller that has just
    created it (find_landlord(create=True)) sets the flag itself.
    """
    today = today or date.today()
    if mapping is None:
        mapping = landlord.column_mapping or None
    table = read_table(data, filename, ARREARS_FIELDS, mapping)
    rows, errors = parse_arrears_rows(table)
    list_date = _list_date(rows, as_of, today)
    if landlord.id is None:
        session.flush()
    team_id = team_id if team_id is not None else _default_team_id(session, user)
    report = ImportReport(
        kind="arrears",
        filename=filename,
        file_hash=file_hash(data),
        landlord=landlord.name,
        as_of=list_date,
        dry_run=dry_run,
        headers=list(table.headers),
        mapping=_mapping_by_header(table),
        unmapped=list(table.unmapped),
    )
    previous = _previous_batch(session, "arrears", landlord.id, report.file_hash, team_id)
    index = _TenancyIndex.load(session, landlord.id, team_id)
    plan, own_errors = _plan_arrears(rows, index)
    report.errors = _sorted_errors([*errors, *own_errors])
    report.rejected = len({error.row for error in report.errors})
    if previous is not None:
        report.already_imported = True
        report.unchanged = len(plan)
        report.batch_id = previous.id
        return report
    try:
        check_list_date(
            list_date, today, _last_list_date(session, landlord.id, team_id), older_list=older_list
        )
    except ImplausibleListDate as error:
        raise FileRefused(str(error)) from None

    _load_arrears_records(session, index, list_date)
    batch = None if dry_run else _start_batch(session, report, landlord.id, user, team_id)
    report.batch_id = batch.id if batch is not None else None
    writer = _ArrearsWriter(session, landlord, report, batch, user, team_id)
    writer.apply(plan)
    rejected_rows = {error.row for error in report.errors}
    writer.clear_absent(index, _protected_keys(table, rejected_rows))
    # The list checks the payment plans of the tenancies it names (kept or broken); their
    # cases' priorities are refreshed with the others.
    checked = check_plans(session, writer.listed, list_date)
    case_ids = writer.case_ids()
    for chunk in _chunks(sorted(set(checked) - set(case_ids[1]))):
        refresh_priorities(session, list(chunk), today)
    _finish(session, report, batch, case_ids, user, today, audit_address)
    return report


# ---------------------------------------------------------------------------
# Legal steps
# ---------------------------------------------------------------------------

_STEP_ORDER = {kind: position for position, kind in enumerate(LEGAL_STEP_KINDS)}


@dataclass(eq=False)
class _LandlordPlan:
    """A landlord named in a legal-step file: stored, or to be created, with its tenancies."""

    name: str
    landlord: Landlord | None
    index: _TenancyIndex


def _indices_for_unnamed(
    session: Session,
    rows: Sequence[LegalStepRow],
    plans: dict[int, _LandlordPlan],
    team_id: int | None,
) -> list[_LandlordPlan]:
    """Landlords that may hold the tenancies of rows naming no landlord (by ref or address)."""
    refs = sorted({row.tenancy_ref for row in rows if row.tenancy_ref})
    keys = sorted({_address_key(row.address, row.postcode) for row in rows} - {""})
    landlord_ids: set[int] = set()
    for chunk in _chunks(refs):
        landlord_ids.update(
            session.scalars(
                select(Tenancy.landlord_id)
                .where(Tenancy.reference.in_(chunk))
                .where(in_register(Tenancy.team_id, team_id))
            )
        )
    for chunk in _chunks(keys):
        landlord_ids.update(
            session.scalars(
                select(Tenancy.landlord_id)
                .join(Household, Tenancy.household_id == Household.id)
                .where(Household.address_key.in_(chunk))
                .where(in_register(Tenancy.team_id, team_id))
            )
        )
    found = []
    for landlord_id in sorted(landlord_ids):
        if landlord_id not in plans:
            landlord = session.get(Landlord, landlord_id)
            assert landlord is not None
            plans[landlord_id] = _LandlordPlan(
                landlord.name, landlord, _TenancyIndex.load(session, landlord_id, team_id)
            )
        found.append(plans[landlord_id])
    return found


def _load_steps(session: Session, plans: Iterable[_LandlordPlan]) -> None:
    """Attach the legal steps already on any case of each stored tenancy (one query)."""
    by_id: dict[int, _Entry] = {}
    for plan in plans:
        for entry in plan.index.entries:
            if entry.tenancy is not None:
                by_id[entry.tenancy.id] = entry
    landlord_ids = sorted({p.landlord.id for p in plans if p.landlord is not None})
    if not landlord_ids:
        return
    for tenancy_id, kind, day in session.execute(
        select(Case.tenancy_id, LegalStep.kind, LegalStep.date)
        .join(Case, LegalStep.case_id == Case.id)
        .join(Tenancy, Case.tenancy_id == Tenancy.id)
        .where(Tenancy.landlord_id.in_(landlord_ids))
    ):
        if tenancy_id in by_id:
            by_id[tenancy_id].steps.add((kind, day))


def _within_widths(rows: Sequence[LegalStepRow]) -> tuple[list[LegalStepRow], list[RowError]]:
    """The rows whose values fit their columns, and the errors of those that do not."""
    errors: list[RowError] = []
    accepted: list[LegalStepRow] = []
    for row in rows:
        row_errors = _width_errors(
            row.row,
            [
                ("landlord", row.landlord),
                ("tenancy_ref", row.tenancy_ref),
                ("address", row.address),
                ("postcode", row.postcode),
                ("town", row.town),
                ("place", row.place),
            ],
        )
        if row_errors:
            errors.extend(row_errors)
        else:
            accepted.append(row)
    return accepted, errors


def _settle_entry(
    owner: _LandlordPlan, entry: _Entry | None, ref_key: str, address_key: str, row: LegalStepRow
) -> _Entry:
    """The row's tenancy entry: a new one (not stored yet) when none was found; a found one
    stored without a reference gets the row's."""
    if entry is None:
        entry = _Entry(None, ref_key, address_key, "")
        owner.index.add(entry)
    elif ref_key and not entry.ref_key:
        entry.ref_key, entry.new_reference = ref_key, row.tenancy_ref
        owner.index.by_ref[ref_key] = entry
    return entry


def _plan_own_legal_steps(
    session: Session, rows: Sequence[LegalStepRow], team_id: int | None, landlord: Landlord
) -> tuple[list[tuple[LegalStepRow, _LandlordPlan, _Entry]], list[RowError], list[_LandlordPlan]]:
    """A landlord's own file: every row is about one of their own tenancies (stored, or new
    to the register). A row naming another landlord, or the reference or address of another
    landlord's tenancy in the team's register, is rejected and never applied."""
    accepted, errors = _within_widths(rows)
    own = _LandlordPlan(landlord.name, landlord, _TenancyIndex.load(session, landlord.id, team_id))
    own_key = _name_key(landlord.name)
    others = (
        select(Tenancy.reference, Household.address_key)
        .join(Household, Tenancy.household_id == Household.id)
        .where(Tenancy.landlord_id != landlord.id, in_register(Tenancy.team_id, team_id))
    )
    foreign_refs: set[str] = set()
    foreign_addresses: set[str] = set()
    refs = sorted({row.tenancy_ref for row in accepted if row.tenancy_ref})
    keys = sorted({_address_key(row.address, row.postcode) for row in accepted} - {""})
    for chunk in _chunks(refs):
        for reference, _key in session.execute(others.where(Tenancy.reference.in_(chunk))):
            foreign_refs.add(_ref_key(reference))
    for chunk in _chunks(keys):
        for _reference, key in session.execute(others.where(Household.address_key.in_(chunk))):
            foreign_addresses.add(key)
    plan: list[tuple[LegalStepRow, _LandlordPlan, _Entry]] = []
    for row in sorted(accepted, key=lambda r: (r.date, _STEP_ORDER.get(r.step, 99), r.row)):
        ref_key = _ref_key(row.tenancy_ref)
        address_key = _address_key(row.address, row.postcode)
        if _name_key(row.landlord) not in ("", own_key):
            reason = Wording(N_("names another landlord: send steps only for your own tenancies"))
            errors.append(RowError(row.row, "landlord", row.landlord, reason))
            continue
        entry = own.index.find(ref_key, address_key, None)
        foreign = (ref_key and ref_key in foreign_refs) or (
            address_key and address_key in foreign_addresses
        )
        if entry is None and foreign:
            reason = Wording(N_("is not one of your tenancies"))
            field, value = ("tenancy_ref", row.tenancy_ref) if row.tenancy_ref else (
                "address", row.address)  # fmt: skip
            errors.append(RowError(row.row, field, value, reason))
            continue
        plan.append((row, own, _settle_entry(own, entry, ref_key, address_key, row)))
    return plan, errors, [own]


def _plan_legal_steps(
    session: Session, rows: Sequence[LegalStepRow], team_id: int | None
) -> tuple[list[tuple[LegalStepRow, _LandlordPlan, _Entry]], list[RowError], list[_LandlordPlan]]:
    """Match every row to a landlord (stored or new) and a tenancy (stored or new)."""
    accepted, errors = _within_widths(rows)
    by_name: dict[str, _LandlordPlan] = {}
    by_id: dict[int, _LandlordPlan] = {}
    stored = {_name_key(landlord.name): landlord for landlord in session.scalars(select(Landlord))}
    for row in accepted:
        key = _name_key(row.landlord)
        if not key or key in by_name:
            continue
        landlord = stored.get(key)
        if landlord is None:
            by_name[key] = _LandlordPlan(
                " ".join(row.landlord.split()), None, _TenancyIndex(None, team_id)
            )
        else:
            if landlord.id not in by_id:
                by_id[landlord.id] = _LandlordPlan(
                    landlord.name, landlord, _TenancyIndex.load(session, landlord.id, team_id)
                )
            by_name[key] = by_id[landlord.id]
    unnamed = [row for row in accepted if not _name_key(row.landlord)]
    candidates = _indices_for_unnamed(session, unnamed, by_id, team_id) if unnamed else []

    plan: list[tuple[LegalStepRow, _LandlordPlan, _Entry]] = []
    # Oldest first, so a petition precedes the eviction that closes the case.
    for row in sorted(accepted, key=lambda r: (r.date, _STEP_ORDER.get(r.step, 99), r.row)):
        ref_key = _ref_key(row.tenancy_ref)
        address_key = _address_key(row.address, row.postcode)
        landlord_key = _name_key(row.landlord)
        if landlord_key:
            owner = by_name[landlord_key]
            entry = owner.index.find(ref_key, address_key, None)
        else:
            found = [
                (p, e)
                for p in candidates
                if (e := p.index.find(ref_key, address_key, None)) is not None
            ]
            if len(found) != 1:
                reason = Wording(
                    N_("landlord is missing and no known tenancy has this reference or address")
                    if not found
                    else N_("landlord is missing and several landlords have a tenancy like this")
                )
                errors.append(RowError(row.row, "landlord", "", reason))
                continue
            owner, entry = found[0]
        plan.append((row, owner, _settle_entry(owner, entry, ref_key, address_key, row)))
    owners = list(dict.fromkeys([*by_id.values(), *by_name.values()]))
    return plan, errors, owners


def import_legal_steps(
    session: Session,
    data: bytes,
    filename: str,
    *,
    user: User | None = None,
    dry_run: bool = False,
    today: date | None = None,
    team_id: int | None = None,
    audit_address: str = "",
    landlord: Landlord | None = None,
) -> ImportReport:
    """Import a file of legal steps (several landlords) into one team's register (team_id,
    else the user's team, else the only team): add steps, open and close that team's cases.
    A row naming another team's tenancy finds nothing of it. landlord: the file is that
    landlord's own (a landlord person's upload): rows about other landlords' tenancies are
    rejected.

    Unknown landlords, tenancies and households are created. A step already on a case of the
    tenancy (same kind and date) is left alone, so the same content imported twice adds
    nothing; the same bytes imported twice report already_imported. FileRefused propagates
    before anything is written. dry_run=True does the same work without an ImportBatch or
    audit line; the CALLER MUST call session.rollback() afterwards. Otherwise the caller
    commits.
    """
    today = today or date.today()
    table = read_table(data, filename, LEGAL_STEP_FIELDS)
    team_id = team_id if team_id is not None else _default_team_id(session, user)
    # The organisation's country chooses the steps a file may name (domain.legal_clock).
    organisation = organisation_of(session, team_id)
    rows, errors = parse_legal_step_rows(table, organisation.country if organisation else None)
    report = ImportReport(
        kind="legal_steps",
        filename=filename,
        file_hash=file_hash(data),
        landlord=None,
        as_of=None,
        dry_run=dry_run,
        headers=list(table.headers),
        mapping=_mapping_by_header(table),
        unmapped=list(table.unmapped),
    )
    # A landlord's own file is that landlord's import (only their rows apply): the same bytes
    # from the lead are another import, which may apply rows this one rejected.
    own = landlord.id if landlord is not None else None
    previous = _previous_batch(session, "legal_steps", own, report.file_hash, team_id)
    if landlord is None:
        plan, own_errors, owners = _plan_legal_steps(session, rows, team_id)
    else:  # a landlord's own file: only their own tenancies
        plan, own_errors, owners = _plan_own_legal_steps(session, rows, team_id, landlord)
    report.errors = _sorted_errors([*errors, *own_errors])
    report.rejected = len({error.row for error in report.errors})
    if previous is not None:
        report.already_imported = True
        report.unchanged = len(plan)
        report.batch_id = previous.id
        return report

    _load_steps(session, owners)
    for owner in owners:
        if owner.landlord is None:
            owner.landlord = Landlord(name=owner.name, kind="private")
            session.add(owner.landlord)
            report.landlord_created = True
    batch = None if dry_run else _start_batch(session, report, own, user, team_id)
    report.batch_id = batch.id if batch is not None else None
    batch_id = batch.id if batch is not None else None
    user_id = user.id if user is not None else None
    touched: list[Case] = []
    events: list[tuple[Case, str, dict[str, Any]]] = []

    for row, owner, entry in plan:
        if entry.tenancy is None:
            household = Household(
                team_id=team_id,
                name="",
                name_key="",
                address=row.address,
                postcode=row.postcode,
                town=row.town,
                address_key=entry.address_key,
            )
            entry.tenancy = Tenancy(
                team_id=team_id,
                household=household,
                landlord=owner.landlord,
                reference=row.tenancy_ref or None,
            )
            session.add_all([household, entry.tenancy])
        tenancy = entry.tenancy
        if entry.new_reference:
            tenancy.reference = entry.new_reference
        if (row.step, row.date) in entry.steps:
            report.unchanged += 1
            continue
        case = entry.open_case
        if case is None:
            case = Case(
                tenancy=tenancy, team_id=team_id, status="new", cause=row.cause or "economic"
            )
            session.add(case)
            entry.open_case = case
            events.append((case, "opened", {"source": "legal_steps", "batch": batch_id}))
        elif row.cause and case.status == "new" and case.cause != row.cause:
            # Only while nobody works the case: a worker's own judgement of the cause stands.
            case.cause = row.cause
            bump_version(case)
        if row.children and not tenancy.household.children:
            tenancy.household.children = row.children
        session.add(
            LegalStep(
                case=case,
                kind=row.step,
                date=row.date,
                at_time=row.at_time,
                place=row.place,
                source="import",
                created_by_id=user_id,
            )
        )
        entry.steps.add((row.step, row.date))
        report.new += 1
        touched.append(case)
        outcome = outcome_of_step(row.step)
        if outcome is not None:
            close(case, outcome)
            entry.open_case = None
            events.append(
                (
                    case,
                    "closed",
                    {"source": "legal_steps", "batch": batch_id, "outcome": outcome},
                )
            )
    session.flush()
    for case, kind, detail in events:
        session.add(CaseEvent(case_id=case.id, user_id=user_id, kind=kind, detail=detail))
    states = {case.id: case.is_open for case in touched}
    open_ids = sorted(case_id for case_id, is_open in states.items() if is_open)
    _finish(session, report, batch, (sorted(states), open_ids), user, today, audit_address)
    return report
