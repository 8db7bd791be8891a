"""The demo towns' bundled gazetteer: each street of the demo (and of the sample arrears lists)
as a line from its first to its last house number, so the demo places its own addresses and an
imported list's with no geocoder configured and nothing sent anywhere.

Used when FIELDAPP_GEOCODER is `gazetteer`, or when no geocoder is configured and the
organisation is the demo. A real municipality configures a real geocoder (README, Routes).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

from geopy.location import Location
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.organisation import organisation_of
from ..models import Household
from .tabular import normalise_header, search_fold

NAME = "gazetteer"
# Odd and even house numbers sit this far either side of the street's line (degrees, ~8 m).
_SIDE = 0.00007
_HOUSE = re.compile(r"^\s*(?P<street>\D+?)\s+(?P<number>\d{1,4})")
_PLACE = re.compile(r"^\s*(?P<postcode>\d{4})\s+(?P<town>.+?)\s*$")


@dataclass(frozen=True)
class Street:
    country: str
    postcode: str
    town: str
    name: str
    first: int
    last: int
    start: tuple[float, float]
    end: tuple[float, float]

    def point(self, number: int) -> tuple[float, float]:
        """Where a house number lies: along the line, odd and even on opposite sides."""
        span = max(self.last - self.first, 1)
        share = min(max((number - self.first) / span, 0.0), 1.0)
        lat = self.start[0] + (self.end[0] - self.start[0]) * share
        lon = self.start[1] + (self.end[1] - self.start[1]) * share
        # Perpendicular to the street: (dlat, dlon) turned a quarter, scaled to _SIDE.
        dlat, dlon = self.end[0] - self.start[0], self.end[1] - self.start[1]
        length = (dlat**2 + dlon**2) ** 0.5 or 1.0
        side = 1 if number % 2 else -1
        return (
            round(lat + side * _SIDE * (-dlon / length), 6),
            round(lon + side * _SIDE * (dlat / length), 6),
        )


def _key(text: str) -> str:
    return search_fold(normalise_header(text))


@lru_cache(maxsize=1)
def streets() -> dict[tuple[str, str], Street]:
    """The bundled streets by (town, street), both folded (case and accents)."""
    text = files("fieldapp").joinpath("data/gazetteer_demo.csv").read_text(encoding="utf-8")
    rows = csv.reader(
        (line for line in text.splitlines() if not line.startswith("#")), delimiter=";"
    )
    found = {}
    for country, postcode, town, name, first, last, lat1, lon1, lat2, lon2 in rows:
        found[_key(town), _key(name)] = Street(
            country, postcode, town, name, int(first), int(last),
            (float(lat1), float(lon1)), (float(lat2), float(lon2)),
        )  # fmt: skip
    return found


def locate(address: str, town: str) -> tuple[float, float] | None:
    """The position of "Søndre Strandvej 110, 3." in "Helsingør", or None when the street
    is not in the gazetteer or the address has no house number."""
    match = _HOUSE.match(address or "")
    if match is None:
        return None
    street = streets().get((_key(town), _key(match["street"])))
    return street.point(int(match["number"])) if street else None


def lookup(query: str) -> Location | None:
    """A geopy-shaped answer for the geocoder's query text ("street n, floor, 3000 Town,
    Country"), so the gazetteer stands where a geopy geocoder would."""
    parts = [part.strip() for part in query.split(",")]
    town = next((m["town"] for part in parts[1:] if (m := _PLACE.match(part))), "")
    position = locate(parts[0], town) if parts else None
    if position is None:
        return None
    return Location(query, (position[0], position[1], 0.0), {"addresstype": "interpolated"})


def in_use(settings: Mapping[str, Any], session: Session, team_id: int | None = None) -> bool:
    """True when this installation places addresses from the gazetteer."""
    name = (settings.get("GEOCODER") or "").strip().lower()
    if name == NAME:
        return True
    if name:
        return False
    organisation = organisation_of(session, team_id)
    return bool(organisation is not None and organisation.is_demo)


def place_team_households(session: Session, team_id: int, settings=None) -> int:
    """Place the team's households that have no position from the gazetteer (only when the
    gazetteer is in use: it is local and instant, so planning may call it). A hand-placed
    pin is never moved. Returns how many were placed."""
    if settings is None:
        from flask import current_app

        settings = current_app.config
    if not in_use(settings, session, team_id):
        return 0
    placed = 0
    for household in session.scalars(
        select(Household).where(
            Household.team_id == team_id,
            Household.lat.is_(None) | Household.lon.is_(None),
            Household.geo_source != "manual",
        )
    ):
        position = locate(household.address, household.town)
        if position is not None:
            household.lat, household.lon = position
            household.geo_source, household.geo_accuracy = NAME, "interpolated"
            placed += 1
    session.flush()
    return placed
