"""Storage limitation (GDPR Art. 5(1)(e)): closed cases are anonymised after the period the
organisation sets, so the register keeps what the statistics need and nothing that names a
person.

What goes, for a case closed more than `Organisation.retention_months` ago:
- the free text written about the case: visit notes and next steps, notes on needs,
  descriptions of actions, notes on legal steps, the decisions and named responsible persons
  of meeting items, the field values of offline edits and conflicts (they hold phone
  numbers and names), the notes on payment plans and rent deductions and the landlord's
  answer to a request to hold the petition;
- once every case of the household is so anonymised: the household's name, address, postcode,
  town, phone, position and the search keys made from them, and the tenancies' references.

What stays, so that the yearly figures still add up: the case (status, cause, outcome, dates,
team, worker), its legal steps and their dates, arrears figures, visits' channel and result,
needs' kinds, actions' owners and statuses, the household row (as an id, with its number of
adults and children) and the tenancy's landlord. Consent records stay whole (the proof of what
was agreed, on which version of the text) until `CONSENT_RETENTION_MONTHS` after closing; then
their signature image and witness name go too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from ..models import (
    Action,
    Case,
    CaseConflict,
    CaseEdit,
    Consent,
    Household,
    LegalStep,
    MeetingItem,
    Need,
    Organisation,
    RouteLeftOut,
    RouteStop,
    Tenancy,
    Visit,
)
from ..models.agreements import BenefitDeduction, HoldRequest, PaymentPlan


@dataclass
class PurgeReport:
    """What a purge did (or, dry, would do)."""

    cases: list[int] = field(default_factory=list)
    households: list[int] = field(default_factory=list)
    consents: int = 0
    dry_run: bool = False

    def line(self) -> str:
        verb = "would be" if self.dry_run else "were"
        return (
            f"{len(self.cases)} closed cases and {len(self.households)} households {verb} "
            f"anonymised; {self.consents} consent signatures {verb} removed."
        )


def _months(months: int) -> timedelta:
    return timedelta(days=round(months * 365.25 / 12))


def _cutoffs(session: Session, now: datetime) -> dict[int | None, datetime]:
    """Per team (None: cases without one, under the first organisation), the closing time
    before which a case is due for anonymising."""
    cutoffs: dict[int | None, datetime] = {}
    first = None
    for organisation in session.scalars(select(Organisation).order_by(Organisation.id)):
        cutoff = now - _months(organisation.retention_months)
        first = cutoff if first is None else first
        for team in organisation.teams:
            cutoffs[team.id] = cutoff
    if first is not None:
        cutoffs[None] = first
    return cutoffs


def due_cases(session: Session, now: datetime) -> list[int]:
    """Closed, not yet anonymised cases closed before their organisation's cut-off."""
    ids: list[int] = []
    for team_id, cutoff in _cutoffs(session, now).items():
        team_filter = Case.team_id.is_(None) if team_id is None else Case.team_id == team_id
        ids += session.scalars(
            select(Case.id).where(
                team_filter,
                Case.status == "closed",
                Case.closed_at < cutoff,
                Case.anonymised_at.is_(None),
            )
        )
    return sorted(ids)


def purge(
    session: Session, now: datetime, *, consent_months: int, dry_run: bool = False
) -> PurgeReport:
    """Anonymise what is due; the caller commits (or, for a dry run, rolls back)."""
    report = PurgeReport(dry_run=dry_run)
    report.cases = due_cases(session, now)
    for chunk in _chunks(report.cases):
        _anonymise_cases(session, chunk, now)
    session.flush()
    report.households = _households_done(session)
    for chunk in _chunks(report.households):
        _anonymise_households(session, chunk)
    consent_cutoff = now - _months(consent_months)
    old_consents = (
        select(Consent.id)
        .join(Case, Case.id == Consent.case_id)
        .where(Case.anonymised_at.is_not(None), Case.closed_at < consent_cutoff)
        .where((Consent.signature != "") | (Consent.witness != ""))
    )
    consent_ids = list(session.scalars(old_consents))
    report.consents = len(consent_ids)
    for chunk in _chunks(consent_ids):
        session.execute(
            update(Consent).where(Consent.id.in_(chunk)).values(signature="", witness="")
        )
    session.flush()
    return report


