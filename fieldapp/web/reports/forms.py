"""Reading the reports' inputs: the filters (query string or form) and the cost assumptions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask_babel import gettext as _

from ...domain.numbers import whole_number
from ...models import LANDLORD_KINDS
from ...services.reports import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_BASELINE,
    MAX_SHELTER_COST_PER_MONTH,
    MAX_SHELTER_MONTHS,
    MAX_YEARS,
    PERIODS,
    OutcomeFilters,
)

# How many years the page shows when none are asked for: this one and the four before.
DEFAULT_YEARS = 5


@dataclass
class ReportQuery:
    """The filters as read, with a message per bad parameter (the filter falls back)."""

    filters: OutcomeFilters
    errors: dict[str, str] = field(default_factory=dict)

    def as_args(self) -> dict[str, str]:
        """The filters as query parameters, for links (CSV, after saving assumptions)."""
        args = {
            "from": str(self.filters.year_from),
            "to": str(self.filters.year_to),
            "period": self.filters.period,
        }
        if self.filters.landlord_kind:
            args["landlord_kind"] = self.filters.landlord_kind
        if self.filters.team_id is not None:
            args["team"] = str(self.filters.team_id)
        return args


def _year(args: Mapping[str, str], name: str, default: int, errors: dict[str, str]) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if len(raw) != 4 or whole_number(raw, 1000, 9999) is None:
        errors[name] = _(
            "%(param)s: %(value)s is not a year; write four digits, such as 2014.",
            param=name,
            value=repr(raw),
        )
        return default
    year = int(raw)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        errors[name] = _(
            "%(param)s: %(value)s is not a year between %(low)d and %(high)d.",
            param=name,
            value=repr(raw),
            low=FIRST_YEAR,
            high=LAST_YEAR,
        )
        return default
    return year


def parse_report_query(
    args: Mapping[str, str], this_year: int, team_ids: set[int] | None = None
) -> ReportQuery:
    """Read from, to, period, landlord_kind and team; bad values are named in `errors`.

    Missing years default to the last DEFAULT_YEARS years up to this one. team_ids, when
    given, are the teams that exist (a team parameter must name one of them).
    """
    errors: dict[str, str] = {}
    year_to = _year(args, "to", this_year, errors)
    year_from = _year(args, "from", year_to - DEFAULT_YEARS + 1, errors)
    if year_from > year_to:
        if (args.get("from") or "").strip():
            errors["from"] = _(
                "from: %(first)d is after to: %(last)d; the first year must come first.",
                first=year_from,
                last=year_to,
            )
        year_from = year_to
    if year_to - year_from + 1 > MAX_YEARS:
        errors["from"] = _(
            "from: a report covers at most %(num)d years; %(first)d to %(last)d is more.",
            num=MAX_YEARS,
            first=year_from,
            last=year_to,
        )
        year_from = year_to - MAX_YEARS + 1
    period = (args.get("period") or "year").strip()
    if period not in PERIODS:
        errors["period"] = _(
            "period: %(value)s is not one of year, quarter or month.", value=repr(period)
        )
        period = "year"
    landlord_kind = (args.get("landlord_kind") or "").strip() or None
    if landlord_kind is not None and landlord_kind not in LANDLORD_KINDS:
        errors["landlord_kind"] = _(
            "landlord_kind: %(value)s is not one of municipal, housing_association or private.",
            value=repr(landlord_kind),
        )
        landlord_kind = None
    raw_team = (args.get("team") or "").strip()
    team_id = None
    if raw_team:
        number = whole_number(raw_team, 1, 2**31 - 1)
        if number is not None and (team_ids is None or number in team_ids):
            team_id = number
        else:
            errors["team"] = _("team: %(value)s is not a team.", value=repr(raw_team))
    filters = OutcomeFilters(year_from, year_to, period, landlord_kind, team_id)
    return ReportQuery(filters, errors)


@dataclass
class AssumptionsForm:
    """The cost assumptions as typed, and what they mean once read."""

    shelter_cost: str = ""
    shelter_months: str = ""
    baseline: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    shelter_cost_per_month: int = 0  # minor units
    months: float = 0.0
    baseline_evictions_per_year: int | None = None

    @property
    def valid(self) -> bool:
        return not self.errors


# Whole kroner, optionally grouped by thousands with a space, dot or comma: 45000, 45.000.
_WHOLE_AMOUNT = re.compile(r"\d{1,3}(?:[ .,\u00a0]?\d{3})*")
_DECIMAL = re.compile(r"\d{1,3}(?:[.,]\d{1,2})?")


def parse_assumptions(form: Mapping[str, str]) -> AssumptionsForm:
    """Read the three assumptions; each bad field gets a message naming it."""
    result = AssumptionsForm(
        shelter_cost=(form.get("shelter_cost_per_month") or "").strip(),
        shelter_months=(form.get("shelter_months") or "").strip(),
        baseline=(form.get("baseline_evictions_per_year") or "").strip(),
    )
    name = _("Shelter cost per month")
    if not result.shelter_cost:
        result.errors["shelter_cost_per_month"] = _("%(field)s is missing.", field=name)
    elif not _WHOLE_AMOUNT.fullmatch(result.shelter_cost):
        result.errors["shelter_cost_per_month"] = _(
            "%(field)s: %(value)s is not a whole amount, such as 45000.",
            field=name,
            value=repr(result.shelter_cost),
        )
    else:
        kroner = int(re.sub(r"\D", "", result.shelter_cost))
        if kroner * 100 > MAX_SHELTER_COST_PER_MONTH:
            result.errors["shelter_cost_per_month"] = _(
                "%(field)s: at most %(max)d a month.",
                field=name,
                max=MAX_SHELTER_COST_PER_MONTH // 100,
            )
        result.shelter_cost_per_month = kroner * 100

    name = _("Average months in a shelter")
    if not result.shelter_months:
        result.errors["shelter_months"] = _("%(field)s is missing.", field=name)
    elif not _DECIMAL.fullmatch(result.shelter_months):
        result.errors["shelter_months"] = _(
            "%(field)s: %(value)s is not a number of months, such as 6 or 4,5.",
            field=name,
            value=repr(result.shelter_months),
        )
    else:
        result.months = float(result.shelter_months.replace(",", "."))
        if result.months > MAX_SHELTER_MONTHS:
            result.errors["shelter_months"] = _(
                "%(field)s: at most %(max)d months.", field=name, max=int(MAX_SHELTER_MONTHS)
            )

    name = _("Evictions a year before prevention (baseline)")
    if result.baseline:
        baseline = whole_number(result.baseline, 0, 10**9)
        if baseline is None:
            result.errors["baseline_evictions_per_year"] = _(
                "%(field)s: %(value)s is not a whole number, such as 75.",
                field=name,
                value=repr(result.baseline[:20]),
            )
        elif baseline > MAX_BASELINE:
            result.errors["baseline_evictions_per_year"] = _(
                "%(field)s: at most %(max)d.", field=name, max=MAX_BASELINE
            )
        else:
            result.baseline_evictions_per_year = baseline
    return result
