"""The lead's register of cases: filtered lists, assignment, legal steps and a case's history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, joinedload

from ..domain.cases import bump_version, claim_version, close, outcome_of_step
from ..domain.households import RULES, HouseholdValueError, clean_value
from ..domain.legal_clock import offered_steps
from ..domain.numbers import whole_number
from ..domain.organisation import organisation_of
from ..domain.registers import address_key
from ..domain.wording import N_, Wording
from ..models import (
    CASE_CAUSES,
    CASE_OUTCOMES,
    CASE_STATUSES,
    LEGAL_STEP_KINDS,
    OPEN_STATUSES,
    ArrearsRecord,
    Case,
    CaseEvent,
    Household,
    Landlord,
    LegalStep,
    Tenancy,
    User,
)
from .case_state import case_records
from .holds import end_holds
from .tabular import SEARCH_FOLDS, normalise_address, normalise_name, search_fold
from .triage import refresh_priorities

SORTS = ("priority", "deadline", "arrears", "last_contact", "address")
PER_PAGE = 50


class CaseError(ValueError):
    """A change to a case that cannot be made; the message (a Wording, put in the reader's
    language where it is shown) says why."""

    def __init__(self, message: str | Wording, **values) -> None:
        super().__init__(message if isinstance(message, Wording) else Wording(message, **values))


class StaleCase(CaseError):
    """The case changed since the form was shown (optimistic locking)."""


@dataclass
class CaseFilters:
    """What the lead narrowed the case list to. Every field is optional."""

    status: str = "open"  # "open", "all" or one status
    worker_id: int | None = None  # 0 means "not assigned"
    landlord_id: int | None = None
    deadline_days: int | None = None
    children: bool = False
    cause: str | None = None
    query: str = ""
    sort: str = "priority"
    page: int = 1

    @classmethod
    def from_form(cls, form) -> tuple[CaseFilters, list[str]]:
        """Read filters from a request form; bad values are dropped and named in the messages."""
        problems: list[str] = []

        def number(name: str, low: int = 0, high: int = 10_000) -> int | None:
            raw = (form.get(name) or "").strip()
            if not raw:
                return None
            value = whole_number(raw, low, high)
            if value is not None:
                return value
            problems.append(f"{name}: {raw!r}")
            return None

        status = form.get("status") or "open"
        if status not in ("open", "all", *CASE_STATUSES):
            problems.append(f"status: {status!r}")
            status = "open"
        cause = form.get("cause") or None
        if cause is not None and cause not in CASE_CAUSES:
            problems.append(f"cause: {cause!r}")
            cause = None
        sort = form.get("sort") or "priority"
        if sort not in SORTS:
            problems.append(f"sort: {sort!r}")
            sort = "priority"
        filters = cls(
            status=status,
            worker_id=number("worker"),
            landlord_id=number("landlord"),
            deadline_days=number("deadline_days", 0, 3650),
            children=form.get("children") in ("1", "on", "true"),
            cause=cause,
            query=(form.get("q") or "").strip()[:100],
            sort=sort,
            page=number("page", 1) or 1,
        )
        return filters, problems

    def as_dict(self) -> dict:
        """For keeping the lead's last filters in the session."""
        return {
            "status": self.status,
            "worker": "" if self.worker_id is None else str(self.worker_id),
            "landlord": "" if self.landlord_id is None else str(self.landlord_id),
            "deadline_days": "" if self.deadline_days is None else str(self.deadline_days),
            "children": "1" if self.children else "",
            "cause": self.cause or "",
            "q": self.query,
            "sort": self.sort,
        }


@dataclass
class CasePage:
    """One page of the case list."""

    cases: list[Case]
    total: int
    page: int
    pages: int
    filters: CaseFilters
    ids_on_page: list[int] = field(default_factory=list)


def _team_scope(team_id: int | None):
    # Cases without a team (opened by an import with no team context) are every lead's.
    if team_id is None:
        return []
    return [or_(Case.team_id == team_id, Case.team_id.is_(None))]


