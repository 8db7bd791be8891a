"""A register that reproduces Drammen's published table, as a legal-step file to import.

Drammen (NO), municipal housing, 2012–2014: petitions for eviction 74 → 41 → 34, executed
evictions 24 → 15 → 18. The file below gives exactly those figures, and inside them the edge
cases the reports must get right: petitions filed in one year and executed in the next,
withdrawn and cancelled petitions (one withdrawn the year after its petition), households
petitioned twice (within 24 months, exactly 24 months apart, and more than 24 months apart),
children, causes, and two landlords of different kinds.

The expected figures are written out as constants; `oracle` counts the same stories plainly
(no database), so a filtered report can be checked against it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

MUNICIPAL = "Drammen Eiendom KF"
PRIVATE = "Privat Utleie AS"
TEAM = "Drammen"
YEARS = (2012, 2013, 2014)

# The published table.
PETITIONS = {2012: 74, 2013: 41, 2014: 34}
EXECUTED = {2012: 24, 2013: 15, 2014: 18}
# What the stories below add inside it.
WITHDRAWN = {2012: 8, 2013: 7, 2014: 6}
CANCELLED = {2012: 2, 2013: 1, 2014: 1}
WITH_CHILDREN = {2012: 5, 2013: 3, 2014: 0}
REPEATS = {2012: 0, 2013: 2, 2014: 2}
CAUSES = {
    2012: {"economic": 20, "behavioural": 3, "contract_end": 1, "other": 0},
    2013: {"economic": 13, "behavioural": 2, "contract_end": 0, "other": 0},
    2014: {"economic": 16, "behavioural": 1, "contract_end": 0, "other": 1},
}
CSV_HEADER = (
    "year,petitions,executed_evictions,withdrawn,resolved_without_eviction,"
    "evicted_with_children,rehoused,repeat_petitions"
)

# The step words as a Norwegian court file writes them.
WORDS = {
    "petition": "Begjæring om fravikelse",
    "hearing": "Forliksmøte",
    "eviction_scheduled": "Fravikelse berammet",
    "executed": "Fravikelse gjennomført",
    "withdrawn": "Trukket tilbake",
    "cancelled": "Avlyst",
}
CAUSE_WORDS = {
    "economic": "Husleierestanse",
    "behavioural": "Brudd på husordensregler",
    "contract_end": "Oppsigelse",
    "other": "Annet",
}


@dataclass
class Story:
    """One tenancy's legal steps in the file."""

    ref: str
    steps: list[tuple[str, date]]
    cause: str = "economic"
    children: int = 0
    landlord: str = MUNICIPAL


@dataclass
class Register:
    stories: list[Story] = field(default_factory=list)

    def add(self, steps: list[tuple[str, date]], **kwargs) -> Story:
        prefix = "PU" if kwargs.get("landlord") == PRIVATE else "DE"
        story = Story(f"{prefix}-{len(self.stories) + 1:04d}", steps, **kwargs)
        self.stories.append(story)
        return story


def _evicted(year: int, month: int, day: int = 10) -> list[tuple[str, date]]:
    """Petition, hearing, eviction date and executed eviction, all in one year."""
    return [
        ("petition", date(year, month, day)),
        ("hearing", date(year, month + 2, day)),
        ("eviction_scheduled", date(year, month + 4, day)),
        ("executed", date(year, month + 4, day)),
    ]


