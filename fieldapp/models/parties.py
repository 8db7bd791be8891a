"""Landlords who send arrears lists, and the partners a case may share data with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

# The countries Doorstep knows (Organisation.country); the first is the default.
COUNTRIES = ("DK", "NO")
LANDLORD_KINDS = ("municipal", "housing_association", "private")
# Every kind a partner may have been stored with, in either country.
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
    "introduction_centre",
    "landlord",
    "other",
)
# The kinds each country's organisations are offered, in their order on the page. Denmark
# has a job centre and a benefits office (ydelseskontor, borgerservice) and no NAV; in
# Norway NAV covers both, and the municipality's own services are the housing office
# (boligtjenesten), substance abuse and mental health services, the introduction centre and
# child welfare (web.labels words each in the country's own terms).
PARTNER_KINDS_BY_COUNTRY = {
    "DK": (
        "job_centre",
        "benefits_office",
        "debt_counselling",
        "mental_health",
        "addiction",
        "housing_support",
        "social_janitor",
        "children_family",
        "landlord",
        "other",
    ),
    "NO": (
        "nav",
        "debt_counselling",
        "housing_support",
        "addiction",
        "mental_health",
        "introduction_centre",
        "children_family",
        "landlord",
        "other",
    ),
}


def partner_kinds_for(country: str) -> tuple[str, ...]:
    """The partner kinds an organisation in that country is offered (Denmark's if unknown)."""
    return PARTNER_KINDS_BY_COUNTRY.get(country, PARTNER_KINDS_BY_COUNTRY[COUNTRIES[0]])


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
