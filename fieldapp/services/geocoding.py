"""Geocoding households with geopy: cached per address, a hand-placed pin always wins, and an
address not found or found far from the office is listed for the lead, never placed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from geopy.distance import geodesic
from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import get_geocoder_for_service
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.organisation import organisation_of
from ..models import GeocodeResult, Household
from ..models.types import utcnow
from .tabular import normalise_address

MANUAL = "manual"
NOT_FOUND = "not_found"
_COUNTRY_NAMES = {"DK": "Danmark", "NO": "Norge"}


class GeocoderNotConfigured(RuntimeError):
    """FIELDAPP_GEOCODER is empty or names no geopy geocoder."""


@dataclass
class GeocodeProblem:
    """An address the lead must look at: not found, too far from the office, or a failure."""

    household_id: int
    address: str
    reason: str  # not_found, too_far, failed
    detail: str = ""
    distance_km: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "household_id": self.household_id,
            "address": self.address,
            "reason": self.reason,
            "detail": self.detail,
            "distance_km": self.distance_km,
        }


@dataclass
class GeocodeReport:
    """What a bulk run did."""

    looked_up: int = 0  # households considered
    placed: int = 0
    from_cache: int = 0
    problems: list[GeocodeProblem] = field(default_factory=list)


@dataclass
class Geocoder:
    """A configured geopy geocoder behind a polite rate limiter."""

    name: str
    lookup: Callable[[str], Any]
    max_km: float
    country_codes: str = ""


def address_query(household: Household, country: str = "") -> str:
    """The text sent to the geocoder: street, postcode and town, country."""
    place = " ".join(part for part in (household.postcode, household.town) if part)
    parts = [household.address, place, _COUNTRY_NAMES.get(country, country)]
    return ", ".join(part for part in parts if part)


def make_geocoder(settings: Mapping[str, Any], country: str = "") -> Geocoder:
    """The geocoder named by GEOCODER, with its URL, user agent, timeout and rate limit."""
    name = (settings.get("GEOCODER") or "").strip().lower()
    if name == "gazetteer":  # the demo towns' bundled streets: local, no rate limit needed
        from . import gazetteer

        return Geocoder(name, gazetteer.lookup, float(settings.get("GEOCODER_MAX_KM", 30.0)))
    if not name:
        raise GeocoderNotConfigured(
            "No geocoder configured: set FIELDAPP_GEOCODER (e.g. nominatim)."
        )
    try:
        cls = get_geocoder_for_service(name)
    except GeopyError as error:
        raise GeocoderNotConfigured(f"FIELDAPP_GEOCODER={name!r}: {error}") from None
    kwargs: dict[str, Any] = {
        "user_agent": settings.get("GEOCODER_USER_AGENT") or "doorstep-fieldapp",
        "timeout": float(settings.get("GEOCODER_TIMEOUT_SECONDS", 10.0)),
    }
    url = (settings.get("GEOCODER_URL") or "").strip()
    if url:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        kwargs["scheme"] = parts.scheme
        kwargs["domain"] = parts.netloc + parts.path.rstrip("/")
    geocoder = cls(**kwargs)
    call_kwargs: dict[str, Any] = {}
    if name == "nominatim" and country:
        call_kwargs["country_codes"] = country.lower()

    def geocode(query: str):
        return geocoder.geocode(query, **call_kwargs)

    limited = RateLimiter(
        geocode,
        min_delay_seconds=float(settings.get("GEOCODER_MIN_DELAY_SECONDS", 1.0)),
        max_retries=int(settings.get("GEOCODER_MAX_RETRIES", 2)),
        error_wait_seconds=float(settings.get("GEOCODER_ERROR_WAIT_SECONDS", 5.0)),
        swallow_exceptions=False,  # a failure must be told apart from "not found"
    )
    return Geocoder(name, limited, float(settings.get("GEOCODER_MAX_KM", 30.0)))


def _accuracy(raw: Any) -> str:
    """What kind of place the geocoder found (building, street, town…), as it says it."""
    if not isinstance(raw, dict):
        return ""
    return str(raw.get("addresstype") or raw.get("type") or raw.get("class") or "")[:30]


def lookup_address(session: Session, geocoder: Geocoder, query: str) -> tuple[GeocodeResult, bool]:
    """The cached answer for this address, or a fresh lookup stored in the cache.

    Returns the result and whether it came from the cache. Failures are stored with their
    message but asked again next time; "not found" is remembered.
    """
    key = normalise_address(query)[:300]
    cached = session.scalar(select(GeocodeResult).where(GeocodeResult.address_key == key))
    if cached is not None and (cached.error in ("", NOT_FOUND)):
        return cached, True
    result = cached or GeocodeResult(address_key=key)
    result.query = query[:300]
    result.source = geocoder.name
    result.looked_up_at = utcnow()
    try:
        location = geocoder.lookup(query)
    except GeopyError as error:
        result.lat = result.lon = None
        result.error = (f"{type(error).__name__}: {error}" or "failed")[:300]
        result.display_name = result.accuracy = ""
    else:
        if location is None:
            result.lat = result.lon = None
            result.error, result.display_name, result.accuracy = NOT_FOUND, "", ""
        else:
            result.lat, result.lon = float(location.latitude), float(location.longitude)
            result.display_name = (location.address or "")[:500]
            result.accuracy = _accuracy(getattr(location, "raw", None))
            result.error = ""
    if cached is None:
        session.add(result)
    session.flush()
    return result, False


def place_pin(household: Household, lat: float, lon: float) -> None:
    """A lead places or moves the household's pin by hand; no geocoder run will move it."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"not a position on Earth: {lat}, {lon}")
    household.lat, household.lon = lat, lon
    household.geo_source, household.geo_accuracy = MANUAL, MANUAL


