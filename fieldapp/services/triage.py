"""Triage: a priority for every open case, with the reasons a person can read."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from ..domain.legal_clock import assess_at_once, clock_deadlines
from ..domain.organisation import organisation_of
from ..models import OPEN_STATUSES, Case, Household, LegalStep, Organisation, Team, Tenancy
from ..models.case import DEADLINE_KINDS
from .agreements import plan_reasons

# Steps after which an earlier date no longer threatens the home.
_ENDING_KINDS = ("executed", "withdrawn", "cancelled")
# The columns refresh_priorities writes.
_FIGURES = ["priority", "priority_reasons", "next_deadline", "next_deadline_kind"]


@dataclass(frozen=True)
class TriageInput:
    """Everything the priority depends on, gathered once per case."""

    days_to_deadline: int | None
    deadline_kind: str | None
    arrears_months: float | None
    children: int
    earlier_legal_history: bool
    days_without_contact: int | None  # None: never contacted
    # Denmark: the day a petition for a household with children was filed, which makes the
    # municipality assess the case at once (retssikkerhedsloven § 5 a).
    assess_at_once_since: date | None = None
    # The case's payment plan as the last arrears list found it (services.agreements):
    # {"code": "plan_broken", "value": shortfall in minor units, "due_on": …} or plan_kept.
    plan: dict | None = None


def score(facts: TriageInput) -> tuple[int, list[dict]]:
    """Priority 0–100 and its reasons, most weighty first.

    Weights follow the practice: a court or bailiff date close by outweighs everything;
    months of rent owed, children and a revolving door (earlier petitions or evictions) add;
    so does time without contact, since the method is to reach everyone in person.
    """
    points: list[tuple[int, dict]] = []
    if facts.days_to_deadline is not None:
        days = facts.days_to_deadline
        weight = 50 if days <= 7 else 40 if days <= 14 else 25 if days <= 30 else 10
        points.append(
            (weight, {"code": "deadline", "kind": facts.deadline_kind, "value": max(days, 0)})
        )
    if facts.assess_at_once_since is not None:
        points.append(
            (30, {"code": "assess_at_once", "value": facts.assess_at_once_since.isoformat()})
        )
    if facts.arrears_months:
        weight = min(20, int(facts.arrears_months * 4))
        points.append((weight, {"code": "arrears_months", "value": round(facts.arrears_months, 1)}))
    if facts.children:
        points.append((12, {"code": "children", "value": facts.children}))
    if facts.earlier_legal_history:
        points.append((8, {"code": "revolving_door", "value": 1}))
    if facts.days_without_contact is None:
        points.append((10, {"code": "never_contacted", "value": 0}))
    elif facts.days_without_contact >= 14:
        points.append(
            (
                min(10, facts.days_without_contact // 7 * 2),
                {"code": "no_contact", "value": facts.days_without_contact},
            )
        )
    if facts.plan is not None:
        # A broken plan is the landlord's reason to petition: it weighs like a month's rent
        # more; a kept plan lowers nothing (the arrears say the rest) but is shown.
        points.append((15 if facts.plan["code"] == "plan_broken" else 0, dict(facts.plan)))
    points.sort(key=lambda item: -item[0])
    return min(100, sum(weight for weight, _ in points)), [reason for _, reason in points]


def live_deadlines(steps: list[LegalStep], today: date) -> list[LegalStep]:
    """Hearings and eviction dates still ahead, nearest first, unless the matter was dropped
    (withdrawn, cancelled, executed) on or after their date."""
    ended = max((s.date for s in steps if s.kind in _ENDING_KINDS), default=None)
    return sorted(
        (
            s
            for s in steps
            if s.kind in DEADLINE_KINDS and s.date >= today and (ended is None or s.date > ended)
        ),
        key=lambda s: s.date,
    )


def next_deadline(steps: list[LegalStep], today: date) -> tuple[date | None, str | None]:
    """The nearest hearing or eviction date still ahead, unless the matter was dropped after it,
    or the nearest deadline a clock step started (the end of a påkrav's 14 days, the earliest
    petition after a § 9-11 notice; domain.legal_clock)."""
    ahead = [(s.date, s.kind) for s in live_deadlines(steps, today)]
    ahead += [(d.date, d.kind) for d in clock_deadlines(steps, today)]
    return min(ahead, key=lambda item: item[0]) if ahead else (None, None)


def _not_yet_assessed(petition_on: date | None, last_contact_at) -> date | None:
    """A petition to assess at once stays a reason until someone has been in contact with
    the household on or after its date (the assessment starts with the contact)."""
    if petition_on is None or (last_contact_at and last_contact_at.date() >= petition_on):
        return None
    return petition_on


def refresh_priorities(
    session: Session, case_ids: list[int] | None = None, today: date | None = None
) -> int:
    """Recompute deadline and priority of open cases (all, or those given); return how many.

    Reads plain columns and writes only the cases whose figures changed, in one executemany:
    after an import of 20,000 rows this is most of the work, and ORM objects cost 4x more.
    """
    today = today or date.today()
    query = (
        select(
            Case.id,
            Case.last_contact_at,
            Case.priority,
            Case.priority_reasons,
            Case.next_deadline,
            Case.next_deadline_kind,
            Tenancy.household_id,
            Tenancy.months_in_arrears,
            Household.children,
            Organisation.country,
        )
        .join(Tenancy, Case.tenancy_id == Tenancy.id)
        .join(Household, Tenancy.household_id == Household.id)
        .outerjoin(Team, Case.team_id == Team.id)
        .outerjoin(Organisation, Team.organisation_id == Organisation.id)
        .where(Case.status.in_(OPEN_STATUSES))
    )
    if case_ids is not None:
        query = query.where(Case.id.in_(case_ids))
    cases = session.execute(query).all()
    if not cases:
        return 0
    # Legal steps of these cases and of any other case of the same households, in one query.
    steps_query = (
        select(LegalStep, Tenancy.household_id)
        .join(Case, LegalStep.case_id == Case.id)
        .join(Tenancy, Case.tenancy_id == Tenancy.id)
    )
    if case_ids is not None:
        steps_query = steps_query.where(
            Tenancy.household_id.in_({row.household_id for row in cases})
        )
    steps_by_case: dict[int, list[LegalStep]] = defaultdict(list)
    history_by_household: dict[int, set[int]] = defaultdict(set)
    for step, household_id in session.execute(steps_query):
        steps_by_case[step.case_id].append(step)
        if step.kind in ("petition", "executed"):
            history_by_household[household_id].add(step.case_id)

    plans = plan_reasons(session, case_ids)
    changes = []
    fallback_country: str | None = None
    if any(row.country is None for row in cases):  # cases without a team: the first one's
        organisation = organisation_of(session)
        fallback_country = organisation.country if organisation else None
    for row in cases:
        deadline, kind = next_deadline(steps_by_case[row.id], today)
        country = row.country or fallback_country
        earlier = history_by_household[row.household_id] - {row.id}
        contact_days = None
        if row.last_contact_at is not None:
            contact_days = (today - row.last_contact_at.date()).days
        facts = TriageInput(
            days_to_deadline=(deadline - today).days if deadline else None,
            deadline_kind=kind,
            arrears_months=row.months_in_arrears,
            children=row.children,
            earlier_legal_history=bool(earlier),
            days_without_contact=contact_days,
            assess_at_once_since=_not_yet_assessed(
                assess_at_once(country, steps_by_case[row.id], row.children), row.last_contact_at
            ),
            plan=plans.get(row.id),
        )
        priority, reasons = score(facts)
        new = (priority, reasons, deadline, kind)
        if new != (row.priority, row.priority_reasons, row.next_deadline, row.next_deadline_kind):
            changes.append({"case": row.id, "p": priority, "r": reasons, "d": deadline, "k": kind})
    if changes:
        session.flush()  # pending changes of these cases go first, then the figures
        _write_figures(session, changes)
        changed = {change["case"] for change in changes}
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Case) and obj.id in changed:
                session.expire(obj, _FIGURES)
    return len(cases)


def _write_figures(session: Session, changes: list[dict]) -> None:
    """One UPDATE from arrays on PostgreSQL (an executemany of 20,000 rows is 20,000 round
    trips in a pipeline); an executemany elsewhere."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "UPDATE case_file AS c SET priority = v.p, priority_reasons = v.r::json,"
                " next_deadline = v.d, next_deadline_kind = v.k"
                " FROM unnest(CAST(:ids AS integer[]), CAST(:ps AS integer[]),"
                " CAST(:rs AS text[]), CAST(:ds AS date[]), CAST(:ks AS varchar[]))"
                " AS v(id, p, r, d, k) WHERE c.id = v.id"
            ),
            {
                "ids": [c["case"] for c in changes],
                "ps": [c["p"] for c in changes],
                "rs": [json.dumps(c["r"]) for c in changes],
                "ds": [c["d"] for c in changes],
                "ks": [c["k"] for c in changes],
            },
        )
        return
    table = Case.__table__
    session.execute(
        update(table)
        .where(table.c.id == bindparam("case"))
        .values(
            priority=bindparam("p"),
            priority_reasons=bindparam("r"),
            next_deadline=bindparam("d"),
            next_deadline_kind=bindparam("k"),
        ),
        changes,
    )
