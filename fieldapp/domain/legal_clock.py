"""The legal clock of each country: which steps an organisation is offered, in their order,
which step starts which deadline and how many days it gives. One table; no Flask here.

Denmark: the landlord's written demand (påkrav, lejeloven § 2 and 327 ff.: the tenant has
14 days to pay) -> the landlord files with the bailiff's court (fogedretten) and notifies the
municipality (retssikkerhedsloven § 5 a: the municipality assesses at once for families with
children and vulnerable tenants) -> the meeting in the bailiff's court (fogedretsmøde) ->
the eviction (udsættelse).

Norway: the landlord's notice under husleieloven § 9-11 to NAV (at least two weeks before a
petition; the tenant may opt out) -> the petition for fravikelse (begjæring om fravikelse)
-> the enforcement officer's date (namsmannens fravikelsesdato).

A clock step's deadline runs from its date; any later step in the chain (or the matter being
dropped) replaces it, so the case's next deadline is then the later step's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

COUNTRIES = ("DK", "NO")


class Step(Protocol):
    kind: str
    date: date


@dataclass(frozen=True)
class Clock:
    """One step that starts a deadline: `deadline_kind` falls `days` after the step's date."""

    step: str
    deadline_kind: str
    days: int


@dataclass(frozen=True)
class CountryClock:
    """A country's steps: `chain` the steps shown as the clock, in order; `offered` every step
    a person may enter or a file may name (the chain and the ways it ends); `clocks` the
    steps that start a deadline; `import_names` the words an import accepts, for messages."""

    chain: tuple[str, ...]
    offered: tuple[str, ...]
    clocks: tuple[Clock, ...]
    import_names: tuple[tuple[str, str], ...]
    # A petition in a household with children makes the case one to assess at once.
    assess_at_once_on_petition: bool = False


_ENDINGS = ("executed", "withdrawn", "cancelled")

CLOCKS: dict[str, CountryClock] = {
    "DK": CountryClock(
        chain=("demand", "petition", "hearing", "eviction_scheduled"),
        offered=("demand", "petition", "hearing", "eviction_scheduled", *_ENDINGS),
        clocks=(Clock("demand", "demand_expires", 14),),
        import_names=(
            ("demand", "påkrav"),
            ("petition", "begæring"),
            ("hearing", "fogedretsmøde"),
            ("eviction_scheduled", "udsættelse berammet"),
            ("executed", "udsat"),
            ("withdrawn", "tilbagekaldt"),
            ("cancelled", "aflyst"),
        ),
        assess_at_once_on_petition=True,
    ),
    "NO": CountryClock(
        chain=("notice_9_11", "petition", "eviction_scheduled"),
        offered=("notice_9_11", "petition", "hearing", "eviction_scheduled", *_ENDINGS),
        clocks=(Clock("notice_9_11", "earliest_petition", 14),),
        import_names=(
            ("notice_9_11", "varsel § 9-11"),
            ("petition", "begjæring om fravikelse"),
            ("hearing", "rettsmøte"),
            ("eviction_scheduled", "fravikelse berammet"),
            ("executed", "fravikelse gjennomført"),
            ("withdrawn", "trukket tilbake"),
            ("cancelled", "avlyst"),
        ),
    ),
}
# Every step that starts a clock, in any country, and the deadline kinds they give.
CLOCK_STEPS = tuple(c.step for country in CLOCKS.values() for c in country.clocks)
CLOCK_DEADLINE_KINDS = tuple(c.deadline_kind for country in CLOCKS.values() for c in country.clocks)


def clock_of(country: str | None) -> CountryClock:
    """The country's clock; Denmark's when the country is unknown."""
    return CLOCKS.get(country or "", CLOCKS[COUNTRIES[0]])


def offered_steps(country: str | None) -> tuple[str, ...]:
    """The steps an organisation in that country is offered, in their order."""
    return clock_of(country).offered


@dataclass(frozen=True)
class ClockDeadline:
    """A deadline computed from a clock step: its day, its kind and the step it runs from."""

    date: date
    kind: str
    step: Step


def clock_deadlines(steps: Iterable[Step], today: date) -> list[ClockDeadline]:
    """Deadlines that clock steps start (in any country: a stored step keeps its meaning),
    still ahead, nearest first. A clock ends when any other step is dated on or after it."""
    steps = list(steps)
    rules = {c.step: c for country in CLOCKS.values() for c in country.clocks}
    found = []
    for step in steps:
        rule = rules.get(step.kind)
        if rule is None:
            continue
        if any(s.kind != step.kind and s.kind not in rules and s.date >= step.date for s in steps):
            continue  # a petition, a hearing or the matter's end replaced this clock
        if any(s.kind == step.kind and s.date > step.date for s in steps):
            continue  # a newer demand or notice runs its own clock
        due = step.date + timedelta(days=rule.days)
        if due >= today:
            found.append(ClockDeadline(due, rule.deadline_kind, step))
    return sorted(found, key=lambda d: d.date)


def assess_at_once(
    country: str | None, steps: Iterable[Step], children: int, vulnerable: bool = False
) -> date | None:
    """The date of the petition that makes the municipality assess the case at once
    (Denmark, retssikkerhedsloven § 5 a: a household with children or a vulnerable tenant),
    unless the matter ended after it; None otherwise."""
    if not clock_of(country).assess_at_once_on_petition or not (children or vulnerable):
        return None
    steps = list(steps)
    petitions = [s.date for s in steps if s.kind == "petition"]
    if not petitions:
        return None
    latest = max(petitions)
    if any(s.kind in _ENDINGS and s.date >= latest for s in steps):
        return None
    return latest


@dataclass(frozen=True)
class ClockRow:
    """One step of the clock as a page shows it: entered for `on` (past or ahead); skipped
    (none entered, though a later step was); the next one, waiting for the deadline a clock
    step started (`due_on`, `due_kind`); or one still to come."""

    kind: str
    on: date | None = None
    due_on: date | None = None
    due_kind: str | None = None
    is_next: bool = False
    skipped: bool = False

    @property
    def compact(self) -> bool:
        """Shown on a phone's card: the steps entered and the next one."""
        return self.on is not None or self.is_next


def clock_rows(
    country: str | None,
    steps: Iterable[Step],
    next_deadline: date | None = None,
    next_deadline_kind: str | None = None,
) -> list[ClockRow]:
    """The country's chain in order: each step entered with its latest date; the first after
    the last entered is the next, with the case's next deadline when a clock step started it
    (Case.next_deadline stays the one place deadlines are read). Empty when no step of the
    chain was entered."""
    clock = clock_of(country)
    latest: dict[str, date] = {}
    for step in steps:
        if step.kind in clock.chain:
            latest[step.kind] = max(step.date, latest.get(step.kind, step.date))
    if not latest:
        return []
    last = max(clock.chain.index(kind) for kind in latest)
    running = next_deadline_kind in CLOCK_DEADLINE_KINDS and next_deadline is not None
    rows = []
    for position, kind in enumerate(clock.chain):
        if position <= last:
            rows.append(ClockRow(kind, on=latest.get(kind), skipped=kind not in latest))
        elif position == last + 1:
            rows.append(
                ClockRow(
                    kind,
                    due_on=next_deadline if running else None,
                    due_kind=next_deadline_kind if running else None,
                    is_next=True,
                )
            )
        else:
            rows.append(ClockRow(kind))
    return rows
