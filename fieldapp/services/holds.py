"""Requests to a landlord to hold a petition until a date: asking, answering, withdrawing,
and how an accepted hold ends (in payment or in a petition), for the figures.

end_holds is the one place a hold ends: the arrears import and the legal steps (manual or
imported) call it with the cases they touched.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.wording import N_, Wording
from ..models import Case, LegalStep, Tenancy, User
from ..models.agreements import HOLD_REASONS, HoldRequest
from ..models.types import utcnow

# A hold further off than this is not a hold but a standstill: the landlord is asked again.
HOLD_AT_MOST = timedelta(days=183)
NOTE_LIMIT = 500
OPEN_HOLD_STATES = ("requested", "accepted")
# The legal steps that are a petition (the legal clock may add its countries' own).
PETITION_STEP_KINDS = ("petition",)
# A case closed with one of these outcomes ended its accepted hold in payment.
PAYMENT_OUTCOMES = ("paid_up", "payment_plan", "rent_from_benefits")


class HoldError(ValueError):
    """Input that cannot make or answer a hold request; the message names the field and value."""


def check_hold(until: date, reason: str, today: date) -> None:
    """A plausible hold: after today, at most HOLD_AT_MOST ahead, for a reason of the list."""
    if reason not in HOLD_REASONS:
        raise HoldError(Wording(N_("Reason: %(value)s is not one of the reasons."), value=reason))
    if until <= today:
        raise HoldError(
            Wording(N_("Hold until: %(value)s is not after today."), value=until.isoformat())
        )
    if until > today + HOLD_AT_MOST:
        raise HoldError(
            Wording(
                N_("Hold until: %(value)s is more than 6 months ahead."), value=until.isoformat()
            )
        )


def open_hold(session: Session, case_id: int, today: date | None = None) -> HoldRequest | None:
    """The case's open request (requested, or accepted and not ended, its date not passed),
    if any: a request whose date has passed holds nothing and blocks no new one."""
    return session.scalar(
        select(HoldRequest)
        .where(HoldRequest.case_id == case_id, HoldRequest.state.in_(OPEN_HOLD_STATES))
        .where(HoldRequest.ended_with.is_(None), HoldRequest.until >= (today or date.today()))
        .order_by(HoldRequest.id.desc())
        .limit(1)
    )


def latest_holds(session: Session, case_ids: list[int]) -> dict[int, HoldRequest]:
    """Each case's newest hold request (one query)."""
    found: dict[int, HoldRequest] = {}
    if not case_ids:
        return found
    for hold in session.scalars(
        select(HoldRequest).where(HoldRequest.case_id.in_(case_ids)).order_by(HoldRequest.id)
    ):
        found[hold.case_id] = hold
    return found


def request_hold(
    session: Session, case: Case, until: date, reason: str, by: User, today: date
) -> HoldRequest:
    """Ask the case's landlord to hold a petition; one open request per case."""
    check_hold(until, reason, today)
    # The case's row locked (PostgreSQL; SQLite has one writer anyway): two leads asking at
    # once make one request, the other is told there is one.
    session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    if open_hold(session, case.id, today) is not None:
        raise HoldError(Wording(N_("This case already has an open request to hold a petition.")))
    landlord_id = session.scalar(select(Tenancy.landlord_id).where(Tenancy.id == case.tenancy_id))
    hold = HoldRequest(
        case_id=case.id, landlord_id=landlord_id, requested_by_id=by.id, until=until,
        reason=reason, state="requested",
    )  # fmt: skip
    session.add(hold)
    session.flush()
    return hold


def answer_hold(
    session: Session,
    hold: HoldRequest,
    accept: bool,
    note: str,
    by: User,
    today: date | None = None,
) -> None:
    """The landlord's answer to a request still waiting for one, before its date passed."""
    if hold.state != "requested":
        raise HoldError(Wording(N_("This request has already been answered or withdrawn.")))
    if hold.until < (today or date.today()):
        raise HoldError(Wording(N_("The date of this request has passed; nothing to answer.")))
    note = note.replace("\x00", "").strip()
    if len(note) > NOTE_LIMIT:
        raise HoldError(
            Wording(N_("Note: at most %(limit)s characters (%(value)s)."), limit=NOTE_LIMIT,
                    value=len(note))
        )  # fmt: skip
    hold.state = "accepted" if accept else "declined"
    hold.answered_by_id = by.id
    hold.answered_at = utcnow()
    hold.answer_note = note
    session.flush()


