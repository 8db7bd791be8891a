"""Households at risk and their tenancies with a landlord."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .parties import Landlord
from .types import UTCDateTime, utcnow


class Household(db.Model):
    """The people living at one address: who to knock for, in which language.

    Each team keeps its own register: a household, its tenancies and their cases belong to
    one team (team_id), and nothing a person of another team does finds or changes them.
    """

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # the tenant's name as shown on the card
    # A normalised form for matching rows that lack a tenancy reference.
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    address: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(10), default="")
    town: Mapped[str] = mapped_column(String(100), default="")
    address_key: Mapped[str] = mapped_column(String(250), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    language: Mapped[str] = mapped_column(String(5), default="")
    needs_interpreter: Mapped[bool] = mapped_column(Boolean, default=False)
    adults: Mapped[int] = mapped_column(Integer, default=1)
    children: Mapped[int] = mapped_column(Integer, default=0)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    geo_source: Mapped[str] = mapped_column(String(30), default="")  # manual, nominatim, demo…
    geo_accuracy: Mapped[str] = mapped_column(String(30), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tenancy(db.Model):
    """A household's lease with a landlord, known by the landlord's own reference."""

    __tablename__ = "tenancy"
    # A reference is unique within one team's register: two teams following the same lease
    # keep two tenancies and never see each other's.
    __table_args__ = (UniqueConstraint("team_id", "landlord_id", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    landlord_id: Mapped[int] = mapped_column(ForeignKey("landlord.id"), index=True)
    # Empty when the landlord's list has none; then rows match by address and name.
    reference: Mapped[str | None] = mapped_column(String(60))
    monthly_rent: Mapped[int | None] = mapped_column(BigInteger)  # minor units (øre)
    # Arrears on the newest list that named this tenancy; 0 once it is no longer listed.
    current_arrears: Mapped[int] = mapped_column(BigInteger, default=0)
    months_in_arrears: Mapped[float | None] = mapped_column(Float)
    arrears_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    household: Mapped[Household] = relationship()
    landlord: Mapped[Landlord] = relationship()
