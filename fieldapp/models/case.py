"""A case: one eviction-risk episode of a tenancy, its legal steps and its history."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .household import Tenancy
from .types import UTCDateTime, utcnow
from .user import User

CASE_STATUSES = ("new", "attempting_contact", "in_contact", "plan_agreed", "closed")
OPEN_STATUSES = CASE_STATUSES[:-1]
CASE_CAUSES = ("economic", "behavioural", "contract_end", "other")
CASE_OUTCOMES = (
    "paid_up",
    "payment_plan",
    "rent_from_benefits",
    "rehoused",
    "moved_away",
    "evicted",
    "declined_help",
    "other",
)
LEGAL_STEP_KINDS = (
    # The steps that start a country's clock (domain.legal_clock): Denmark's påkrav (the
    # tenant has 14 days to pay) and Norway's varsel under husleieloven § 9-11 to NAV.
    "demand",
    "notice_9_11",
    "petition",
    "hearing",
    "eviction_scheduled",
    "executed",
    "withdrawn",
    "cancelled",
)
# Steps that set a date someone must act before.
DEADLINE_KINDS = ("hearing", "eviction_scheduled")


class Case(db.Model):
    """The outreach work on one tenancy at risk, from the first list to an outcome."""

    __tablename__ = "case_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenancy_id: Mapped[int] = mapped_column(ForeignKey("tenancy.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    assigned_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    cause: Mapped[str] = mapped_column(String(20), default="economic")
    outcome: Mapped[str | None] = mapped_column(String(20))
    # Computed by services.triage; the reasons are codes with values, rendered in the UI language.
    priority: Mapped[int] = mapped_column(Integer, default=0, index=True)
    priority_reasons: Mapped[list] = mapped_column(JSON, default=list)
    next_deadline: Mapped[date | None] = mapped_column(Date, index=True)
    next_deadline_kind: Mapped[str | None] = mapped_column(String(20))
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by `fieldapp purge` (services.retention) when the case's free text was removed.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on every change of the case's own fields; stale offline edits become conflicts.
    version: Mapped[int] = mapped_column(Integer, default=1)

    tenancy: Mapped[Tenancy] = relationship()
    assigned_worker: Mapped[User | None] = relationship()
    legal_steps: Mapped[list[LegalStep]] = relationship(
        back_populates="case", order_by="LegalStep.date"
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class LegalStep(db.Model):
    """A petition, hearing, scheduled or executed eviction, or its withdrawal, with its date
    (and for a hearing or an eviction, often its time and place)."""

    __tablename__ = "legal_step"
    __table_args__ = (UniqueConstraint("case_id", "kind", "date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    date: Mapped[date] = mapped_column(Date, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # The hour it starts, on the wall clock of the organisation's zone (no zone stored: a
    # hearing at 10:00 in Helsingør stays at 10:00), and where: the court or bailiff office
    # and its address ("Fogedretten i Helsingør, Kongevejen 2").
    at_time: Mapped[time | None] = mapped_column(Time)
    place: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(20), default="manual")  # manual or import
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="legal_steps")


class CaseEvent(db.Model):
    """A change in the case's life (opened, assigned, status, cleared…), kept for its timeline."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    user: Mapped[User | None] = relationship()