def withdraw_hold(session: Session, hold: HoldRequest) -> None:
    """The municipality takes back a request (waiting, or accepted and still running)."""
    if hold.state not in OPEN_HOLD_STATES or hold.ended_with is not None:
        raise HoldError(Wording(N_("This request is no longer open.")))
    hold.state = "withdrawn"
    session.flush()


def end_holds(session: Session, case_ids, today: date | None = None) -> int:
    """End the accepted, running holds of these cases that have ended: "petition" when a
    petition step was added after the acceptance; else "payment" when a list after the
    acceptance shows the tenancy's arrears at 0, or the case closed with a payment outcome.
    Three queries whatever the number of cases; returns how many ended."""
    ids = sorted(set(case_ids))
    if not ids:
        return 0
    today = today or date.today()
    session.flush()
    holds = session.scalars(
        select(HoldRequest).where(
            HoldRequest.case_id.in_(ids),
            HoldRequest.state == "accepted",
            HoldRequest.ended_with.is_(None),
        )
    ).all()
    if not holds:
        return 0
    held = sorted({hold.case_id for hold in holds})
    petitions: dict[int, list] = {}
    for case_id, filed_on in session.execute(
        select(LegalStep.case_id, LegalStep.date).where(
            LegalStep.case_id.in_(held), LegalStep.kind.in_(PETITION_STEP_KINDS)
        )
    ):
        petitions.setdefault(case_id, []).append(filed_on)
    state = {
        case_id: (status, outcome, arrears, as_of)
        for case_id, status, outcome, arrears, as_of in session.execute(
            select(Case.id, Case.status, Case.outcome, Tenancy.current_arrears,
                   Tenancy.arrears_as_of)
            .join(Tenancy, Tenancy.id == Case.tenancy_id)
            .where(Case.id.in_(held))
        )
    }  # fmt: skip
    ended = 0
    for hold in holds:
        accepted_at = hold.answered_at
        if accepted_at is None:
            continue
        # A petition dated on or after the day the hold was accepted (one entered late but
        # dated before it was filed before the hold, and ends nothing).
        accepted_on = _aware(accepted_at).date()
        if any(filed_on >= accepted_on for filed_on in petitions.get(hold.case_id, [])):
            hold.ended_with, hold.ended_on = "petition", today
            ended += 1
            continue
        status, outcome, arrears, as_of = state.get(hold.case_id, (None, None, None, None))
        paid = arrears == 0 and as_of is not None and as_of.date() >= _aware(accepted_at).date()
        if paid or (status == "closed" and outcome in PAYMENT_OUTCOMES):
            hold.ended_with, hold.ended_on = "payment", today
            ended += 1
    session.flush()
    return ended


def _aware(moment: datetime) -> datetime:
    """A time not yet read back from the database may be naive UTC; compare them as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def hold_context(session: Session, case: Case, consented: bool | None = None) -> dict:
    """What the case page shows of holds: the requests (newest first), whether a new one may
    be asked (the tenant's consent covers the landlord, none open) and the answerers' names.
    consented: whether the tenant's current consent covers the landlord, when the page has
    read the consent already (None: read it here)."""
    from .access import landlord_consented

    if consented is None:
        consented = case.id in landlord_consented(session, [case.id])
    holds = list(
        session.scalars(
            select(HoldRequest)
            .where(HoldRequest.case_id == case.id)
            .order_by(HoldRequest.id.desc())
        )
    )
    answerer_ids = sorted({h.answered_by_id for h in holds if h.answered_by_id is not None})
    names = dict(
        session.execute(select(User.id, User.name).where(User.id.in_(answerer_ids))).all()
        if answerer_ids
        else []
    )
    return {
        "holds": holds,
        "hold_answerers": {k: v for k, v in names.items()},
        "hold_consented": consented,
        "hold_open": any(h.state in OPEN_HOLD_STATES and h.ended_with is None for h in holds),
    }
