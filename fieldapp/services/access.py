"""Who may read and who may change a case: one place, used by every view and by sync.

- A lead: the cases of their team (a lead without a team: all).
- A worker changes the cases assigned to them and the cases on their own route; they read,
  without changing, the open cases of their team (to cover a visit, the lead reassigns).
- Nothing recorded in the field is lost to a reassignment: a record made while the case was
  the worker's is still accepted when it arrives after the case was given to someone else.
- Administrators and the data protection officer read no case here (administrators break the
  glass on the case page).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import exists, false, func, select
from sqlalchemy.orm import Session

from ..models import (
    OPEN_STATUSES,
    Case,
    CaseEvent,
    Consent,
    Partner,
    Route,
    RouteStop,
    Tenancy,
    User,
)
from ..models.types import utcnow
from .worklist import offline_days

# How long after it was made an outbox record still counts under the rules of that moment
# (the case was the worker's, or on their route). A phone offline longer than this sends
# records that are judged by today's assignment; they are refused and stay on the phone.
OUTBOX_GRACE = timedelta(days=30)
# A phone's clock may run this much fast (sync accepts times up to 5 minutes ahead).
CLOCK_SLACK = timedelta(minutes=5)


def _leads(user: User, case: Case) -> bool:
    return user.role == "lead" and (user.team_id is None or case.team_id in (None, user.team_id))


def on_own_route(
    session: Session, worker: User, case: Case, days: tuple[date, ...], states: tuple[str, ...]
) -> bool:
    """Whether the case is a stop on one of the worker's routes of those days and states."""
    return bool(
        session.scalar(
            select(
                exists()
                .where(RouteStop.case_id == case.id, RouteStop.route_id == Route.id)
                .where(
                    Route.worker_id == worker.id,
                    Route.state.in_(states),
                    Route.day.in_(days),
                )
            )
        )
    )


def _was_theirs_when(session: Session, worker: User, case: Case, recorded_at: datetime) -> bool:
    """Whether the case was this worker's when the record was made: the first reassignment
    after that moment took it from them (CLOCK_SLACK earlier, for a phone whose clock is fast).
    Only the first: a record dated before someone else's time on the case does not count."""
    first_move = session.scalar(
        select(CaseEvent)
        .where(
            CaseEvent.case_id == case.id,
            CaseEvent.kind == "assigned",
            CaseEvent.at >= recorded_at - CLOCK_SLACK,
        )
        .order_by(CaseEvent.at, CaseEvent.id)
        .limit(1)
    )
    return first_move is not None and (first_move.detail or {}).get("from") == worker.id


def may_change(
    session: Session, user: User, case: Case, recorded_at: datetime | None = None
) -> bool:
    """Whether this person may record on the case or change it.

    Now (recorded_at None: the card, the case page): a lead of the team; the worker it is
    assigned to; a worker with the case on their published route for today or tomorrow.
    A record from the phone's outbox (recorded_at: when it was made) is also accepted when the
    case was on the worker's route that day, or was theirs then and has been reassigned since
    — for records made within OUTBOX_GRACE, so a made-up old time opens nothing older.
    """
    if _leads(user, case):
        return True
    if user.role != "worker":
        return False
    if case.assigned_worker_id == user.id:
        return True
    if recorded_at is not None and recorded_at >= utcnow() - OUTBOX_GRACE:
        if _was_theirs_when(session, user, case, recorded_at):
            return True  # checked before the team: the worker may have moved team since
        day = recorded_at.date()
        around = (day - timedelta(days=1), day, day + timedelta(days=1))
        if _same_team(user, case) and on_own_route(
            session, user, case, around, ("published", "replaced")
        ):
            return True
    if not _same_team(user, case):
        return False
    days = offline_days(session, user)
    return on_own_route(session, user, case, (days.today, days.tomorrow), ("published",))


def _same_team(user: User, case: Case) -> bool:
    return user.team_id is not None and case.team_id in (None, user.team_id)


def may_read(session: Session, user: User, case: Case) -> bool:
    """Whether this person may read the case: whoever may change it, and a worker any open
    case of their team."""
    if user.role == "worker" and user.team_id is not None and case.team_id == user.team_id:
        if case.status in OPEN_STATUSES:
            return True
    return may_change(session, user, case)


