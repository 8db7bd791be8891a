"""The fortnightly meeting: planning it and recording its decisions, for the lead's pages.
Only the lead's own team's meetings are found; a decision for a partner needs the tenant's
consent or one of the organisation's legal bases (services.meetings.record_decision)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..domain.organisation import organisation_of
from ..domain.sharing import parse_legal_bases
from ..models import Meeting, MeetingItem
from ..services.audit import record_event
from ..services.meetings import MeetingError, create_meeting, load_meeting, record_decision
from . import Actor, NotFound, Refused, UnitOfWork
from .cases import NotAllowed


def _lead(actor: Actor) -> None:
    if actor.role != "lead" or actor.user is None:
        raise NotAllowed("Only a team lead runs the meeting.")


def legal_bases_of(uow: UnitOfWork, actor: Actor) -> list[str]:
    """The organisation's legal bases for sharing without consent, for the actor's team."""
    organisation = organisation_of(uow.session, actor.team_id)
    return parse_legal_bases(organisation.sharing_legal_bases if organisation else "")


def plan_meeting(
    uow: UnitOfWork, actor: Actor, held_on: date, title: str, partner_ids: list[int]
) -> Meeting:
    """Plan a meeting of the actor's team; its agenda is built from the register at once."""
    _lead(actor)
    try:
        meeting = create_meeting(
            uow.session, actor.team_id, held_on, actor.user, title, partner_ids
        )
    except MeetingError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "create", "meeting", meeting.id, actor.address)
    return meeting


@dataclass(frozen=True)
class Decision:
    text: str
    partner_id: int | None
    responsible: str
    due_on: date | None
    legal_basis: str = ""


def decide(
    uow: UnitOfWork, actor: Actor, meeting_id: int, item_id: int, decision: Decision
) -> MeetingItem:
    """Record what the meeting decided for one case (it becomes an action on the case);
    NoConsent (a Refused) when the partner is not covered. Sharing on a legal basis is an
    audit line of its own for the data protection officer."""
    _lead(actor)
    meeting = load_meeting(uow.session, meeting_id, actor.team_id)
    item = next((i for i in meeting.items if i.id == item_id), None) if meeting else None
    if item is None:
        raise NotFound("No such agenda item.")
    record_decision(
        uow.session, item, actor.user, decision.text, decision.partner_id, decision.responsible,
        decision.due_on, legal_basis=decision.legal_basis, legal_bases=legal_bases_of(uow, actor),
    )  # fmt: skip
    if item.legal_basis:
        record_event(
            uow.session, actor.user, "share_without_consent", "meeting_item", item.id,
            actor.address, f"partner {item.partner_id}: {item.legal_basis}"[:500],
        )  # fmt: skip
    record_event(uow.session, actor.user, "update", "meeting_item", item.id, actor.address)
    return item