def build() -> Register:
    """The stories, year by year (counts in the comments add up to the published table)."""
    register = Register()
    add = register.add
    causes_2012 = ["economic"] * 20 + ["behavioural"] * 3 + ["contract_end"]
    # 2012: 24 petitions executed the same year (5 households with children, 4 private).
    for n, cause in enumerate(causes_2012):
        landlord = PRIVATE if n % 6 == 0 else MUNICIPAL
        add(_evicted(2012, 1 + n % 6), cause=cause, children=2 if n < 5 else 0, landlord=landlord)
    # 2012 petitions executed in 2013: a step counts in the year of its own date.
    for n in range(3):
        add(
            [
                ("petition", date(2012, 11, 5 + n)),
                ("hearing", date(2012, 12, 10 + n)),
                ("executed", date(2013, 1, 15 + n)),
            ],
            children=1 if n == 0 else 0,
        )
    # 2012: 8 petitions withdrawn the same year; the first two are petitioned again in 2013
    # (within 24 months: the revolving door). One household with children is not evicted.
    for n in range(8):
        steps = [("petition", date(2012, 2 + n, 1)), ("withdrawn", date(2012, 3 + n, 1))]
        if n < 2:
            steps.append(("petition", date(2013, 5 + n, 1)))
        add(steps, children=3 if n == 7 else 0)
    # 2012: 2 cancelled.
    for n in range(2):
        add([("petition", date(2012, 4, 2 + n)), ("cancelled", date(2012, 9, 2 + n))])
    # A petition of December 2012 withdrawn in February 2013.
    add([("petition", date(2012, 12, 3)), ("withdrawn", date(2013, 2, 4))])
    # Petitioned in 2012 and again in 2014: exactly 24 months later (a repeat), and more
    # than 24 months later (not a repeat).
    add([("petition", date(2012, 3, 15)), ("petition", date(2014, 3, 15))])
    add([("petition", date(2012, 1, 10)), ("petition", date(2014, 6, 1))], landlord=PRIVATE)
    # 2012: the rest, petitions with nothing after them yet (74 − 24 − 3 − 8 − 2 − 1 − 2).
    for n in range(34):
        add(
            [("petition", date(2012, 1 + n % 12, 20))],
            landlord=PRIVATE if n % 4 == 0 else MUNICIPAL,
        )

    # 2013: 12 petitions executed the same year (2 with children, 2 behavioural, 3 private).
    for n in range(12):
        add(
            _evicted(2013, 1 + n % 6, 12),
            cause="behavioural" if n < 2 else "economic",
            children=1 if n in (5, 6) else 0,
            landlord=PRIVATE if n % 4 == 3 else MUNICIPAL,
        )
    # 2013 petitions executed in 2014.
    for n in range(2):
        add(
            [
                ("petition", date(2013, 12, 2 + n)),
                ("hearing", date(2014, 1, 20 + n)),
                ("executed", date(2014, 2, 20 + n)),
            ]
        )
    # 2013: 6 withdrawn, 1 cancelled.
    for n in range(6):
        add([("petition", date(2013, 3 + n, 8)), ("withdrawn", date(2013, 4 + n, 8))])
    add([("petition", date(2013, 6, 9)), ("cancelled", date(2013, 8, 9))])
    # 2013: the rest (41 − 2 repeats − 12 − 2 − 6 − 1).
    for n in range(18):
        add(
            [("petition", date(2013, 1 + n % 12, 22))],
            landlord=PRIVATE if n % 3 == 0 else MUNICIPAL,
        )

    # 2014: 16 petitions executed the same year (one behavioural, one other, 3 private).
    for n in range(16):
        cause = "behavioural" if n == 0 else "other" if n == 1 else "economic"
        add(
            _evicted(2014, 1 + n % 6, 14),
            cause=cause,
            landlord=PRIVATE if n % 5 == 4 else MUNICIPAL,
        )
    # A household petitioned twice in 2014, withdrawn in between: a repeat in 2014.
    add(
        [
            ("petition", date(2014, 1, 6)),
            ("withdrawn", date(2014, 2, 6)),
            ("petition", date(2014, 9, 6)),
        ]
    )
    # 2014: 5 withdrawn, 1 cancelled.
    for n in range(5):
        add([("petition", date(2014, 2 + n, 16)), ("withdrawn", date(2014, 5 + n, 16))])
    add([("petition", date(2014, 7, 17)), ("cancelled", date(2014, 10, 17))])
    # 2014: the rest (34 − 16 − 2 from 2012 households − 2 − 5 − 1).
    for n in range(8):
        add([("petition", date(2014, 1 + n, 24))], landlord=PRIVATE if n % 2 else MUNICIPAL)
    return register


def write_csv(register: Register, path: Path) -> Path:
    """The court file: Norwegian headers, ';', dd.mm.yyyy, in UTF-8 with a BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            "Utleier",
            "Leieforholdsnr",
            "Adresse",
            "Postnummer",
            "Poststed",
            "Hendelse",
            "Dato",
            "Årsak",
            "Antall barn",
        ]
    )
    for number, story in enumerate(register.stories, start=1):
        for kind, day in story.steps:
            writer.writerow(
                [
                    story.landlord,
                    story.ref,
                    f"Tollbugata {number}",
                    "3044",
                    "Drammen",
                    WORDS[kind],
                    day.strftime("%d.%m.%Y"),
                    CAUSE_WORDS[story.cause],
                    str(story.children) if story.children else "",
                ]
            )
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return path


def oracle(register: Register, kind: str, year: int, landlord: str | None = None) -> int:
    """How many steps of a kind the stories hold in a year (optionally for one landlord)."""
    return sum(
        1
        for story in register.stories
        if landlord in (None, story.landlord)
        for step, day in story.steps
        if step == kind and day.year == year
    )