def _chunks(ids: list[int], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _anonymise_cases(session: Session, ids: list[int], now: datetime) -> None:
    session.execute(update(Visit).where(Visit.case_id.in_(ids)).values(notes="", next_step=""))
    session.execute(update(Need).where(Need.case_id.in_(ids)).values(note=""))
    session.execute(update(Action).where(Action.case_id.in_(ids)).values(description=""))
    # An eviction's place is the home itself: it goes with the note and the address.
    session.execute(update(LegalStep).where(LegalStep.case_id.in_(ids)).values(note="", place=""))
    session.execute(
        update(MeetingItem).where(MeetingItem.case_id.in_(ids)).values(decision="", responsible="")
    )
    session.execute(update(CaseEdit).where(CaseEdit.case_id.in_(ids)).values(changes={}))
    # What was written about an agreement: the plan's and the deduction's notes, the landlord's
    # answer to a request to hold the petition (the amounts, dates and states stay, for the
    # figures).
    session.execute(update(PaymentPlan).where(PaymentPlan.case_id.in_(ids)).values(note=""))
    session.execute(
        update(BenefitDeduction).where(BenefitDeduction.case_id.in_(ids)).values(note="")
    )
    session.execute(update(HoldRequest).where(HoldRequest.case_id.in_(ids)).values(answer_note=""))
    session.execute(
        update(CaseConflict).where(CaseConflict.case_id.in_(ids)).values(proposed={}, current={})
    )
    # The case's visits on routes and the left-out rows hold the household's exact position
    # and the agreed-time note: they go with the case's details.
    session.execute(delete(RouteStop).where(RouteStop.case_id.in_(ids)))
    session.execute(delete(RouteLeftOut).where(RouteLeftOut.case_id.in_(ids)))
    session.execute(update(Case).where(Case.id.in_(ids)).values(anonymised_at=now))


def _households_done(session: Session) -> list[int]:
    """Households not yet blanked that have an anonymised case and no other."""

    def cases_of_household(*conditions):
        return exists(
            select(Case.id)
            .join(Tenancy, Tenancy.id == Case.tenancy_id)
            .where(Tenancy.household_id == Household.id, *conditions)
        )

    return list(
        session.scalars(
            select(Household.id)
            .where(
                (Household.name != "") | (Household.address != ""),
                cases_of_household(Case.anonymised_at.is_not(None)),
                ~cases_of_household(Case.anonymised_at.is_(None)),
            )
            .order_by(Household.id)
        )
    )


def _anonymise_households(session: Session, ids: list[int]) -> None:
    session.execute(
        update(Household)
        .where(Household.id.in_(ids))
        .values(
            name="",
            name_key="",
            address="",
            address_key="",
            postcode="",
            town="",
            phone="",
            lat=None,
            lon=None,
            geo_source="",
            geo_accuracy="",
        )
    )
    session.execute(update(Tenancy).where(Tenancy.household_id.in_(ids)).values(reference=None))


class ErasureRefused(ValueError):
    """The household cannot be erased now; the message says why."""


def erase_household(session: Session, household: Household, now: datetime) -> PurgeReport:
    """Erase a household on request (GDPR Art. 17) as far as the law allows: what the purge
    would remove after the retention period goes now, signatures included. Refused while a
    case is open: the outreach is then a task in the public interest still going on."""
    case_ids = list(
        session.scalars(
            select(Case.id)
            .join(Tenancy, Tenancy.id == Case.tenancy_id)
            .where(Tenancy.household_id == household.id)
        )
    )
    open_cases = session.scalar(
        select(Case.id).where(Case.id.in_(case_ids), Case.status != "closed").limit(1)
    )
    if open_cases is not None:
        raise ErasureRefused(f"case {open_cases} is still open: close it first")
    report = PurgeReport(cases=case_ids, households=[household.id])
    if case_ids:
        _anonymise_cases(session, case_ids, now)
        report.consents = (
            session.execute(
                update(Consent)
                .where(Consent.case_id.in_(case_ids))
                .values(signature="", witness="")
            ).rowcount
            or 0
        )
    _anonymise_households(session, [household.id])
    session.flush()
    return report
