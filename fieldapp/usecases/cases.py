"""A case's own changes from the register: legal steps, assignment, status and cause, the
household's correction. The case page, the case list and any command call these; each finds
the case within the actor's reach (services.access), changes it and writes the audit line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..domain.wording import N_, Wording
from ..models import Case, LegalStep, Tenancy, User
from ..services.access import may_change, may_read
from ..services.audit import record_event
from ..services.cases import (
    CaseError,
    StaleCase,
    add_legal_step,
    assign_cases,
    cases_for_lead,
    correct_household,
    update_case,
)
from . import Actor, NotFound, Refused, UnitOfWork

CHOOSE_THE_WORKER = N_("Choose the worker to assign the cases to.")
# A court date further off than this is a typing error (0001-01-01, 9999-12-31).
STEP_PAST, STEP_FUTURE = timedelta(days=10 * 366), timedelta(days=2 * 366)


class NotAllowed(Refused):
    """The case exists but this person may not do this to it (403)."""


class Stale(Refused):
    """The form was based on an older version of the case (409)."""


def load_case(session, case_id: int) -> Case | None:
    """The case with its tenancy, household, landlord and worker, for a page; no check."""
    return session.scalar(
        select(Case)
        .options(
            joinedload(Case.tenancy).joinedload(Tenancy.household),
            joinedload(Case.tenancy).joinedload(Tenancy.landlord),
            joinedload(Case.assigned_worker),
        )
        .where(Case.id == case_id)
    )


def case_in_scope(uow: UnitOfWork, actor: Actor, case_id: int, *, change: bool = True) -> Case:
    """The case with its tenancy, household and landlord, when the actor may change it (or,
    change=False, read it). NotFound for no such case; NotAllowed otherwise."""
    case = load_case(uow.session, case_id)
    if case is None:
        raise NotFound("No such case.")
    if actor.user is None or actor.role not in ("worker", "lead"):
        raise NotAllowed("You do not work on cases.")
    allowed = may_change(uow.session, actor.user, case)
    if not allowed and not change:
        allowed = may_read(uow.session, actor.user, case)
    if not allowed:
        raise NotAllowed("This case is not yours to change.")
    return case


@dataclass(frozen=True)
class NewLegalStep:
    kind: str
    day: date
    note: str = ""
    at_time: time | None = None  # the hour it starts, on the organisation's wall clock
    place: str = ""  # the court or bailiff office and its address


def add_step(
    uow: UnitOfWork, actor: Actor, case_id: int, step: NewLegalStep, today: date | None = None
) -> LegalStep:
    """Enter a petition, hearing or eviction date (an executed eviction closes the case as
    evicted: domain.cases.outcome_of_step). Refused: a date that cannot be meant."""
    case = case_in_scope(uow, actor, case_id)
    today = today or date.today()
    if not today - STEP_PAST <= step.day <= today + STEP_FUTURE:
        problem = N_("Date: %(value)s is too far from today to be a legal step.")
        raise Refused(Wording(problem, value=step.day.isoformat()))
    same = uow.session.scalar(
        select(LegalStep).where(
            LegalStep.case_id == case.id, LegalStep.kind == step.kind, LegalStep.date == step.day
        )
    )
    sent = (step.note.strip()[:500], step.at_time, step.place.strip())
    if same is not None and (same.note, same.at_time, same.place) == sent:
        return same  # the same step sent twice (a double click): it is there, once
    try:
        added = add_legal_step(
            uow.session, case, step.kind, step.day, actor.user, step.note,
            at_time=step.at_time, place=step.place,
        )  # fmt: skip
    except CaseError as error:
        raise Refused(error.args[0]) from None
    record_event(uow.session, actor.user, "create", "legal_step", case.id, actor.address)
    return added


def assign(uow: UnitOfWork, actor: Actor, case_ids: list[int], worker_id: int | None) -> int:
    """Give the actor's team's cases to one of its workers (None: take them back). Cases of
    another team are not found; a worker of another team is refused."""
    if actor.role != "lead" or actor.user is None:
        raise NotAllowed("Only a team lead assigns cases.")
    worker = uow.session.get(User, worker_id) if worker_id is not None else None
    if worker_id is not None and worker is None:
        raise Refused(Wording(CHOOSE_THE_WORKER))
    cases = cases_for_lead(uow.session, actor.team_id, case_ids)
    try:
        changed = assign_cases(uow.session, cases, worker, actor.user)
    except CaseError as error:
        raise Refused(error.args[0]) from None
    # The line names the cases found in the lead's reach, not the ids asked for.
    record_event(
        uow.session, actor.user, "assign", "case", ",".join(str(c.id) for c in cases)[:64],
        actor.address, f"{changed} changed",
    )  # fmt: skip
    return changed


@dataclass(frozen=True)
class CaseChange:
    version: int
    status: str | None = None
    cause: str | None = None
    outcome: str | None = None


def change_case(uow: UnitOfWork, actor: Actor, case_id: int, change: CaseChange) -> list[str]:
    """Status, cause or outcome from a form based on `version`; Stale when it changed."""
    case = case_in_scope(uow, actor, case_id)
    try:
        changed = update_case(
            uow.session, case, change.version, actor.user,
            status=change.status, cause=change.cause, outcome=change.outcome,
        )  # fmt: skip
    except StaleCase as error:
        raise Stale(error.args[0]) from None
    except CaseError as error:
        raise Refused(error.args[0]) from None
    record_event(uow.session, actor.user, "update", "case", case.id, actor.address)
    return changed


def correct(uow: UnitOfWork, actor: Actor, case_id: int, form: dict[str, str]) -> list[str]:
    """The lead corrects the household's details as the tenant asks (Art. 16); the audit line
    names the fields, never the values."""
    if actor.role != "lead":
        raise NotAllowed("Only a team lead corrects a household's details.")
    case = case_in_scope(uow, actor, case_id)
    try:
        changed = correct_household(uow.session, case.tenancy.household, form, actor.user)
    except CaseError as error:
        raise Refused(error.args[0]) from None
    if changed:
        record_event(
            uow.session, actor.user, "correct", "household", case.tenancy.household_id,
            actor.address, ", ".join(changed),
        )  # fmt: skip
    return changed


def resolve_conflict_of_team(uow: UnitOfWork, actor: Actor, conflict_id: int, accept: bool) -> int:
    """The lead takes the worker's offline edit (accept) or keeps the register's value; only
    a conflict on the lead's own team's case is found. Returns the case id."""
    from ..services.sync import open_conflicts, resolve_conflict

    if actor.role != "lead" or actor.user is None:
        raise NotAllowed("Only a team lead resolves conflicting edits.")
    conflict = next(
        (c for c in open_conflicts(uow.session, actor.team_id) if c.id == conflict_id), None
    )
    if conflict is None:
        raise NotFound("No such conflict.")
    resolve_conflict(uow.session, conflict, accept, actor.user)
    record_event(uow.session, actor.user, "resolve", "case", conflict.case_id, actor.address)
    return conflict.case_id


def place_pin(uow: UnitOfWork, actor: Actor, case_id: int, lat: float, lon: float) -> None:
    """Place the household's pin by hand (a hand-placed pin always wins); refused off the
    globe."""
    from ..services.geocoding import place_pin as set_pin

    if actor.role != "lead":
        raise NotAllowed("Only a team lead places a household on the map.")
    case = case_in_scope(uow, actor, case_id)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        problem = N_("Position: %(lat)s, %(lon)s is not a latitude and longitude.")
        raise Refused(Wording(problem, lat=repr(lat), lon=repr(lon)))
    set_pin(case.tenancy.household, lat, lon)
    record_event(
        uow.session, actor.user, "update", "household_position", case.tenancy.household_id,
        actor.address,
    )  # fmt: skip
