"""What is agreed on a case with the tenant, the landlord and the benefit office: payment
plans, rent deductions from benefits, and requests to the landlord to hold a petition.

Payment plans and deductions can be made at the door, offline: they carry the UUID the phone
gave them (unique, so a replayed outbox applies each once), as visits and actions do. The
next arrears list checks a plan (services.agreements): kept while the arrears fall as agreed,
broken when an instalment was missed.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow
from .user import User

# active: being paid; kept: the last list showed the arrears falling as agreed (still
# running) or paid off; broken: an instalment was missed on a list; ended: stopped by hand.
PLAN_STATES = ("active", "kept", "broken", "ended")
# applied: asked for, the benefit office has not answered (pending_until: when it should);
# confirmed: set up, confirmed by the landlord or the benefit office; refused; ended.
DEDUCTION_STATES = ("applied", "confirmed", "refused", "ended")
DEDUCTION_CONFIRMERS = ("landlord", "benefit_office")
# The benefits a rent deduction can come from, per country. Norway: frivillig trekk from the
# benefit NAV pays; Denmark: the municipality pays the rent directly from the benefit
# (aktivloven § 81 a: direct payment from kontanthjælp and similar; § 81 b: help for a tenant
# at risk of losing the home) or from the pension.
DEDUCTION_BENEFITS_BY_COUNTRY = {
    "DK": ("cash_benefit", "section_81a", "section_81b", "pension", "early_retirement", "other"),
    "NO": ("disability", "aap", "old_age_pension", "social_assistance", "other"),
}
DEDUCTION_BENEFITS = tuple(
    dict.fromkeys(b for kinds in DEDUCTION_BENEFITS_BY_COUNTRY.values() for b in kinds)
)
# Why the landlord is asked to hold a petition (the fixed list the landlord sees).
HOLD_REASONS = (
    "payment_plan",
    "benefit_application",
    "rent_deduction",
    "debt_counselling",
    "treatment",
    "rehousing",
)
# requested: waiting for the landlord; accepted / declined: the landlord's answer; withdrawn:
# the municipality took it back. An accepted hold later ends in payment or in a petition
# (HoldRequest.ended_with), for the figures.
HOLD_STATES = ("requested", "accepted", "declined", "withdrawn")
HOLD_ENDINGS = ("payment", "petition")


def deduction_benefits_for(country: str | None) -> tuple[str, ...]:
    """The benefits a deduction in that country can come from (Denmark's if unknown)."""
    return DEDUCTION_BENEFITS_BY_COUNTRY.get(country or "DK", DEDUCTION_BENEFITS_BY_COUNTRY["DK"])


class PaymentPlan(db.Model):
    """Arrears paid off in instalments, agreed with the tenant (and the landlord)."""

    __tablename__ = "payment_plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # The arrears the plan pays off, in minor units (øre), when it was agreed.
    arrears_at_start: Mapped[int] = mapped_column(BigInteger)
    # The instalments, in date order: [{"due_on": "2026-12-15", "amount": 150000}, …]
    # (amount in minor units, on top of the running rent).
    instalments: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default="active")
    # Set by the arrears list that last checked the plan: its date and what it found
    # (a code with values, rendered in the reader's language).
    checked_on: Mapped[date | None] = mapped_column(Date)
    check_detail: Mapped[dict] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User] = relationship()


class BenefitDeduction(db.Model):
    """Rent paid from a benefit: frivillig trekk (Norway), direct payment of the rent or help
    under aktivloven § 81 a / § 81 b (Denmark)."""

    __tablename__ = "benefit_deduction"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    benefit: Mapped[str] = mapped_column(String(30))
    amount: Mapped[int] = mapped_column(BigInteger)  # per month, minor units
    starts_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default="applied")
    # While applied: the date the benefit office should have answered by.
    pending_until: Mapped[date | None] = mapped_column(Date)
    confirmed_by: Mapped[str] = mapped_column(String(20), default="")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User] = relationship()


class HoldRequest(db.Model):
    """The municipality asks the landlord to hold a petition until a date, for a reason."""

    __tablename__ = "hold_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    landlord_id: Mapped[int] = mapped_column(ForeignKey("landlord.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    until: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20), default="requested", index=True)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer_note: Mapped[str] = mapped_column(Text, default="")
    # For an accepted hold, how it ended: "payment" (the arrears were paid or a plan kept)
    # or "petition" (the landlord petitioned after all); None while it runs.
    ended_with: Mapped[str | None] = mapped_column(String(20))
    ended_on: Mapped[date | None] = mapped_column(Date)

    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
