"""Geocoding against a local server that answers like Nominatim's /search: found, not found,
errors, timeouts, far away; the cache; a hand-placed pin always wins."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from fieldapp.models import Case, GeocodeResult, Household, Organisation
from fieldapp.services.geocoding import (
    geocode_households,
    make_geocoder,
    place_pin,
)

OFFICE = (56.0361, 12.6136)


class FakeNominatim(BaseHTTPRequestHandler):
    """Answers by the street in the query: Stengade is found in town, Karl Johans gate in
    Oslo, Ingenvej nowhere; Fejlvej gets HTTP 500 and Sovevej answers too late."""

    requests: Counter = Counter()

    def do_GET(self):  # noqa: N802 - the http.server interface
        parts = urlsplit(self.path)
        query = parse_qs(parts.query).get("q", [""])[0]
        street = query.split(",")[0]
        FakeNominatim.requests[street] += 1
        if parts.path != "/search":
            return self._send(404, {"error": "unknown path"})
        if street.startswith("Fejlvej"):
            return self._send(500, {"error": "internal"})
        if street.startswith("Sovevej"):
            time.sleep(1.5)
            return self._send(200, [])
        if street.startswith("Ingenvej"):
            return self._send(200, [])
        lat, lon = (59.9133, 10.7389) if street.startswith("Karl Johans") else (56.0371, 12.6101)
        place = {
            "place_id": 1,
            "lat": str(lat),
            "lon": str(lon),
            "display_name": f"{street}, Helsingør, Danmark",
            "class": "building",
            "type": "residential",
            "addresstype": "building",
            "importance": 0.31,
        }
        return self._send(200, [place])

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def nominatim():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNominatim)
    server.daemon_threads = True
    FakeNominatim.requests = Counter()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def settings(url: str) -> dict:
    return {
        "GEOCODER": "nominatim",
        "GEOCODER_URL": url,
        "GEOCODER_USER_AGENT": "doorstep-tests",
        "GEOCODER_MIN_DELAY_SECONDS": 0.0,
        "GEOCODER_TIMEOUT_SECONDS": 0.5,
        "GEOCODER_MAX_RETRIES": 1,
        "GEOCODER_ERROR_WAIT_SECONDS": 0.0,
        "GEOCODER_MAX_KM": 30.0,
    }


def _households(session, make_case, addresses: list[str]) -> dict[str, int]:
    ids = {}
    for address in addresses:
        case_id = make_case(address=address)
        ids[address] = session.get(Case, case_id).tenancy.household_id
    organisation = session.scalar(select(Organisation))
    organisation.office_lat, organisation.office_lon = OFFICE
    session.commit()
    return ids


def test_bulk_geocoding_places_found_addresses_and_lists_the_rest(session, make_case, nominatim):
    ids = _households(
        session,
        make_case,
        ["Stengade 1", "Karl Johans gate 1", "Ingenvej 9", "Fejlvej 2", "Sovevej 3"],
    )
    seen = []
    report = geocode_households(
        session, make_geocoder(settings(nominatim), "DK"), progress=lambda *a: seen.append(a[:2])
    )
    session.commit()
    assert seen == [(n, 5) for n in range(1, 6)]
    found = session.get(Household, ids["Stengade 1"])
    assert (found.lat, found.lon) == pytest.approx((56.0371, 12.6101))
    assert (found.geo_source, found.geo_accuracy) == ("nominatim", "building")
    problems = {p.household_id: p for p in report.problems}
    assert problems[ids["Karl Johans gate 1"]].reason == "too_far"
    assert problems[ids["Karl Johans gate 1"]].distance_km > 400
    assert problems[ids["Ingenvej 9"]].reason == "not_found"
    assert problems[ids["Fejlvej 2"]].reason == "failed"
    assert problems[ids["Sovevej 3"]].reason == "failed"
    assert "timed out" in problems[ids["Sovevej 3"]].detail.lower()
    assert report.placed == 1 and len(report.problems) == 4
    # Nothing listed was placed: no household ends up in Oslo or the sea.
    for address in ("Karl Johans gate 1", "Ingenvej 9", "Fejlvej 2", "Sovevej 3"):
        assert session.get(Household, ids[address]).lat is None
    # Failures were retried once; the answers were cached, failures not trusted.
    assert FakeNominatim.requests["Fejlvej 2"] == 2
    assert FakeNominatim.requests["Stengade 1"] == 1
    cached = {r.query.split(",")[0]: r for r in session.scalars(select(GeocodeResult))}
    assert cached["Ingenvej 9"].error == "not_found"
    assert cached["Karl Johans gate 1"].lat == pytest.approx(59.9133)

    # A second run asks the server only about failures; the rest comes from the cache.
    before = Counter(FakeNominatim.requests)
    again = geocode_households(session, make_geocoder(settings(nominatim), "DK"))
    asked = FakeNominatim.requests - before
    assert set(asked) == {"Fejlvej 2", "Sovevej 3"}
    assert again.looked_up == 4 and again.from_cache == 2


def test_a_hand_placed_pin_always_wins(session, make_case, nominatim):
    ids = _households(session, make_case, ["Stengade 5"])
    household = session.get(Household, ids["Stengade 5"])
    place_pin(household, 56.05, 12.59)
    session.commit()
    report = geocode_households(session, make_geocoder(settings(nominatim)))
    assert report.looked_up == 0 and FakeNominatim.requests["Stengade 5"] == 0
    assert (household.lat, household.lon, household.geo_source) == (56.05, 12.59, "manual")
    # Even a pin without coordinates yet is never filled in by the geocoder.
    household.lat = household.lon = None
    session.commit()
    assert geocode_households(session, make_geocoder(settings(nominatim))).looked_up == 0
    with pytest.raises(ValueError):
        place_pin(household, 123.0, 12.0)


def test_geocode_command_prints_progress_and_problems(app, session, make_case, nominatim, runner):
    _households(session, make_case, ["Stengade 7", "Ingenvej 8"])
    app.config.update(settings(nominatim))
    result = runner.invoke(args=["geocode", "--limit", "5"])
    assert result.exit_code == 1, result.output
    assert "[1/2] Stengade 7" in result.output and "[2/2] Ingenvej 8" in result.output
    assert "Placed 1 of 2 households" in result.output
    assert "Ingenvej 8" in result.output.split("to fix.")[1]
    app.config["GEOCODER"] = ""
    result = runner.invoke(args=["geocode"])
    assert result.exit_code == 1 and "FIELDAPP_GEOCODER" in result.output
