"""The rules of a case's life that every door shares: closing it, what a legal step does to
it, and the version that makes a stale edit a conflict instead of an overwrite."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import inspect, update
from sqlalchemy.orm import Session

from ..models import Case
from ..models.types import utcnow


def bump_version(case: Case) -> None:
    """Give the case a new version, computed in the UPDATE itself (a change that another
    request made meanwhile counts too): an offline edit based on the old version becomes a
    conflict for the lead. Until the next flush the attribute holds the SQL expression. A
    case not yet in the database simply counts on."""
    if inspect(case).persistent:
        case.version = Case.version + 1
    else:
        case.version = (case.version or 1) + 1


def claim_version(session: Session, case_id: int, base: int) -> bool:
    """Compare-and-set: move the case from version `base` to the next, in the database, so of
    two edits based on the same version exactly one wins, even on two app servers at the same
    moment. False: the case changed meanwhile (the caller refuses or keeps a conflict)."""
    claimed = session.execute(
        update(Case)
        .where(Case.id == case_id, Case.version == base)
        .values(version=Case.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed == 1:
        case = session.get(Case, case_id)
        if case is not None:
            session.expire(case, ["version"])
    return claimed == 1


def close(case: Case, outcome: str, now: datetime | None = None) -> None:
    """Close a case with its outcome, however it happens (a lead's form, a list that no longer
    names the tenancy, an executed eviction): no priority and no reasons stay on a closed case,
    and the version moves on."""
    case.status = "closed"
    case.outcome = outcome
    case.closed_at = now or utcnow()
    case.priority, case.priority_reasons = 0, []
    bump_version(case)


def outcome_of_step(kind: str) -> str | None:
    """The outcome a legal step closes an open case with: an executed eviction closes it as
    evicted, whoever enters it (the lead, the worker, a court's file)."""
    return "evicted" if kind == "executed" else None
