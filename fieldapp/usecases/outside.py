"""What a partner or a landlord person sees and does: the cases their tenant's current consent
opens to them (services.access), never more. Every read of a case is audited.

- A partner sees the consented open cases of their team: the tenant's name, address and phone,
  the actions assigned to their partner, the meeting decisions for it, the next legal date.
- A landlord sees their own tenants in the team's register: status flags where the tenant
  consented to the landlord, otherwise only that the municipality has the case.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..models import Case, Tenancy
from ..services.access import landlord_cases_query, partner_case_ids
from ..services.audit import record_event
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
