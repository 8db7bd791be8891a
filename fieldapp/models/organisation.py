"""The municipality running Doorstep, and its outreach teams."""

from __future__ import annotations

from datetime import time

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class Organisation(db.Model):
    """One municipality: country, currency, zone and where routes start."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), default="DK")  # DK or NO
    currency: Mapped[str] = mapped_column(String(3), default="DKK")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Copenhagen")
    default_language: Mapped[str] = mapped_column(String(5), default="da")
    office_lat: Mapped[float | None] = mapped_column(Float)
    office_lon: Mapped[float | None] = mapped_column(Float)
    # Only a database seeded by `fieldapp demo` accepts the demo password.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # Assumptions behind the reports' estimate of cost avoided, set by a lead. Server defaults
    # so that organisations stored before these columns existed get the same values.
    # A shelter stay per month, in minor units (øre): Randers' figure, 45,000 DKK.
    shelter_cost_per_month: Mapped[int] = mapped_column(
        BigInteger, default=4_500_000, server_default="4500000"
    )
    shelter_months: Mapped[float] = mapped_column(Float, default=6.0, server_default="6")
    # Evictions a year before the prevention work began (e.g. Helsingør's 75 in 2014).
    baseline_evictions_per_year: Mapped[int | None] = mapped_column(Integer)
    # Push reminders (services.reminders): days before a hearing or eviction, sent at the
    # start of the working day; nothing is sent in quiet hours, which end when that day starts.
    reminder_offsets: Mapped[str] = mapped_column(
        String(40), default="7,2,1", server_default="7,2,1"
    )
    quiet_hours_start: Mapped[time] = mapped_column(
        Time, default=time(20), server_default="20:00:00"
    )
    # Leads and administrators must log in with a second factor (TOTP) when this is on.
    require_totp: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Months after closing before a case is anonymised (services.retention).
    retention_months: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    quiet_hours_end: Mapped[time] = mapped_column(Time, default=time(8), server_default="08:00:00")
    # The legal bases on which a case may be shared with a partner without the tenant's
    # consent (e.g. retssikkerhedsloven § 11 c, forvaltningsloven § 13 b), one per line, kept
    # by the administrator; listed in the records of processing.
    sharing_legal_bases: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The organisation's own identity providers: a JSON object of OIDC_* and SAML_* settings
    # (the FIELDAPP_ names without the prefix). Empty: the installation's, from the
    # environment (domain.identity.organisation_identity_config).
    identity_settings: Mapped[str] = mapped_column(Text, default="", server_default="")

    teams: Mapped[list[Team]] = relationship(back_populates="organisation")


class Team(db.Model):
    """An outreach team: a lead and the workers whose cases the lead triages."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    name: Mapped[str] = mapped_column(String(120), unique=True)

    organisation: Mapped[Organisation] = relationship(back_populates="teams")
