"""Which organisation (municipality) a person, team or case belongs to, and its time zone:
the one answer every page, command and reminder uses. Times are stored in UTC and every day,
week and year is the organisation's own."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Organisation, Team

FALLBACK_ZONE = "Europe/Copenhagen"


def organisation_of(session: Session, team_id: int | None = None) -> Organisation | None:
    """The team's organisation; without a team (an administrator, the command line, a
    register of one municipality), the first organisation."""
    if team_id is not None:
        found = session.scalar(
            select(Organisation)
            .join(Team, Team.organisation_id == Organisation.id)
            .where(Team.id == team_id)
        )
        if found is not None:
            return found
    return session.scalar(select(Organisation).order_by(Organisation.id).limit(1))


def zone_of(session: Session, team_id: int | None = None, default: str = FALLBACK_ZONE) -> ZoneInfo:
    """The time zone of that organisation; `default` when there is none or its name is
    unknown to this machine's zone database."""
    organisation = organisation_of(session, team_id)
    return zone_named(organisation.timezone if organisation else "", default)


def zone_named(name: str | None, default: str = FALLBACK_ZONE) -> ZoneInfo:
    """A ZoneInfo for a stored zone name, falling back instead of failing."""
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)
