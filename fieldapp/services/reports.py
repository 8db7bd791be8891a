"""Outcome statistics: what the prevention work achieved, counted from legal steps and cases.

Every figure is computed from the register (legal steps, cases, tenancies, visits) each time
it is asked for; nothing is stored as a total. A legal step counts in the period of its own
date, so a petition filed in 2012 and executed in 2013 is a 2012 petition and a 2013
eviction. The queries are grouped and few (eight, whatever the number of cases); the
last steps of the counting (periods, time zones, 24-month windows) happen in Python on rows
that are already narrowed to the years asked for.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, extract, func, select
from sqlalchemy.orm import Session

from ..domain.organisation import organisation_of, zone_of
from ..models import (
    CASE_CAUSES,
    LANDLORD_KINDS,
    ArrearsRecord,
    BenefitDeduction,
    Case,
    HoldRequest,
    Household,
    ImportBatch,
    Landlord,
    LegalStep,
    Organisation,
    PaymentPlan,
    Team,
    Tenancy,
    Visit,
)
from ..models.types import utcnow
from .tabular import _spreadsheet_safe

__all__ = [
    "AGREEMENT_CSV_COLUMNS",
    "AgreementFigures",
    "CSV_COLUMNS",
    "LIST_CSV_COLUMNS",
    "LIST_DAYS",
    "LandlordLists",
    "ListFigures",
    "PERIODS",
    "REPEAT_WINDOW_MONTHS",
    "CostAssumptions",
    "CostEstimate",
    "CostLine",
    "OutcomeFilters",
    "Period",
    "PeriodFigures",
    "ReportError",
    "agreement_figures",
    "agreement_rows",
    "agreements_csv",
    "cost_assumptions",
    "cost_avoided",
    "current_year",
    "list_cadence",
    "list_rows",
    "lists_csv",
    "outcome_figures",
    "outcome_rows",
    "outcomes_csv",
    "outcomes_json",
    "outcomes_xlsx",
    "report_teams",
    "update_cost_assumptions",
]

PERIODS = ("year", "quarter", "month")
# The yearly export (CSV, JSON, XLSX): exactly these columns, in this order.
CSV_COLUMNS = (
    "year",
    "petitions",
    "executed_evictions",
    "withdrawn",
    "resolved_without_eviction",
    "evicted_with_children",
    "rehoused",
    "repeat_petitions",
)
# The agreements' yearly export (a second CSV, so the first one's readers keep working).
AGREEMENT_CSV_COLUMNS = (
    "year",
    "holds_accepted",
    "holds_ended_in_payment",
    "holds_ended_in_petition",
    "holds_running",
    "plans_kept",
    "plans_broken",
    "deductions_set_up",
)
# Drammen's cadence: one row per landlord's list (a third CSV).
LIST_CSV_COLUMNS = (
    "landlord",
    "landlord_kind",
    "team",
    "list_date",
    "last_day",
    "petitions",
    "executed_evictions",
)
# A landlord's arrears list covers this many days from its date (Drammen's fortnight).
LIST_DAYS = 14
# A household petitioned again within this many months of an earlier petition: the
# revolving door.
REPEAT_WINDOW_MONTHS = 24
# The years a report may cover, and how many at once (keeps a month table finite).
FIRST_YEAR, LAST_YEAR, MAX_YEARS = 1900, 2100, 30
DEFAULT_ZONE = "Europe/Copenhagen"
# The defaults of the organisation's cost assumptions (the model's defaults say the same).
DEFAULT_SHELTER_COST_PER_MONTH = 4_500_000  # øre: Randers' 45,000 DKK a month
DEFAULT_SHELTER_MONTHS = 6.0


class ReportError(ValueError):
    """A report or an assumption that cannot be made as asked; `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------------------
# Periods and filters
# ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    """A year, a quarter (part 1–4) or a month (part 1–12)."""

    year: int
    part: int = 0  # 0 for a whole year
    kind: str = "year"

    @property
    def months(self) -> int:
        """How many months the period spans."""
        return {"year": 12, "quarter": 3, "month": 1}[self.kind]

    @property
    def start(self) -> date:
        """The first day of the period."""
        first_month = 1 if self.kind == "year" else (self.part - 1) * self.months + 1
        return date(self.year, first_month, 1)

    @property
    def end(self) -> date:
        """The last day of the period."""
        return _add_months(self.start, self.months) - timedelta(days=1)

    @property
    def label(self) -> str:
        """2013, 2013 Q2 or 2013-04: the same in every language."""
        if self.kind == "quarter":
            return f"{self.year} Q{self.part}"
        if self.kind == "month":
            return f"{self.year}-{self.part:02d}"
        return str(self.year)

    @classmethod
    def containing(cls, day: date, kind: str) -> Period:
        """The period of this kind that holds the day."""
        if kind == "quarter":
            return cls(day.year, (day.month - 1) // 3 + 1, kind)
        if kind == "month":
            return cls(day.year, day.month, kind)
        return cls(day.year, 0, "year")


def _add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier, if negative); 29 Feb becomes 28 Feb."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class OutcomeFilters:
    """What a report covers: years, period length, and optionally a landlord kind or team."""

    year_from: int
    year_to: int
    period: str = "year"
    landlord_kind: str | None = None
    team_id: int | None = None

    def __post_init__(self) -> None:
        for name, year in (("from", self.year_from), ("to", self.year_to)):
            if not FIRST_YEAR <= year <= LAST_YEAR:
                raise ReportError(name, f"{year} is not between {FIRST_YEAR} and {LAST_YEAR}")
        if self.year_from > self.year_to:
            raise ReportError("from", f"{self.year_from} is after the last year, {self.year_to}")
        if self.year_to - self.year_from + 1 > MAX_YEARS:
            raise ReportError("to", f"at most {MAX_YEARS} years at a time")
        if self.period not in PERIODS:
            raise ReportError("period", f"{self.period!r} is not one of {', '.join(PERIODS)}")
        if self.landlord_kind is not None and self.landlord_kind not in LANDLORD_KINDS:
            raise ReportError(
                "landlord_kind",
                f"{self.landlord_kind!r} is not one of {', '.join(LANDLORD_KINDS)}",
            )

    @property
    def start(self) -> date:
        return date(self.year_from, 1, 1)

    @property
    def end(self) -> date:
        return date(self.year_to, 12, 31)

    def periods(self) -> list[Period]:
        """Every period in the years, in order, so empty ones show as zeros."""
        per_year = {"year": [0], "quarter": [1, 2, 3, 4], "month": list(range(1, 13))}
        return [
            Period(year, part, self.period)
            for year in range(self.year_from, self.year_to + 1)
            for part in per_year[self.period]
        ]

    def scope(self, query: Select) -> Select:
        """Narrow a query that already joins Case, Tenancy and Landlord to the filters."""
        if self.landlord_kind is not None:
            query = query.where(Landlord.kind == self.landlord_kind)
        if self.team_id is not None:
            query = query.where(Case.team_id == self.team_id)
        return query


# ---------------------------------------------------------------------------
# The figures
# ---------------------------------------------------------------------------


@dataclass
class PeriodFigures:
    """The outcome figures of one period (see the README's "Outcome statistics")."""

    period: Period
    petitions: int = 0
    hearings: int = 0
    evictions_scheduled: int = 0
    executed_evictions: int = 0
    withdrawn: int = 0
    cancelled: int = 0
    # Cases closed in the period with an outcome other than evicted, and by outcome.
    resolved_without_eviction: int = 0
    resolved_by_outcome: dict[str, int] = field(default_factory=dict)
    # Executed evictions by the cause recorded on the case.
    evictions_by_cause: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(CASE_CAUSES, 0)
    )
    # Households evicted in the period that had children living with them.
    evicted_with_children: int = 0
    # Households evicted in the period that the register later knows at another tenancy.
    rehoused: int = 0
    # Households petitioned in the period that had been petitioned in the 24 months before.
    repeat_petitions: int = 0
    # Cases with a hearing in the period (up to today), and those met on a day before their
    # first hearing in the period: the contact rate.
    cases_with_hearing: int = 0
    reached_before_hearing: int = 0

    @property
    def withdrawn_or_cancelled(self) -> int:
        """Petitions withdrawn plus proceedings cancelled: the export's `withdrawn`."""
        return self.withdrawn + self.cancelled

    @property
    def contact_rate(self) -> float | None:
        """Share (0–1) of cases with a hearing that were met before it; None without hearings."""
        if not self.cases_with_hearing:
            return None
        return self.reached_before_hearing / self.cases_with_hearing

    def export_row(self) -> dict[str, int]:
        """The yearly export's row (CSV_COLUMNS); `year` is the period's year."""
        return {
            "year": self.period.year,
            "petitions": self.petitions,
            "executed_evictions": self.executed_evictions,
            "withdrawn": self.withdrawn_or_cancelled,
            "resolved_without_eviction": self.resolved_without_eviction,
            "evicted_with_children": self.evicted_with_children,
            "rehoused": self.rehoused,
            "repeat_petitions": self.repeat_petitions,
        }


@dataclass
class AgreementFigures:
    """What was agreed in one period (see the README's "Outcome statistics")."""

    period: Period
    # Petitions held by agreement: holds the landlord accepted in the period (by the day of
    # the answer), and of those how many have ended in payment or in a petition.
    holds_accepted: int = 0
    holds_ended_in_payment: int = 0
    holds_ended_in_petition: int = 0
    # Payment plans whose last check (an arrears list) is dated in the period, by what it found.
    plans_kept: int = 0
    plans_broken: int = 0
    # Rent deductions from benefits confirmed in the period (by the landlord or the office).
    deductions_set_up: int = 0

    @property
    def holds_running(self) -> int:
        """Holds accepted in the period that have not ended yet."""
        return self.holds_accepted - self.holds_ended_in_payment - self.holds_ended_in_petition

    def export_row(self) -> dict[str, int]:
        """The agreements' export row (AGREEMENT_CSV_COLUMNS, each a figure of the same name);
        `year` is the period's year."""
        return {"year": self.period.year} | {
            name: getattr(self, name) for name in AGREEMENT_CSV_COLUMNS[1:]
        }


_STEP_FIELDS = {
    "petition": "petitions",
    "hearing": "hearings",
    "eviction_scheduled": "evictions_scheduled",
    "executed": "executed_evictions",
    "withdrawn": "withdrawn",
    "cancelled": "cancelled",
}


def _zone(session: Session) -> ZoneInfo:
    """The organisation's time zone (timestamps are UTC; periods are local)."""
    return zone_of(session, None, DEFAULT_ZONE)


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day of a UTC timestamp in the organisation's zone."""
    return moment.astimezone(zone).date()


def _steps_query(*columns) -> Select:
    """Legal steps with their case, tenancy and landlord joined (for filters and households)."""
    return (
        select(*columns)
        .select_from(LegalStep)
        .join(Case, LegalStep.case_id == Case.id)
        .join(Tenancy, Case.tenancy_id == Tenancy.id)
        .join(Landlord, Tenancy.landlord_id == Landlord.id)
    )


class _Buckets:
    """The figures of each period, found by a day (None outside the years asked for)."""

    def __init__(self, filters: OutcomeFilters, kind: type = PeriodFigures) -> None:
        self.kind = filters.period
        self.figures = {period: kind(period) for period in filters.periods()}

    def __call__(self, day: date):
        return self.figures.get(Period.containing(day, self.kind))

    def count_households(self, name: str, households: dict[Period, set[int]]) -> None:
        """Set a figure to the number of distinct households found in each period."""
        for period, target in self.figures.items():
            setattr(target, name, len(households.get(period, ())))


def outcome_figures(
    session: Session,
    year_from: int,
    year_to: int,
    *,
    period: str = "year",
    landlord_kind: str | None = None,
    team_id: int | None = None,
    today: date | None = None,
) -> list[PeriodFigures]:
    """The outcome figures for every period of the years, oldest first.

    `today` (default: today in the organisation's zone) bounds the contact rate: a hearing
    still ahead cannot be judged yet. Raises ReportError (naming `from`, `to`, `period` or
    `landlord_kind`) for a bad request.
    """
    filters = OutcomeFilters(year_from, year_to, period, landlord_kind, team_id)
    zone = _zone(session)
    today = today or _local_day(utcnow(), zone)
    buckets = _Buckets(filters)
    in_years = LegalStep.date.between(filters.start, filters.end)
    _count_steps(session, filters, in_years, buckets)
    _count_evictions(session, filters, in_years, buckets, zone)
    _count_repeat_petitions(session, filters, in_years, buckets)
    _count_contacts(session, filters, in_years, buckets, zone, today)
    _count_resolved(session, filters, buckets, zone)
    return list(buckets.figures.values())


def _count_steps(session: Session, filters: OutcomeFilters, in_years, buckets: _Buckets) -> None:
    """Petitions, hearings, scheduled and executed evictions, withdrawals: one grouped query."""
    year = extract("year", LegalStep.date)
    month = extract("month", LegalStep.date)
    query = filters.scope(
        _steps_query(LegalStep.kind, year, month, func.count(LegalStep.id))
        .where(in_years)
        .group_by(LegalStep.kind, year, month)
    )
    for kind, step_year, step_month, number in session.execute(query):
        # PostgreSQL's EXTRACT gives a numeric, SQLite's an integer.
        target = buckets(date(int(step_year), int(step_month), 1))
        name = _STEP_FIELDS.get(kind)
        if target is not None and name is not None:
            setattr(target, name, getattr(target, name) + number)


def _count_evictions(
    session: Session, filters: OutcomeFilters, in_years, buckets: _Buckets, zone: ZoneInfo
) -> None:
    """Causes, children and rehousing of the executed evictions (two queries)."""
    executed = filters.scope(
        _steps_query(
            LegalStep.date, Case.cause, Tenancy.id, Tenancy.household_id, Household.children
        )
        .join(Household, Tenancy.household_id == Household.id)
        .where(LegalStep.kind == "executed", in_years)
    )
    rows = session.execute(executed).all()
    if not rows:
        return
    # Every tenancy of the evicted households, with the first day the register saw it.
    evicted_households = filters.scope(
        _steps_query(Tenancy.household_id).where(LegalStep.kind == "executed", in_years)
    )
    first_step = (
        select(func.min(LegalStep.date))
        .join(Case, LegalStep.case_id == Case.id)
        .where(Case.tenancy_id == Tenancy.id)
        .scalar_subquery()
    )
    first_list = (
        select(func.min(ArrearsRecord.as_of))
        .where(ArrearsRecord.tenancy_id == Tenancy.id)
        .scalar_subquery()
    )
    tenancies: dict[int, list[tuple[int, date]]] = defaultdict(list)
    for tenancy_id, household_id, created_at, step_day, list_day in session.execute(
        select(Tenancy.id, Tenancy.household_id, Tenancy.created_at, first_step, first_list).where(
            Tenancy.household_id.in_(evicted_households)
        )
    ):
        seen = [_local_day(created_at, zone)] + [d for d in (step_day, list_day) if d]
        tenancies[household_id].append((tenancy_id, min(seen)))

    # Households, not steps: a household evicted twice in a period counts once.
    with_children: dict[Period, set[int]] = defaultdict(set)
    rehoused: dict[Period, set[int]] = defaultdict(set)
    for day, cause, tenancy_id, household_id, children in rows:
        target = buckets(day)
        if target is None:
            continue
        key = cause if cause in target.evictions_by_cause else "other"
        target.evictions_by_cause[key] += 1
        if children:
            with_children[target.period].add(household_id)
        # Rehoused: another tenancy of the household that first appears on or after the
        # eviction day (on an arrears list, in a legal step, or registered).
        if any(t != tenancy_id and first >= day for t, first in tenancies[household_id]):
            rehoused[target.period].add(household_id)
    buckets.count_households("evicted_with_children", with_children)
    buckets.count_households("rehoused", rehoused)


def _count_repeat_petitions(
    session: Session, filters: OutcomeFilters, in_years, buckets: _Buckets
) -> None:
    """Households petitioned in a period that had an earlier petition within 24 months."""
    petitioned = filters.scope(
        _steps_query(Tenancy.household_id).where(LegalStep.kind == "petition", in_years)
    )
    window_start = _add_months(filters.start, -REPEAT_WINDOW_MONTHS)
    # Earlier petitions count whoever the landlord or team was: a household evicted by a
    # private landlord and petitioned again in municipal housing is the revolving door.
    query = _steps_query(Tenancy.household_id, LegalStep.date, Landlord.kind, Case.team_id).where(
        LegalStep.kind == "petition",
        LegalStep.date.between(window_start, filters.end),
        Tenancy.household_id.in_(petitioned),
    )
    by_household: dict[int, list[tuple[date, bool]]] = defaultdict(list)
    for household_id, day, landlord_kind, team_id in session.execute(query):
        counted = (
            filters.start <= day <= filters.end
            and filters.landlord_kind in (None, landlord_kind)
            and filters.team_id in (None, team_id)
        )
        by_household[household_id].append((day, counted))
    repeats: dict[Period, set[int]] = defaultdict(set)
    for household_id, petitions in by_household.items():
        days = [day for day, _ in petitions]
        for day, counted in petitions:
            if not counted:
                continue
            since = _add_months(day, -REPEAT_WINDOW_MONTHS)
            target = buckets(day)
            if target is not None and any(since <= earlier < day for earlier in days):
                repeats[target.period].add(household_id)
    buckets.count_households("repeat_petitions", repeats)


def _count_contacts(
    session: Session,
    filters: OutcomeFilters,
    in_years,
    buckets: _Buckets,
    zone: ZoneInfo,
    today: date,
) -> None:
    """Cases with a hearing in each period (up to today) and those met before it (two queries)."""
    held = (LegalStep.kind == "hearing", in_years, LegalStep.date <= today)
    hearings = filters.scope(_steps_query(LegalStep.case_id, LegalStep.date).where(*held))
    # The first hearing of each case in each period is the one contact had to come before.
    first_hearing: dict[tuple[Period, int], date] = {}
    for case_id, day in session.execute(hearings):
        target = buckets(day)
        if target is None:
            continue
        key = (target.period, case_id)
        if key not in first_hearing or day < first_hearing[key]:
            first_hearing[key] = day
    if not first_hearing:
        return
    case_ids = filters.scope(_steps_query(LegalStep.case_id).where(*held))
    first_met = {
        case_id: _local_day(moment, zone)
        for case_id, moment in session.execute(
            select(Visit.case_id, func.min(Visit.occurred_at))
            .where(Visit.result == "met", Visit.case_id.in_(case_ids))
            .group_by(Visit.case_id)
        )
    }
    for (period, case_id), hearing_day in first_hearing.items():
        target = buckets.figures[period]
        target.cases_with_hearing += 1
        met = first_met.get(case_id)
        if met is not None and met < hearing_day:
            target.reached_before_hearing += 1


def _count_resolved(
    session: Session, filters: OutcomeFilters, buckets: _Buckets, zone: ZoneInfo
) -> None:
    """Cases closed in each period with an outcome other than evicted (one query)."""
    since, until = _utc_bounds(filters)
    query = filters.scope(
        select(Case.closed_at, Case.outcome)
        .join(Tenancy, Case.tenancy_id == Tenancy.id)
        .join(Landlord, Tenancy.landlord_id == Landlord.id)
        .where(
            Case.status == "closed",
            Case.outcome.is_not(None),
            Case.outcome != "evicted",
            Case.closed_at >= since,
            Case.closed_at < until,
        )
    )
    for closed_at, outcome in session.execute(query):
        target = buckets(_local_day(closed_at, zone))
        if target is None:
            continue
        target.resolved_without_eviction += 1
        target.resolved_by_outcome[outcome] = target.resolved_by_outcome.get(outcome, 0) + 1


def _case_scope(filters: OutcomeFilters, query: Select, case_id) -> Select:
    """Join a record's case, tenancy and landlord, and narrow it to the filters."""
    return filters.scope(
        query.join(Case, case_id == Case.id)
        .join(Tenancy, Case.tenancy_id == Tenancy.id)
        .join(Landlord, Tenancy.landlord_id == Landlord.id)
    )


def _utc_bounds(filters: OutcomeFilters) -> tuple[datetime, datetime]:
    """A day's margin either side of the years: timestamps are UTC, periods are local."""
    since = datetime.combine(filters.start - timedelta(days=1), time(), tzinfo=UTC)
    until = datetime.combine(filters.end + timedelta(days=2), time(), tzinfo=UTC)
    return since, until


def agreement_figures(
    session: Session,
    year_from: int,
    year_to: int,
    *,
    period: str = "year",
    landlord_kind: str | None = None,
    team_id: int | None = None,
    within_team_id: int | None = None,
) -> list[AgreementFigures]:
    """Holds accepted and how they ended, plans kept and broken, deductions set up, for every
    period of the years, oldest first (three queries).

    within_team_id (the lead's own team; None: every team) keeps them to that team's cases
    on top of the team filter: a filter for another team then finds nothing. Raises
    ReportError for a bad request, as outcome_figures does.
    """
    filters = OutcomeFilters(year_from, year_to, period, landlord_kind, team_id)
    zone = _zone(session)
    buckets = _Buckets(filters, AgreementFigures)

    def scoped(query: Select, case_id) -> Select:
        query = _case_scope(filters, query, case_id)
        return query if within_team_id is None else query.where(Case.team_id == within_team_id)

    since, until = _utc_bounds(filters)
    holds = scoped(
        select(HoldRequest.answered_at, HoldRequest.ended_with).select_from(HoldRequest),
        HoldRequest.case_id,
    ).where(
        HoldRequest.state == "accepted",
        HoldRequest.answered_at >= since,
        HoldRequest.answered_at < until,
    )
    for answered_at, ended_with in session.execute(holds):
        target = buckets(_local_day(answered_at, zone))
        if target is None:
            continue
        target.holds_accepted += 1
        if ended_with == "payment":
            target.holds_ended_in_payment += 1
        elif ended_with == "petition":
            target.holds_ended_in_petition += 1
    plans = scoped(
        select(PaymentPlan.checked_on, PaymentPlan.state).select_from(PaymentPlan),
        PaymentPlan.case_id,
    ).where(
        PaymentPlan.state.in_(("kept", "broken")),
        PaymentPlan.checked_on.between(filters.start, filters.end),
    )
    for checked_on, state in session.execute(plans):
        target = buckets(checked_on)
        if target is not None:
            name = "plans_kept" if state == "kept" else "plans_broken"
            setattr(target, name, getattr(target, name) + 1)
    # A deduction that has ended since still was set up; a refused one never was.
    deductions = scoped(
        select(BenefitDeduction.confirmed_at).select_from(BenefitDeduction),
        BenefitDeduction.case_id,
    ).where(
        BenefitDeduction.state.in_(("confirmed", "ended")),
        BenefitDeduction.confirmed_at >= since,
        BenefitDeduction.confirmed_at < until,
    )
    for (confirmed_at,) in session.execute(deductions):
        target = buckets(_local_day(confirmed_at, zone))
        if target is not None:
            target.deductions_set_up += 1
    return list(buckets.figures.values())


# ---------------------------------------------------------------------------
# Drammen's cadence: petitions and executed evictions per landlord per list
# ---------------------------------------------------------------------------


@dataclass
class ListFigures:
    """One arrears list of a landlord: the days it covers and the steps dated in them."""

    list_date: date
    last_day: date
    petitions: int = 0
    executed_evictions: int = 0


@dataclass
class LandlordLists:
    """A landlord's lists in a team's register, oldest first."""

    landlord_id: int
    landlord: str
    landlord_kind: str
    team_id: int | None
    team: str
    lists: list[ListFigures] = field(default_factory=list)

    @property
    def petitions(self) -> int:
        return sum(item.petitions for item in self.lists)

    @property
    def executed_evictions(self) -> int:
        return sum(item.executed_evictions for item in self.lists)


def list_cadence(
    session: Session,
    year_from: int,
    year_to: int,
    *,
    landlord_kind: str | None = None,
    team_id: int | None = None,
    within_team_id: int | None = None,
) -> list[LandlordLists]:
    """Petitions and executed evictions per landlord per arrears list (two queries).

    A list is a landlord's arrears import into a team's register, dated by its as-of date
    (the day it was imported when the file had none); imports of the same landlord and team
    on the same date are one list. A list covers LIST_DAYS days from its date, cut short the
    day before that landlord's next list in the team, so a step counts in one list at most.
    A step counts in a list when it is a petition or an executed eviction on a tenancy of the
    list's landlord, in a case of the list's team, dated in the days the list covers. Lists
    dated in the years asked for are shown; within_team_id (the lead's own team; None: every
    team) keeps them to that team's lists. Raises ReportError for bad years or kind.
    """
    filters = OutcomeFilters(year_from, year_to, "year", landlord_kind, team_id)
    zone = _zone(session)
    batches = (
        select(
            ImportBatch.landlord_id,
            ImportBatch.team_id,
            ImportBatch.as_of,
            ImportBatch.created_at,
            Landlord.name,
            Landlord.kind,
            Team.name,
        )
        .join(Landlord, ImportBatch.landlord_id == Landlord.id)
        .outerjoin(Team, ImportBatch.team_id == Team.id)
        .where(ImportBatch.kind == "arrears")
    )
    if landlord_kind is not None:
        batches = batches.where(Landlord.kind == landlord_kind)
    for team in (team_id, within_team_id):
        if team is not None:
            batches = batches.where(ImportBatch.team_id == team)
    # The list that follows the last one in the years cuts it short, so read a little past.
    since, until = _utc_bounds(filters)
    reach = filters.end + timedelta(days=LIST_DAYS)
    batches = batches.where(
        ((ImportBatch.as_of >= filters.start) & (ImportBatch.as_of <= reach))
        | (
            ImportBatch.as_of.is_(None)
            & (ImportBatch.created_at >= since)
            & (ImportBatch.created_at < until + timedelta(days=LIST_DAYS))
        )
    )
    dates: dict[tuple[int, int | None], set[date]] = defaultdict(set)
    owners: dict[tuple[int, int | None], LandlordLists] = {}
    for landlord_id, batch_team, as_of, created_at, name, kind, team_name in session.execute(
        batches
    ):
        key = (landlord_id, batch_team)
        dates[key].add(as_of or _local_day(created_at, zone))
        owners.setdefault(key, LandlordLists(landlord_id, name, kind, batch_team, team_name or ""))
    if not owners:
        return []
    windows: dict[tuple[int, int | None], list[ListFigures]] = {}
    for key, days in dates.items():
        ordered = sorted(days)
        items = []
        for day, following in zip(ordered, [*ordered[1:], None], strict=True):
            last = day + timedelta(days=LIST_DAYS - 1)
            if following is not None:
                last = min(last, following - timedelta(days=1))
            if filters.start <= day <= filters.end:
                items.append(ListFigures(day, last))
        if items:
            windows[key] = items
    landlord_ids = {landlord for landlord, _ in windows}
    steps = _steps_query(Tenancy.landlord_id, Case.team_id, LegalStep.kind, LegalStep.date).where(
        LegalStep.kind.in_(("petition", "executed")),
        LegalStep.date.between(filters.start, reach),
        Tenancy.landlord_id.in_(landlord_ids),
    )
    for landlord_id, case_team, kind, day in session.execute(steps):
        for item in windows.get((landlord_id, case_team), ()):
            if item.list_date <= day <= item.last_day:
                if kind == "petition":
                    item.petitions += 1
                else:
                    item.executed_evictions += 1
                break
    result = []
    for key, items in windows.items():
        owner = owners[key]
        owner.lists = items
        result.append(owner)
    result.sort(key=lambda o: (o.landlord.casefold(), o.team.casefold(), o.landlord_id))
    return result


def report_teams(session: Session) -> list[Team]:
    """The teams a report can be narrowed to, by name."""
    return list(session.scalars(select(Team).order_by(Team.name)))


# ---------------------------------------------------------------------------
# The yearly export
# ---------------------------------------------------------------------------


def outcome_rows(
    session: Session,
    year_from: int,
    year_to: int,
    *,
    landlord_kind: str | None = None,
    team_id: int | None = None,
) -> list[dict[str, int]]:
    """One row per year with exactly CSV_COLUMNS (withdrawn = withdrawn + cancelled)."""
    figures = outcome_figures(
        session, year_from, year_to, landlord_kind=landlord_kind, team_id=team_id
    )
    return [item.export_row() for item in figures]


def outcomes_csv(rows: Iterable[dict[str, int]]) -> str:
    """The rows as CSV text: a header line, then one line per year (\\r\\n line ends)."""
    return _csv(CSV_COLUMNS, rows)


def agreement_rows(
    session: Session, year_from: int, year_to: int, **filters: str | int | None
) -> list[dict[str, int]]:
    """One row per year with exactly AGREEMENT_CSV_COLUMNS (filters: landlord_kind, team_id,
    within_team_id)."""
    figures = agreement_figures(session, year_from, year_to, **filters)  # type: ignore[arg-type]
    return [item.export_row() for item in figures]


def agreements_csv(rows: Iterable[dict[str, int]]) -> str:
    """The agreements' rows as CSV text: a header line, then one line per year."""
    return _csv(AGREEMENT_CSV_COLUMNS, rows)


def list_rows(lists: Iterable[LandlordLists]) -> list[dict[str, object]]:
    """One row per landlord's list with exactly LIST_CSV_COLUMNS (dates as YYYY-MM-DD)."""
    return [
        {
            # Names are typed by people (a private landlord's, a team's): never a formula.
            "landlord": _spreadsheet_safe(owner.landlord),
            "landlord_kind": owner.landlord_kind,
            "team": _spreadsheet_safe(owner.team),
            "list_date": item.list_date.isoformat(),
            "last_day": item.last_day.isoformat(),
            "petitions": item.petitions,
            "executed_evictions": item.executed_evictions,
        }
        for owner in lists
        for item in owner.lists
    ]


def lists_csv(rows: Iterable[dict[str, object]]) -> str:
    """The lists' rows as CSV text: a header line, then one line per list."""
    return _csv(LIST_CSV_COLUMNS, rows)


def _csv(columns: Sequence[str], rows: Iterable[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def outcomes_json(rows: Sequence[dict[str, int]]) -> str:
    """The rows as a JSON list of objects with the CSV's keys."""
    return json.dumps([{key: row[key] for key in CSV_COLUMNS} for row in rows], indent=2)


def outcomes_xlsx(rows: Iterable[dict[str, int]]) -> bytes:
    """The rows as an Excel workbook with one sheet, "Outcomes", header in the first row."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Outcomes"
    sheet.append(list(CSV_COLUMNS))
    for row in rows:
        sheet.append([row[key] for key in CSV_COLUMNS])
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# Cost avoided
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CostAssumptions:
    """What the estimate of cost avoided rests on, as the organisation set it."""

    shelter_cost_per_month: int = DEFAULT_SHELTER_COST_PER_MONTH  # minor units (øre)
    shelter_months: float = DEFAULT_SHELTER_MONTHS
    baseline_evictions_per_year: int | None = None
    currency: str = "DKK"
    organisation_id: int | None = None


@dataclass
class CostLine:
    """One period of the estimate."""

    period: Period
    executed_evictions: int
    baseline: float | None  # evictions expected in the period without prevention
    evictions_avoided: float | None  # baseline minus executed; negative means more evictions
    cost_avoided: int | None  # minor units
    shelter_cost_of_evictions: int  # what the period's actual evictions may cost in shelter


@dataclass
class CostEstimate:
    """The estimate of cost avoided, period by period and in total."""

    assumptions: CostAssumptions
    lines: list[CostLine]

    @property
    def cost_per_eviction(self) -> int:
        """Shelter cost of one eviction: months in a shelter times the cost of a month."""
        a = self.assumptions
        return round(a.shelter_cost_per_month * a.shelter_months)

    @property
    def evictions_avoided(self) -> float | None:
        values = [line.evictions_avoided for line in self.lines]
        return None if any(v is None for v in values) else sum(values)  # type: ignore[misc]

    @property
    def cost_avoided(self) -> int | None:
        values = [line.cost_avoided for line in self.lines]
        return None if any(v is None for v in values) else sum(values)  # type: ignore[misc]

    @property
    def shelter_cost_of_evictions(self) -> int:
        return sum(line.shelter_cost_of_evictions for line in self.lines)


def cost_avoided(figures: Sequence[PeriodFigures], assumptions: CostAssumptions) -> CostEstimate:
    """Estimate the shelter cost avoided: (baseline − executed evictions) × months × cost.

    The yearly baseline is spread evenly over quarters and months. Without a baseline only
    the shelter cost of the evictions that did happen is given.
    """
    per_eviction = assumptions.shelter_cost_per_month * assumptions.shelter_months
    lines = []
    for item in figures:
        baseline = avoided = cost = None
        if assumptions.baseline_evictions_per_year is not None:
            baseline = assumptions.baseline_evictions_per_year * item.period.months / 12
            avoided = baseline - item.executed_evictions
            cost = round(avoided * per_eviction)
        lines.append(
            CostLine(
                period=item.period,
                executed_evictions=item.executed_evictions,
                baseline=baseline,
                evictions_avoided=avoided,
                cost_avoided=cost,
                shelter_cost_of_evictions=round(item.executed_evictions * per_eviction),
            )
        )
    return CostEstimate(assumptions, lines)


def _organisation(session: Session, team_id: int | None) -> Organisation | None:
    """The team's organisation, else the first one (a register holds one municipality)."""
    return organisation_of(session, team_id)


def cost_assumptions(session: Session, team_id: int | None = None) -> CostAssumptions:
    """The organisation's assumptions (the defaults when there is no organisation yet)."""
    organisation = _organisation(session, team_id)
    if organisation is None:
        return CostAssumptions()
    return CostAssumptions(
        shelter_cost_per_month=organisation.shelter_cost_per_month,
        shelter_months=organisation.shelter_months,
        baseline_evictions_per_year=organisation.baseline_evictions_per_year,
        currency=organisation.currency,
        organisation_id=organisation.id,
    )


# Bounds that catch typing slips (an extra zero, øre for kroner) without judging a budget.
MAX_SHELTER_COST_PER_MONTH = 100_000_000  # 1,000,000 kroner a month, in øre
MAX_SHELTER_MONTHS = 120.0
MAX_BASELINE = 100_000


def update_cost_assumptions(
    session: Session,
    team_id: int | None,
    *,
    shelter_cost_per_month: int,
    shelter_months: float,
    baseline_evictions_per_year: int | None,
) -> CostAssumptions:
    """Store the organisation's assumptions (flushes); ReportError names a bad field."""
    if not 0 <= shelter_cost_per_month <= MAX_SHELTER_COST_PER_MONTH:
        raise ReportError(
            "shelter_cost_per_month",
            f"must be between 0 and {MAX_SHELTER_COST_PER_MONTH // 100:,} a month",
        )
    if not 0 <= shelter_months <= MAX_SHELTER_MONTHS:
        raise ReportError("shelter_months", f"must be between 0 and {MAX_SHELTER_MONTHS:g}")
    if baseline_evictions_per_year is not None and not (
        0 <= baseline_evictions_per_year <= MAX_BASELINE
    ):
        raise ReportError("baseline_evictions_per_year", f"must be between 0 and {MAX_BASELINE:,}")
    organisation = _organisation(session, team_id)
    if organisation is None:
        raise ReportError("organisation", "there is no organisation to set assumptions for")
    organisation.shelter_cost_per_month = shelter_cost_per_month
    organisation.shelter_months = shelter_months
    organisation.baseline_evictions_per_year = baseline_evictions_per_year
    session.flush()
    return cost_assumptions(session, team_id)


def current_year() -> int:
    """This year in UTC (the reports' default last year)."""
    return utcnow().year
