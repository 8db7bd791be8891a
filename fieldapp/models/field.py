"""What a worker records in the field: visits, consents, needs, actions, and edit conflicts.

Every record a phone can create carries the UUID the phone gave it, unique in the database, so
a replayed outbox or a double tap is applied at most once. These records are append-only: two
workers offline never overwrite each other.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow
from .user import User

VISIT_CHANNELS = ("door", "phone", "office", "letter")
VISIT_RESULTS = ("met", "not_home", "note_left", "refused", "moved", "wrong_address")
CONSENT_STATES = ("given", "declined", "withdrawn")
CONSENT_METHODS = ("signature", "verbal_witness", "paper")
# Who may receive data under a consent; the same words as Partner.kind.
CONSENT_SCOPES = (
    "nav",
    "job_centre",
    "debt_counselling",
    "landlord",
    "mental_health",
    "addiction",
    "social_janitor",
    "housing_support",
    "children_family",
    "benefits_office",
    "introduction_centre",
)
NEEDS = (
    "debt_counselling",
    "budget",
    "benefit_application",
    "rent_from_benefits",
    "housing_benefit",
    "cheaper_home",
    "social_janitor",
    "housing_support",
    "mental_health",
    "addiction",
    "children_family",
    "job_centre",
    "interpreter",
)
ACTION_OWNERS = ("tenant", "worker", "partner")
ACTION_STATUSES = ("agreed", "in_progress", "done", "dropped")
# A case's own fields a worker may edit from the phone (carrying the version they saw).
# What the phone may edit: fieldapp.domain.households.PHONE_EDITABLE (one rule table).


class Visit(db.Model):
    """One contact attempt: at the door, by phone, at the office or by letter."""

    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    channel: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str] = mapped_column(Text, default="")
    next_step: Mapped[str] = mapped_column(Text, default="")
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    worker: Mapped[User] = relationship()


class ConsentText(db.Model):
    """A version of the consent wording in one language; old versions are kept, never edited."""

    __tablename__ = "consent_text"
    __table_args__ = (UniqueConstraint("language", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class Consent(db.Model):
    """Consent given, declined or withdrawn, for which partners, how, and on which wording."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    state: Mapped[str] = mapped_column(String(20))
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    method: Mapped[str] = mapped_column(String(20))
    witness: Mapped[str] = mapped_column(String(200), default="")
    text_id: Mapped[int | None] = mapped_column(ForeignKey("consent_text.id"))
    language: Mapped[str] = mapped_column(String(8))
    # The signature drawn on the phone, as a PNG data URL (small: a few kB).
    signature: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    text: Mapped[ConsentText | None] = relationship()
    worker: Mapped[User] = relationship()


class Need(db.Model):
    """A need mapped together with the tenant, from the catalogue."""

    __tablename__ = "need"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    need: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Action(db.Model):
    """An agreed action: who does what, with which partner, by when."""

    __tablename__ = "action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    description: Mapped[str] = mapped_column(Text)
    need: Mapped[str | None] = mapped_column(String(30))
    owner: Mapped[str] = mapped_column(String(20), default="tenant")
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="agreed")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseConflict(db.Model):
    """An offline edit made on an older version of the case: kept for the lead to resolve."""

    __tablename__ = "case_conflict"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    base_version: Mapped[int] = mapped_column(Integer)
    proposed: Mapped[dict] = mapped_column(JSON)
    current: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolution: Mapped[str] = mapped_column(String(20), default="")

    worker: Mapped[User] = relationship(foreign_keys=[worker_id])


class CaseEdit(db.Model):
    """An applied offline edit of a case's own fields, kept so a replay is recognised."""

    __tablename__ = "case_edit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    changes: Mapped[dict] = mapped_column(JSON)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActionUpdate(db.Model):
    """A change of an agreed action's status, recorded on a phone (the latest one counts)."""

    __tablename__ = "action_update"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(20))
    # A partner's update may carry a short note and a new due date (None: unchanged).
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    due_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
