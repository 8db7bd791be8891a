"""Hold the petition: the case's worker or the team's lead asks the landlord to hold a
petition until a date (only when the tenant's consent covers the landlord); the landlord
accepts or declines on their page; the worker or lead may withdraw the request. The case
page, the card and the landlord's page show the request and its answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..domain.wording import N_, Wording
from ..models import Case
from ..models.agreements import HoldRequest
from ..services.access import landlord_consented, landlord_may_see
from ..services.audit import record_event
from ..services.holds import HoldError, answer_hold, request_hold, withdraw_hold
from ..services.worklist import local_today
from . import Actor, NotFound, Refused, UnitOfWork
from .cases import NotAllowed, case_in_scope
from .outside import _landlord

NO_CONSENT = N_(
    "The tenant's consent does not cover the landlord, so the landlord cannot be asked to "
    "hold the petition. Ask the tenant for their consent first."
)

NO_LONGER = N_("The tenant's consent no longer covers the landlord, so this cannot be answered.")


class NoConsent(Refused):
    """The tenant's current consent does not cover the landlord (422)."""


@dataclass(frozen=True)
class NewHold:
    """What the worker or lead asks: hold until this date, for this reason."""

    until: date
    reason: str


def ask_to_hold(
    uow: UnitOfWork, actor: Actor, case_id: int, new: NewHold, today: date | None = None
) -> HoldRequest:
    """Ask the case's landlord to hold a petition (the case's worker or the team's lead)."""
    case = case_in_scope(uow, actor, case_id)
    today = today or local_today(uow.session, actor.user)  # the organisation's calendar
    if case.id not in landlord_consented(uow.session, [case.id]):
        raise NoConsent(Wording(NO_CONSENT))
    try:
        hold = request_hold(uow.session, case, new.until, new.reason, actor.user, today)
    except HoldError as error:
        raise Refused(error.args[0]) from None
    record_event(uow.session, actor.user, "create", "hold_request", case.id, actor.address)
    return hold


def _locked_hold(uow: UnitOfWork, hold_id: int) -> HoldRequest | None:
    """The request, its row locked and read afresh: an answer and a withdrawal at the same
    moment are applied one after the other, and the second sees the first."""
    return uow.session.get(HoldRequest, hold_id, with_for_update=True, populate_existing=True)


def _hold_of_case(uow: UnitOfWork, case_id: int, hold_id: int) -> HoldRequest:
    hold = _locked_hold(uow, hold_id)
    if hold is None or hold.case_id != case_id:
        raise NotFound("No such request.")
    return hold


def withdraw(uow: UnitOfWork, actor: Actor, case_id: int, hold_id: int) -> HoldRequest:
    """The case's worker or the team's lead takes the request back."""
    case_in_scope(uow, actor, case_id)
    hold = _hold_of_case(uow, case_id, hold_id)
    try:
        withdraw_hold(uow.session, hold)
    except HoldError as error:
        raise Refused(error.args[0]) from None
    record_event(uow.session, actor.user, "update", "hold_request", case_id, actor.address,
                 "withdrawn")  # fmt: skip
    return hold


def answer(
    uow: UnitOfWork, actor: Actor, hold_id: int, accept: bool, note: str = ""
) -> HoldRequest:
    """The landlord accepts or declines a request made to them, on a case of their own whose
    tenant's consent still covers the landlord. Another landlord's request: not found."""
    _landlord(actor)
    hold = _locked_hold(uow, hold_id)
    if hold is None or hold.landlord_id != actor.landlord_id:
        raise NotFound("No such request.")
    case = uow.session.get(Case, hold.case_id)
    if case is None or not landlord_may_see(uow.session, actor.user, case):
        raise NotFound("No such request.")
    if case.id not in landlord_consented(uow.session, [case.id]):
        raise NotAllowed(Wording(NO_LONGER))
    try:
        answer_hold(
            uow.session, hold, accept, note, actor.user, local_today(uow.session, actor.user)
        )
    except HoldError as error:
        raise Refused(error.args[0]) from None
    record_event(uow.session, actor.user, "update", "hold_request", case.id, actor.address,
                 "accepted" if accept else "declined")  # fmt: skip
    return hold
