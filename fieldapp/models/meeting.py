"""The fortnightly interdisciplinary meeting: its agenda of cases and the decisions taken."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .case import Case
from .types import UTCDateTime, utcnow


class Meeting(db.Model):
    """One meeting of a team with its partners (NAV, debt counselling, mental health, …)."""

    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date, index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    # The partners around the table; they see a tenant's details only with the tenant's consent.
    partner_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[MeetingItem]] = relationship(
        back_populates="meeting", order_by="MeetingItem.position"
    )


class MeetingItem(db.Model):
    """A case on the agenda, why it is there, and what the meeting decided for it."""

    __tablename__ = "meeting_item"
    __table_args__ = (UniqueConstraint("meeting_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    decision: Mapped[str] = mapped_column(Text, default="")
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    responsible: Mapped[str] = mapped_column(String(200), default="")
    # The legal basis the lead recorded for giving this to a partner without consent.
    legal_basis: Mapped[str] = mapped_column(String(200), default="", server_default="")
    due_on: Mapped[date | None] = mapped_column(Date)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("action.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    meeting: Mapped[Meeting] = relationship(back_populates="items")
    case: Mapped[Case] = relationship()
