"""Route planning: the geocoder's cache, and each worker's planned day of visits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .case import Case
from .types import UTCDateTime, utcnow
from .user import User

TRAVEL_MODES = ("walk", "bike", "car")
ROUTE_STATES = ("draft", "published", "replaced")


class GeocodeResult(db.Model):
    """What the geocoder answered for one address, so each address is looked up once.

    `error` is empty for a found address, "not_found" when the geocoder knows no such place,
    otherwise the failure (timeout, HTTP error), which is retried on the next run.
    """

    __tablename__ = "geocode_result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address_key: Mapped[str] = mapped_column(String(300), unique=True)
    query: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(30), default="")  # the geocoder, e.g. nominatim
    accuracy: Mapped[str] = mapped_column(String(30), default="")  # e.g. building, street
    display_name: Mapped[str] = mapped_column(String(500), default="")
    looked_up_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    error: Mapped[str] = mapped_column(String(300), default="")


class Route(db.Model):
    """One worker's planned day: where they start and end, and their stops in order.

    A saved plan is a set of draft routes for a team and day; publishing makes them the
    workers' "today" and marks the routes they replace as replaced (kept for the record).
    """

    __tablename__ = "route"
    __table_args__ = (
        # At most one published route per worker and day (drafts and replaced ones may repeat).
        Index(
            "uq_route_published_day_worker",
            "day",
            "worker_id",
            unique=True,
            sqlite_where=text("state = 'published'"),
            postgresql_where=text("state = 'published'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    start_lat: Mapped[float] = mapped_column(Float)
    start_lon: Mapped[float] = mapped_column(Float)
    end_lat: Mapped[float] = mapped_column(Float)
    end_lon: Mapped[float] = mapped_column(Float)
    travel_mode: Mapped[str] = mapped_column(String(10), default="bike")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # leaves the start point
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # back at the end point
    # The worker's hours that day, as planned: a day that ends after work_ends_at overruns.
    work_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    work_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    travel_km: Mapped[float] = mapped_column(Float, default=0.0)
    solver: Mapped[str] = mapped_column(String(40), default="")
    solve_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    worker: Mapped[User] = relationship(foreign_keys=[worker_id])
    stops: Mapped[list[RouteStop]] = relationship(
        back_populates="route", order_by="RouteStop.position", cascade="all, delete-orphan"
    )


class RouteStop(db.Model):
    """A visit on a route: which case, in which place of the order, when."""

    __tablename__ = "route_stop"
    __table_args__ = (
        UniqueConstraint("route_id", "position"),
        UniqueConstraint("route_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("route.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, 3… in the order of the day
    arrive_at: Mapped[datetime] = mapped_column(UTCDateTime)
    depart_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    # Mandatory stops (a deadline close by) must not be dropped without a word to the lead.
    mandatory: Mapped[bool] = mapped_column(default=False)
    # Locked by the lead: re-planning keeps the visit with this route's worker.
    locked: Mapped[bool] = mapped_column(default=False)
    # A time agreed with the tenant: the visit starts within [window_start, window_end].
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What was agreed with it, in the lead's words ("a partner comes along"); no case notes.
    appointment_note: Mapped[str] = mapped_column(String(200), default="")

    route: Mapped[Route] = relationship(back_populates="stops")
    case: Mapped[Case] = relationship()


class RouteLeftOut(db.Model):
    """A case the last plan of a team's day could not place, and why: kept with the day (it
    stays after publishing) until the day is planned again."""

    __tablename__ = "route_left_out"
    __table_args__ = (UniqueConstraint("day", "team_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    mandatory: Mapped[bool] = mapped_column(default=False)
    # A lock or agreed time the plan could not keep stays here, so the next plan tries again
    # (and the lead sees what was agreed) instead of forgetting it.
    locked_worker_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appointment_note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()
