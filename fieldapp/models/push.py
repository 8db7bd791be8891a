"""Web Push: the devices that asked for reminders, the reminders due, and each delivery.

A reminder is one event worth telling (a hearing 2 days ahead, a published route); it fans
out into one delivery per subscribed device. Both carry unique constraints, so however many
senders run at once a reminder exists once and reaches each device once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow
from .user import User

# demand_expires and earliest_petition: deadlines a clock step starts (domain.legal_clock).
# partner_action_due: an action assigned to a partner, the day before and the day it is due
# (offset_days 1 and 0), to that partner's people in the case's team.
REMINDER_KINDS = (
    "hearing",
    "eviction_scheduled",
    "demand_expires",
    "earliest_petition",
    "route_published",
    "action_due",
    "partner_action_due",
)
DELIVERY_STATES = ("pending", "sent", "retrying", "failed", "gone", "expired", "cancelled")
# States a sender still has work to do in.
OPEN_DELIVERY_STATES = ("pending", "retrying")


class PushSubscription(db.Model):
    """A browser's PushSubscription: where to send, and the keys to encrypt for it.

    The endpoint is a capability URL of the browser's push service; it is stored as given and
    looked up by its SHA-256, so the unique index stays small whatever its length.
    """

    __tablename__ = "push_subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)
    p256dh: Mapped[str] = mapped_column(String(120))
    auth: Mapped[str] = mapped_column(String(60))
    # The UI language when the device subscribed: reminders are written in it.
    language: Mapped[str] = mapped_column(String(5), default="en")
    # "Chrome on Android": enough for a person to tell their devices apart, nothing more.
    device: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Reminder(db.Model):
    """One thing to tell, due at a time: a dated legal step at an offset, a route, an action.

    `source_id` is the legal step, route or action it is about; with the kind and the offset
    it is unique, which is what makes creating reminders safe for concurrent senders.
    """

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("kind", "source_id", "offset_days"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[int] = mapped_column(Integer)
    offset_days: Mapped[int] = mapped_column(Integer, default=0)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    # The day of the hearing, eviction, route or action.
    event_on: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # After this there is no point: the end of the event's day in the organisation's zone.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The last reminder before the event goes with Urgency: high.
    urgent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PushDelivery(db.Model):
    """A reminder on its way to one device; claimed by a sender with a lease while it sends.

    A sender claims a row by setting `claim_token` and `claimed_until` in one conditional
    UPDATE; a sender that dies leaves the lease to run out, and another takes the row over.
    """

    __tablename__ = "push_delivery"
    __table_args__ = (
        UniqueConstraint("reminder_id", "subscription_id"),
        Index("ix_push_delivery_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reminder_id: Mapped[int] = mapped_column(ForeignKey("reminder.id"), index=True)
    # Set to NULL when the device is removed; the row stays as the record of what was sent.
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("push_subscription.id"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)

    reminder: Mapped[Reminder] = relationship()
    subscription: Mapped[PushSubscription | None] = relationship()


class PushAttempt(db.Model):
    """Every request made to a push service, and what came of it (no payload, no endpoint)."""

    __tablename__ = "push_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("push_delivery.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(10))  # sent, retry, gone, failed, expired
    detail: Mapped[str] = mapped_column(String(200), default="")
