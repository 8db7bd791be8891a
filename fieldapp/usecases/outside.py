"""What a partner or a landlord person sees and does: the cases their tenant's current consent
opens to them (services.access), never more. Every read of a case is audited.

- A partner sees the consented open cases of their team: the tenant's name, address and phone,
  the actions assigned to their partner, the meeting decisions for it, the next legal date.
- A landlord sees their own tenants in the team's register: status flags where the tenant
  consented to the landlord, otherwise only that the municipality has the case.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..models import Case, Tenancy
from ..models.agreements import HoldRequest
from ..services.access import landlord_cases_query, landlord_consented, partner_case_ids
from ..services.audit import record_event
from ..services.flags import Flags, case_flags
from ..services.holds import latest_holds
from . import Actor, Refused, UnitOfWork


class NotPartner(Refused):
    """Only a person bound to a partner organisation does this (403)."""


class NotLandlord(Refused):
    """Only a person bound to a landlord does this (403)."""


def _partner(actor: Actor) -> None:
    if actor.user is None or actor.role != "partner" or actor.partner_id is None:
        raise NotPartner("Only a partner's account does this.")


def _landlord(actor: Actor) -> None:
    if actor.user is None or actor.role != "landlord" or actor.landlord_id is None:
        raise NotLandlord("Only a landlord's account does this.")


def partner_cases(uow: UnitOfWork, actor: Actor) -> list[Case]:
    """The open cases of the partner person's team whose tenant's current consent covers
    their partner, most urgent first. Audited as one read of the list."""
    _partner(actor)
    ids = partner_case_ids(uow.session, actor.user)
    if not ids:
        return []
    cases = uow.session.scalars(
        select(Case)
        .options(joinedload(Case.tenancy).joinedload(Tenancy.household))
        .where(Case.id.in_(ids))
        .order_by(Case.next_deadline.is_(None), Case.next_deadline, Case.priority.desc())
    ).all()
    record_event(
        uow.session, actor.user, "read", "partner_cases", "", actor.address,
        f"{len(cases)} consented cases",
    )  # fmt: skip
    return list(cases)


def landlord_cases(uow: UnitOfWork, actor: Actor) -> list[Case]:
    """The landlord person's own tenants with a case in their team's register."""
    _landlord(actor)
    cases = uow.session.scalars(
        landlord_cases_query(actor.user)
        .options(joinedload(Case.tenancy).joinedload(Tenancy.household))
        .order_by(Case.opened_at.desc())
    ).all()
    record_event(
        uow.session, actor.user, "read", "landlord_cases", "", actor.address,
        f"{len(cases)} cases",
    )  # fmt: skip
    return list(cases)


@dataclass(frozen=True)
class TenantRow:
    """One line of the landlord's page: their tenancy reference and tenant's name; where the
    tenant consented to the landlord, the flags and the request waiting for an answer."""

    case_id: int
    reference: str
    name: str
    consented: bool
    flags: Flags | None
    waiting: HoldRequest | None


def landlord_tenants(uow: UnitOfWork, actor: Actor) -> list[TenantRow]:
    """The landlord person's own tenants with a case in their team's register, with status
    flags only where the tenant's current consent covers the landlord (services.flags).
    A fixed number of queries for the whole list; audited as one read."""
    cases = landlord_cases(uow, actor)
    ids = [case.id for case in cases]
    consented = landlord_consented(uow.session, ids) if ids else set()
    flags = case_flags(uow.session, sorted(consented))
    holds = latest_holds(uow.session, sorted(consented))
    rows = []
    for case in cases:
        hold = holds.get(case.id)
        rows.append(
            TenantRow(
                case_id=case.id,
                reference=case.tenancy.reference or "",
                name=case.tenancy.household.name,
                consented=case.id in consented,
                flags=flags.get(case.id),
                waiting=hold if hold is not None and hold.state == "requested" else None,
            )
        )
    return rows