def _filtered(filters: CaseFilters, team_id: int | None, today: date) -> Select:
    query = select(Case).join(Case.tenancy).join(Tenancy.household).where(*_team_scope(team_id))
    if filters.status == "open":
        query = query.where(Case.status.in_(OPEN_STATUSES))
    elif filters.status != "all":
        query = query.where(Case.status == filters.status)
    if filters.worker_id == 0:
        query = query.where(Case.assigned_worker_id.is_(None))
    elif filters.worker_id is not None:
        query = query.where(Case.assigned_worker_id == filters.worker_id)
    if filters.landlord_id is not None:
        query = query.where(Tenancy.landlord_id == filters.landlord_id)
    if filters.deadline_days is not None:
        query = query.where(
            Case.next_deadline.is_not(None),
            Case.next_deadline <= today + timedelta(days=filters.deadline_days),
        )
    if filters.children:
        query = query.where(Household.children > 0)
    if filters.cause:
        query = query.where(Case.cause == filters.cause)
    if filters.query:
        name = search_fold(normalise_name(filters.query))
        address = search_fold(normalise_address(filters.query))
        query = query.where(
            or_(
                _folded(Household.name_key).contains(name, autoescape=True),
                _folded(Household.address_key).contains(address, autoescape=True),
                func.lower(Tenancy.reference).contains(filters.query.lower(), autoescape=True),
            )
        )
    return query


def _folded(column):
    """The column with tabular.SEARCH_FOLDS applied in SQL (replace() on both databases)."""
    for letter, plain in SEARCH_FOLDS:
        column = func.replace(column, letter, plain)
    return column


_ORDER = {
    "priority": (Case.priority.desc(),),
    "deadline": (Case.next_deadline.is_(None), Case.next_deadline, Case.priority.desc()),
    "arrears": (Tenancy.current_arrears.desc(),),
    "last_contact": (Case.last_contact_at.is_not(None), Case.last_contact_at),
    "address": (Household.address_key,),
}


