"""The fortnightly meeting: planning it, composing its agenda and recording its decisions,
for the lead's pages. Only the lead's own team's meetings and cases are found; a decision
for a partner needs the tenant's consent or one of the organisation's legal bases
(services.meetings.record_decision)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..domain.organisation import organisation_of
from ..domain.sharing import parse_legal_bases
from ..models import Case, Meeting, MeetingItem
from ..services.audit import record_event
from ..services.cases import CaseFilters, cases_for_lead, list_cases
from ..services.meetings import (
    DEFAULT_AGENDA_SIZE,
    MeetingError,
    add_to_agenda,
    create_meeting,
    load_meeting,
    record_decision,
    remove_from_agenda,
)
from . import Actor, NotFound, Refused, UnitOfWork
from .cases import NotAllowed

SEARCH_LIMIT = 10


def _lead(actor: Actor) -> None:
    if actor.role != "lead" or actor.user is None:
        raise NotAllowed("Only a team lead runs the meeting.")


def legal_bases_of(uow: UnitOfWork, actor: Actor) -> list[str]:
    """The organisation's legal bases for sharing without consent, for the actor's team."""
    organisation = organisation_of(uow.session, actor.team_id)
    return parse_legal_bases(organisation.sharing_legal_bases if organisation else "")


def plan_meeting(
    uow: UnitOfWork,
    actor: Actor,
    held_on: date,
    title: str,
    partner_ids: list[int],
    agenda_size: int = DEFAULT_AGENDA_SIZE,
) -> Meeting:
    """Plan a meeting of the actor's team; its agenda starts with the `agenda_size` most
    urgent cases the rules propose, and the lead adds and removes from there."""
    _lead(actor)
    try:
        meeting = create_meeting(
            uow.session, actor.team_id, held_on, actor.user, title, partner_ids, agenda_size
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


def _meeting_of_team(uow: UnitOfWork, actor: Actor, meeting_id: int) -> Meeting:
    meeting = load_meeting(uow.session, meeting_id, actor.team_id)
    if meeting is None:
        raise NotFound("No such meeting.")
    return meeting


def add_case_to_agenda(
    uow: UnitOfWork, actor: Actor, meeting_id: int, case_id: int
) -> tuple[MeetingItem, bool]:
    """Put one of the team's open cases on the team's meeting (before or during it); a case
    of another team is not found. Returns the item and whether it was added (False: it was
    on the agenda already, the same form sent twice)."""
    _lead(actor)
    meeting = _meeting_of_team(uow, actor, meeting_id)
    case = next(iter(cases_for_lead(uow.session, actor.team_id, [case_id])), None)
    if case is None:
        raise NotFound("No such case.")
    try:
        item, added = add_to_agenda(uow.session, meeting, case)
    except MeetingError as error:
        raise Refused(str(error)) from None
    if added:
        record_event(
            uow.session, actor.user, "update", "meeting", meeting.id, actor.address,
            f"added case {case.id}",
        )  # fmt: skip
    return item, added


def remove_from_meeting(uow: UnitOfWork, actor: Actor, meeting_id: int, item_id: int) -> int:
    """Take a case off the team's meeting; DecisionRecorded (a Refused) once it has a
    decision. Returns the number the item had on the agenda."""
    _lead(actor)
    meeting = _meeting_of_team(uow, actor, meeting_id)
    item = next((i for i in meeting.items if i.id == item_id), None)
    if item is None:
        raise NotFound("No such agenda item.")
    case_id = item.case_id
    number = remove_from_agenda(uow.session, meeting, item)  # DecisionRecorded
    record_event(
        uow.session, actor.user, "update", "meeting", meeting.id, actor.address,
        f"removed case {case_id}",
    )  # fmt: skip
    return number


def cases_to_add(uow: UnitOfWork, actor: Actor, meeting_id: int, query: str) -> list[Case]:
    """The team's open cases whose name, address or tenancy number matches (accent-folded,
    as the case list searches), not on the meeting's agenda yet; at most SEARCH_LIMIT."""
    _lead(actor)
    meeting = _meeting_of_team(uow, actor, meeting_id)
    query = query.strip()[:100]
    if not query:
        return []
    on_agenda = {item.case_id for item in meeting.items}
    page = list_cases(
        uow.session, actor.team_id, CaseFilters(status="open", query=query),
        per_page=SEARCH_LIMIT + len(on_agenda),
    )  # fmt: skip
    return [case for case in page.cases if case.id not in on_agenda][:SEARCH_LIMIT]