def geocode_household(
    session: Session,
    geocoder: Geocoder,
    household: Household,
    office: tuple[float, float] | None,
    country: str = "",
) -> tuple[GeocodeProblem | None, bool]:
    """Place one household from the geocoder unless its pin was placed by hand.

    Returns a problem for the lead (or None) and whether the answer came from the cache.
    """
    if household.geo_source == MANUAL:
        return None, True
    query = address_query(household, country)
    result, cached = lookup_address(session, geocoder, query)
    if result.error == NOT_FOUND:
        return GeocodeProblem(
            household.id, query, "not_found", "the geocoder knows no such address"
        ), cached
    if result.error:
        return GeocodeProblem(household.id, query, "failed", result.error), cached
    assert result.lat is not None and result.lon is not None
    if office is not None:
        km = geodesic(office, (result.lat, result.lon)).km
        if km > geocoder.max_km:
            detail = f"found {km:.1f} km from the office: {result.display_name}"
            return GeocodeProblem(household.id, query, "too_far", detail, round(km, 1)), cached
    household.lat, household.lon = result.lat, result.lon
    household.geo_source, household.geo_accuracy = result.source, result.accuracy
    return None, cached


def _needs_position(team_id: int | None = None):
    """Households with no coordinates and no hand-placed pin, in one team's register when
    given; never one the retention job anonymised (its address is blank: nothing to look up,
    and it was counted as "no position yet" for ever)."""
    clause = (
        ((Household.lat.is_(None)) | (Household.lon.is_(None)))
        & (Household.geo_source != MANUAL)
        & (Household.address != "")
    )
    return clause if team_id is None else clause & (Household.team_id == team_id)


def households_without_position(session: Session, limit: int | None = None) -> list[Household]:
    """Households with no coordinates and no hand-placed pin, oldest first."""
    query = select(Household).where(_needs_position()).order_by(Household.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_without_position(session: Session, team_id: int | None = None) -> int:
    """How many households still need a position (route planning cannot place them)."""
    query = select(func.count(Household.id)).where(_needs_position(team_id))
    return session.scalar(query) or 0


def geocode_households(
    session: Session,
    geocoder: Geocoder,
    limit: int | None = None,
    progress: Callable[[int, int, Household], None] | None = None,
) -> GeocodeReport:
    """Geocode every household without coordinates, one request at a time.

    `progress(done, total, household)` is called after each household. Flushes, never
    commits: the caller commits (a long run may commit from the callback).
    """
    office, country = _office_and_country(session)
    households = households_without_position(session, limit)
    report = GeocodeReport()
    for done, household in enumerate(households, start=1):
        problem, cached = geocode_household(session, geocoder, household, office, country)
        report.looked_up += 1
        report.from_cache += int(cached)
        if problem is None:
            report.placed += 1
        else:
            report.problems.append(problem)
        session.flush()
        if progress is not None:
            progress(done, len(households), household)
    return report


def _office_and_country(
    session: Session, team_id: int | None = None
) -> tuple[tuple[float, float] | None, str]:
    organisation = organisation_of(session, team_id)
    if organisation is None:
        return None, ""
    office = None
    if organisation.office_lat is not None and organisation.office_lon is not None:
        office = (organisation.office_lat, organisation.office_lon)
    return office, organisation.country


def geocode_next(
    session: Session,
    geocoder: Geocoder,
    after_id: int,
    size: int = 10,
    team_id: int | None = None,
) -> tuple[GeocodeReport, int | None]:
    """Geocode the next few households without a position after a cursor (a household id).

    For a run split over several requests (the import page shows its progress): returns what
    this batch did and the cursor to go on from, or None when there is nothing left. Households
    the geocoder could not place are not visited again in the same run.
    """
    office, country = _office_and_country(session, team_id)
    households = list(
        session.scalars(
            select(Household)
            .where(_needs_position(team_id), Household.id > after_id)
            .order_by(Household.id)
            .limit(size)
        )
    )
    report = GeocodeReport()
    for household in households:
        problem, cached = geocode_household(session, geocoder, household, office, country)
        report.looked_up += 1
        report.from_cache += int(cached)
        if problem is None:
            report.placed += 1
        else:
            report.problems.append(problem)
    session.flush()
    return report, (households[-1].id if len(households) == size else None)