# Partners and landlords: people of an outside organisation, bound to it (User.partner_id,
# User.landlord_id) and to the municipality's team they work with (User.team_id). What they
# may see follows from the tenant's *current* consent, read each time: a consent withdrawn
# at the door ends a partner's access with the next request.


def current_scopes(session: Session, case_ids) -> dict[int, set[str]]:
    """Each case's partner kinds covered by the tenant's latest consent (a case whose latest
    consent is declined or withdrawn, or who never consented: absent). case_ids: ids or a
    select of ids."""
    ranked = (
        select(
            Consent.case_id,
            Consent.state,
            Consent.scopes,
            func.row_number()
            .over(
                partition_by=Consent.case_id,
                order_by=(Consent.recorded_at.desc(), Consent.id.desc()),
            )
            .label("rank"),
        )
        .where(Consent.case_id.in_(case_ids))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.case_id, ranked.c.scopes).where(
            ranked.c.rank == 1, ranked.c.state == "given"
        )
    )
    return {case_id: set(scopes or ()) for case_id, scopes in rows}


def _outside_team_cases(user: User):
    """The ids of the cases of the person's team (none without a team)."""
    return select(Case.id).where(Case.team_id == user.team_id, Case.team_id.is_not(None))


def partner_kind(session: Session, user: User) -> str | None:
    """The kind of the partner organisation a partner person works for (None: not bound)."""
    if user.role != "partner" or user.partner_id is None:
        return None
    kind = session.scalar(select(Partner.kind).where(Partner.id == user.partner_id))
    # A landlord at the meeting's table is a partner of kind "landlord", but the consent's
    # "landlord" means the tenant's own landlord: a landlord's people log in as role landlord,
    # which sees their own tenants only (landlord_cases_query), never as a partner.
    return None if kind == "landlord" else kind


def partner_case_ids(session: Session, user: User, *, open_only: bool = True) -> list[int]:
    """The cases a partner person may see: of their team, open (open_only), and with the
    tenant's current consent covering their partner's kind. Empty for anyone else."""
    kind = partner_kind(session, user)
    if kind is None or user.team_id is None:
        return []
    cases = _outside_team_cases(user)
    if open_only:
        cases = cases.where(Case.status.in_(OPEN_STATUSES))
    scopes = current_scopes(session, cases)
    return sorted(case_id for case_id, kinds in scopes.items() if kind in kinds)


def partner_may_read(session: Session, user: User, case: Case) -> bool:
    """Whether a partner person may see this case now (their team, open, consented)."""
    if user.role != "partner" or user.team_id is None or case.team_id != user.team_id:
        return False
    if case.status not in OPEN_STATUSES:
        return False
    kind = partner_kind(session, user)
    return kind is not None and kind in current_scopes(session, [case.id]).get(case.id, set())


def landlord_cases_query(user: User):
    """The cases of the landlord person's team on the tenancies of their landlord (nothing
    for anyone else): the only cases a landlord's page starts from."""
    if user.role != "landlord" or user.landlord_id is None or user.team_id is None:
        return select(Case).where(false())
    return (
        select(Case)
        .join(Tenancy, Tenancy.id == Case.tenancy_id)
        .where(Tenancy.landlord_id == user.landlord_id, Case.team_id == user.team_id)
    )


def landlord_consented(session: Session, case_ids) -> set[int]:
    """Of these cases, those whose tenant's current consent covers the landlord: for them
    the landlord sees status flags; for the others only that the municipality has the case."""
    return {case_id for case_id, kinds in current_scopes(session, case_ids).items()
            if "landlord" in kinds}  # fmt: skip


def landlord_may_see(session: Session, user: User, case: Case) -> bool:
    """Whether the case is one of the landlord person's own (their landlord, their team)."""
    if user.role != "landlord" or user.landlord_id is None or user.team_id is None:
        return False
    if case.team_id != user.team_id:
        return False
    landlord_id = session.scalar(select(Tenancy.landlord_id).where(Tenancy.id == case.tenancy_id))
    return landlord_id == user.landlord_id
