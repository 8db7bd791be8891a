"""A household's own rights: the record of everything held (Art. 15) and erasure (Art. 17).

Only a lead of the team whose register holds the household reaches it; to anyone else it does
not exist (NotFound, the same answer as for an id nobody has)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..models import Case, Household, Tenancy
from ..models.types import utcnow
from ..services.audit import record_event
from ..services.retention import ErasureRefused, PurgeReport, erase_household
from ..services.subject_access import household_record
from . import Actor, NotFound, Refused, UnitOfWork


def household_in_scope(uow: UnitOfWork, actor: Actor, household_id: int) -> Household:
    """The household, when it is in the actor's team's register and every tenancy and case
    on it is too; else NotFound. Only leads (and the command line's operator) ask."""
    if actor.role not in ("lead", "operator"):
        raise NotFound("No such household.")
    household = uow.session.get(Household, household_id)
    if household is None or household.team_id != actor.team_id:
        raise NotFound("No such household.")
    foreign = uow.session.scalar(
        select(Tenancy.id)
        .outerjoin(Case, Case.tenancy_id == Tenancy.id)
        .where(Tenancy.household_id == household.id)
        .where(
            (Tenancy.team_id.is_distinct_from(actor.team_id))
            | (Case.id.is_not(None) & Case.team_id.is_distinct_from(actor.team_id))
        )
        .limit(1)
    )
    if foreign is not None:  # a record of several teams: no one team may export or erase it
        raise NotFound("No such household.")
    return household


def export_household_record(
    uow: UnitOfWork, actor: Actor, household_id: int, form: str, now: datetime | None = None
) -> dict[str, Any]:
    """Everything held on the household, for the tenant; audited as an export."""
    household = household_in_scope(uow, actor, household_id)
    record = household_record(uow.session, household, now or utcnow())
    record_event(uow.session, actor.user, "export", "household", household.id, actor.address, form)
    return record


class ReasonTooShort(Refused):
    """An erasure needs its reason in a sentence."""


@dataclass(frozen=True)
class ErasureRequest:
    household_id: int
    reason: str


def erase_household_on_request(
    uow: UnitOfWork, actor: Actor, request: ErasureRequest, now: datetime | None = None
) -> PurgeReport:
    """Erase the household on the tenant's request, with the reason (audited); refused while
    a case is open or without a reason of a sentence."""
    household = household_in_scope(uow, actor, request.household_id)
    reason = " ".join(request.reason.split())
    if len(reason) < 10:
        raise ReasonTooShort(
            "Give the reason for the erasure in a sentence (at least 10 characters)."
        )
    try:
        report = erase_household(uow.session, household, now or utcnow())
    except ErasureRefused as refused:
        raise Refused(str(refused)) from None
    record_event(
        uow.session, actor.user, "erase", "household", request.household_id, actor.address,
        f"{reason[:400]} ({len(report.cases)} cases)",
    )  # fmt: skip
    return report
