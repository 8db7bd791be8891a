"""Landlords who send arrears lists, and the partners a case may share data with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

LANDLORD_KINDS = ("municipal", "housing_association", "private")
PARTNER_KINDS = (
    "nav",
    "job_centre",
    "debt_counselling",
    "mental_health",
    "addiction",
    "social_janitor",
    "housing_support",
    "children_family",
    "benefits_office",
    "landlord",
    "other",
)


class Landlord(db.Model):
    """A housing association, municipal housing or private landlord."""

    __tablename__ = "landlord"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30), default="housing_association")
    # The column mapping the lead confirmed for this landlord's lists: header text -> field.
    column_mapping: Mapped[dict | None] = mapped_column(JSON)
    mapping_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Partner(db.Model):
    """An agency at the fortnightly meeting: NAV, job centre, debt counselling, mental health…"""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    landlord_id: Mapped[int | None] = mapped_column(ForeignKey("landlord.id"))