def list_cases(
    session: Session,
    team_id: int | None,
    filters: CaseFilters,
    today: date | None = None,
    per_page: int = PER_PAGE,
) -> CasePage:
    """The lead's case list: filtered, searched, sorted and paged, households loaded."""
    today = today or date.today()
    query = _filtered(filters, team_id, today)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, filters.page), pages)
    cases = session.scalars(
        query.options(
            joinedload(Case.tenancy).joinedload(Tenancy.household),
            joinedload(Case.tenancy).joinedload(Tenancy.landlord),
            joinedload(Case.assigned_worker),
        )
        .order_by(*_ORDER[filters.sort], Case.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return CasePage(list(cases), total, page, pages, filters, [c.id for c in cases])


def assignable_workers(session: Session, team_id: int | None) -> list[User]:
    """Active workers and leads of the team (a lead may take a case themselves)."""
    query = select(User).where(User.active.is_(True), User.role.in_(("worker", "lead")))
    if team_id is not None:
        query = query.where(User.team_id == team_id)
    return list(session.scalars(query.order_by(User.name, User.email)))


def cases_for_lead(session: Session, team_id: int | None, case_ids: list[int]) -> list[Case]:
    """The given cases, limited to those the lead's team may see."""
    if not case_ids:
        return []
    return list(session.scalars(select(Case).where(Case.id.in_(case_ids), *_team_scope(team_id))))


def assign_cases(session: Session, cases: list[Case], worker: User | None, by: User) -> int:
    """Give cases to a worker (or take them back); each change is kept in the case's history."""
    if worker is not None and (not worker.active or worker.role not in ("worker", "lead")):
        raise CaseError(N_("%(email)s cannot be given cases."), email=worker.email)
    if worker is not None and by.team_id is not None and worker.team_id != by.team_id:
        raise CaseError(N_("%(email)s is not in your team."), email=worker.email)
    changed = 0
    for case in cases:
        if not case.is_open:
            continue
        new_id = worker.id if worker else None
        if case.assigned_worker_id == new_id:
            continue
        session.add(
            CaseEvent(
                case_id=case.id,
                user_id=by.id,
                kind="assigned",
                detail={"from": case.assigned_worker_id, "to": new_id},
            )
        )
        case.assigned_worker_id = new_id
        if case.team_id is None and by.team_id is not None:
            case.team_id = by.team_id
        bump_version(case)
        changed += 1
    session.flush()
    return changed


def add_legal_step(
    session: Session,
    case: Case,
    kind: str,
    when: date,
    by: User,
    note: str = "",
    today: date | None = None,
    at_time: time | None = None,
    place: str = "",
) -> LegalStep:
    """Enter a petition, hearing or eviction date on a case (with the hour it starts and the
    court or office, when known); deadlines and priority follow."""
    if kind not in LEGAL_STEP_KINDS:
        raise CaseError(N_("Unknown legal step %(value)s."), value=repr(kind))
    organisation = organisation_of(session, case.team_id)
    if kind not in offered_steps(organisation.country if organisation else None):
        # A Danish påkrav on a Norwegian case (or a § 9-11 notice on a Danish one) means nothing.
        raise CaseError(N_("Step %(value)s is not used in this country."), value=repr(kind))
    limit = LegalStep.__table__.c.place.type.length
    if len(place.strip()) > limit:
        raise CaseError(N_("Court or place: at most %(limit)s characters."), limit=limit)
    exists = session.scalar(
        select(LegalStep).where(
            LegalStep.case_id == case.id, LegalStep.kind == kind, LegalStep.date == when
        )
    )
    if exists is not None:
        raise CaseError(N_("This step with this date is already on the case."))
    step = LegalStep(
        case_id=case.id,
        kind=kind,
        date=when,
        note=note.strip()[:500],
        at_time=at_time,
        place=place.strip(),
        source="manual",
        created_by_id=by.id,
    )
    session.add(step)
    session.add(
        CaseEvent(
            case_id=case.id,
            user_id=by.id,
            kind="legal_step",
            detail={"kind": kind, "date": when.isoformat()},
        )
    )
    outcome = outcome_of_step(kind)
    if outcome is not None and case.is_open:
        close_case(session, case, outcome, by)
    session.flush()
    session.expire(case, ["legal_steps"])
    refresh_priorities(session, [case.id], today)
    end_holds(session, [case.id], today)  # a petition after an accepted hold ends it
    return step


def close_case(session: Session, case: Case, outcome: str, by: User | None) -> None:
    """Close a case with its outcome (the figures count outcomes of closed cases)."""
    close(case, outcome)
    session.add(
        CaseEvent(
            case_id=case.id,
            user_id=by.id if by else None,
            kind="closed",
            detail={"outcome": outcome},
        )
    )
    end_holds(session, [case.id])  # closed as paid: an accepted hold ended in payment


def update_case(
    session: Session,
    case: Case,
    version: int,
    by: User,
    *,
    status: str | None = None,
    cause: str | None = None,
    outcome: str | None = None,
) -> list[str]:
    """Change a case's own fields from a form based on `version`; refuse a stale form."""
    stale = StaleCase(
        N_(
            "Someone changed this case while you had it open. Your change was not saved; "
            "look at the case again and repeat it."
        )
    )
    if version != case.version:
        raise stale
    # Claim the version in the database (compare-and-set), so of two forms sent at the same
    # moment only one is applied; the other is refused as stale.
    if not claim_version(session, case.id, version):
        raise stale
    changed: list[str] = []
    if cause is not None and cause != case.cause:
        if cause not in CASE_CAUSES:
            raise CaseError(N_("Unknown cause %(value)s."), value=repr(cause))
        session.add(
            CaseEvent(
                case_id=case.id,
                user_id=by.id,
                kind="cause",
                detail={"from": case.cause, "to": cause},
            )
        )
        case.cause = cause
        changed.append("cause")
    if status is not None and status != case.status:
        if status not in CASE_STATUSES:
            raise CaseError(N_("Unknown status %(value)s."), value=repr(status))
        if status == "closed":
            if outcome not in CASE_OUTCOMES:
                raise CaseError(N_("Choose the outcome when closing a case."))
            close_case(session, case, outcome, by)
            return [*changed, "status"]
        session.add(
            CaseEvent(
                case_id=case.id,
                user_id=by.id,
                kind="status",
                detail={"from": case.status, "to": status},
            )
        )
        if case.status == "closed":
            case.outcome, case.closed_at = None, None
        case.status = status
        changed.append("status")
    if changed:
        session.flush()
        refresh_priorities(session, [case.id])
    return changed


def arrears_history(session: Session, tenancy_id: int) -> list[ArrearsRecord]:
    """Every list's figure for the tenancy, oldest first (for the small chart)."""
    return list(
        session.scalars(
            select(ArrearsRecord)
            .where(ArrearsRecord.tenancy_id == tenancy_id)
            .order_by(ArrearsRecord.as_of)
        )
    )


@dataclass
class TimelineEntry:
    """One line of a case's history, whatever kind of record it came from."""

    at: object  # datetime or date
    kind: str
    detail: dict
    who: str = ""


def case_timeline(session: Session, case: Case, records=None) -> list[TimelineEntry]:
    """Everything that happened on the case, newest first: its events and every visit,
    consent, need and action recorded in the field (`records`: those rows read already, a
    services.case_state.CaseRecords, so the case page reads them once)."""
    if records is None:
        records = case_records(session, case.id)
    events = session.scalars(
        select(CaseEvent).options(joinedload(CaseEvent.user)).where(CaseEvent.case_id == case.id)
    ).all()
    entries = [
        TimelineEntry(e.at, e.kind, dict(e.detail or {}), e.user.name if e.user else "")
        for e in events
    ]
    # (when, kind, detail, worker id) of the field records; names are fetched once after.
    field: list[tuple] = []
    for visit in records.visits:
        detail = {
            "channel": visit.channel,
            "result": visit.result,
            "notes": visit.notes,
            "next_step": visit.next_step,
        }
        field.append((visit.occurred_at, "visit", detail, visit.worker_id))
    for consent in records.consents:
        detail = {"state": consent.state, "scopes": list(consent.scopes), "method": consent.method}
        field.append((consent.recorded_at, "consent", detail, consent.worker_id))
    for need in records.needs:
        field.append(
            (need.recorded_at, "need", {"need": need.need, "note": need.note}, need.worker_id)
        )
    for action in records.actions:
        detail = {
            "description": action.description,
            "owner": action.owner,
            "status": action.status,
            "due_on": action.due_on,
        }
        field.append((action.recorded_at, "action", detail, action.worker_id))
    worker_ids = {worker_id for *_, worker_id in field}
    names = (
        dict(session.execute(select(User.id, User.name).where(User.id.in_(worker_ids))).all())
        if worker_ids
        else {}
    )
    entries += [
        TimelineEntry(at, kind, detail, names.get(worker_id, ""))
        for at, kind, detail, worker_id in field
    ]
    entries.sort(key=lambda e: (e.at, e.kind), reverse=True)
    return entries


def landlords(session: Session) -> list[Landlord]:
    """Every landlord, by name (for filters and the import form)."""
    return list(session.scalars(select(Landlord).order_by(Landlord.name)))


def other_cases_of_household(session: Session, case: Case) -> list[Case]:
    """Earlier or parallel cases of the same household (the revolving door)."""
    return list(
        session.scalars(
            select(Case)
            .join(Case.tenancy)
            .where(Tenancy.household_id == case.tenancy.household_id, Case.id != case.id)
            .order_by(Case.opened_at.desc())
        )
    )


# What a lead may correct on a household (right to rectification, GDPR Art. 16): every
# field of the rule table in domain.households, which the phone's edits go through too.
def _clean_correction(form: dict[str, str]) -> dict[str, object]:
    """The corrected values from the form, checked; CaseError names the field and value."""
    clean: dict[str, object] = {}
    for name in RULES:
        raw = form.get(name, "") if name != "needs_interpreter" else form.get(name)
        try:
            clean[name] = clean_value(name, raw if raw is not None else "")
        except HouseholdValueError as error:
            raise CaseError(error.args[0]) from None
    return clean


def correct_household(
    session: Session, household: Household, form: dict[str, str], by: User
) -> list[str]:
    """Correct a household's details as the tenant asks; returns the names of the fields that
    changed. Each of the household's cases gets a history line naming the fields (not the old
    values: the correction adds no copy of a wrong value), and the open ones a new version, so an
    offline edit made on the old details becomes a conflict for the lead instead of undoing
    the correction. A new address drops the map position: it is geocoded again."""
    clean = _clean_correction(form)
    changed = [name for name, value in clean.items() if getattr(household, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(household, name, clean[name])
    if "name" in changed:
        household.name_key = normalise_name(household.name)
    if {"address", "postcode", "town"} & set(changed):
        household.address_key = address_key(household.address, household.postcode)
        household.lat = household.lon = None
        household.geo_source = household.geo_accuracy = ""
    cases = session.scalars(
        select(Case)
        .join(Tenancy, Tenancy.id == Case.tenancy_id)
        .where(Tenancy.household_id == household.id)
    ).all()
    for case in cases:
        session.add(
            CaseEvent(case_id=case.id, user_id=by.id, kind="corrected", detail={"fields": changed})
        )
        if case.is_open:
            bump_version(case)
    session.flush()
    refresh_priorities(session, [case.id for case in cases if case.is_open])
    return changed
