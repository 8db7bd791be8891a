"""In real Chromium at a 1366×768 laptop: the lead plans tomorrow on a street map whose tiles
come from a tile server on 127.0.0.1 (and from nowhere else), drags a visit between lanes and
sees both lanes' times change, locks a visit that planning again keeps, and plans an imported
list with no case left out for want of a position."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, start_demo_server
from tests.tiles import TILE, TileServer

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parents[1] / "fixtures"
DESK = {"viewport": {"width": 1366, "height": 768}}


@pytest.fixture
def tiles():
    server = TileServer().start()
    yield server
    server.stop()


@pytest.fixture
def desk(browser, tmp_path, tiles):
    """The lead on a laptop, the demo with a street map from the local tile server."""
    server = start_demo_server(
        tmp_path,
        {
            "FIELDAPP_MAP_TILES_URL": tiles.template,
            "FIELDAPP_MAP_ATTRIBUTION": "© Test tiles",
            "FIELDAPP_ROUTING_TIME_LIMIT_SECONDS": "0.5",
        },
    )
    context = browser.new_context(base_url=server.url, locale="en-GB", **DESK)
    page = context.new_page()
    page.seen = []  # every URL the page asked for
    page.problems = []  # console errors (a CSP violation among them) and page errors
    page.on("request", lambda request: page.seen.append(request.url))
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    log_in(page, "lead@example.org")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.server = server
    yield page
    context.close()
    server.stop()


def plan_the_day(page) -> None:
    page.goto("/routes")
    plan_box = page.locator("details.plan-box")
    if plan_box.get_attribute("open") is None:
        plan_box.locator("summary").click()
    page.locator("#plan-button").click()
    expect(page.locator("#plan-summary")).to_be_visible()


def lane_times(page) -> dict[str, str]:
    return {
        lane.get_attribute("id"): lane.locator(".lane-times").inner_text()
        for lane in page.locator("section.lane").all()
    }


def drag(page, item, onto) -> None:
    """Press on a visit, move past SortableJS's threshold, then over another visit, release."""
    item.evaluate("element => element.scrollIntoView({block: 'center'})")
    start = item.locator(".stop-time").bounding_box()
    end = onto.bounding_box()
    assert end["y"] + end["height"] <= page.viewport_size["height"], "drop target off screen"
    page.mouse.move(start["x"] + 5, start["y"] + 5)
    page.mouse.down()
    page.mouse.move(start["x"] + 25, start["y"] + 25, steps=5)
    page.mouse.move(end["x"] + 20, end["y"] + end["height"] * 0.75, steps=15)
    # SortableJS's pointer fallback looks for the list under the pointer every 50 ms: hold
    # still over the target for a few of those before letting go, as a hand does.
    page.mouse.move(end["x"] + 22, end["y"] + end["height"] * 0.75, steps=2)
    page.wait_for_timeout(250)
    page.mouse.up()


def test_the_street_map_loads_tiles_from_the_configured_source_only(desk, tiles):
    page = desk
    plan_the_day(page)
    expect(page.locator(".street-map .leaflet-tile-loaded").first).to_be_attached(timeout=15000)
    expect(page.locator(".street-map .stop-marker").first).to_be_visible()
    assert page.locator(".street-map .office-marker").count() == 1
    expect(page.locator(".leaflet-control-attribution")).to_have_text("© Test tiles")
    # Every request went to the app or to the tile host; the tile host got tile numbers only,
    # and no page address (the referrer policy keeps it to our own origin).
    origins = {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in page.seen}
    assert origins == {page.server.url, tiles.origin}, origins
    assert tiles.requests and all(TILE.match(r.path) for r in tiles.requests)
    assert not any("referer" in r.headers for r in tiles.requests)
    assert "Leaflet" not in page.locator("body").inner_text()
    assert page.problems == []


def test_dragging_a_visit_between_lanes_changes_both_lanes_times(desk):
    page = desk
    plan_the_day(page)
    before = lane_times(page)
    lanes = page.locator("ol.stops.sortable")
    source, target = lanes.nth(0), lanes.nth(1)
    source_id = source.locator("xpath=ancestor::section[1]").get_attribute("id")
    target_id = target.locator("xpath=ancestor::section[1]").get_attribute("id")
    moved = source.locator("li.stop").first
    address = moved.locator(".stop-body a").inner_text()
    drag(page, moved, target.locator("li.stop").first)  # the lanes' tops are side by side
    expect(page.locator("#dispatch-notice")).to_have_text("Visit moved; the times are recomputed.")
    after = lane_times(page)
    assert after[source_id] != before[source_id] and after[target_id] != before[target_id]
    expect(page.locator(f"#{target_id} li.stop", has_text=address)).to_have_count(1)
    expect(page.locator(f"#{source_id} li.stop", has_text=address)).to_have_count(0)
    # The map was drawn again for the new plan, with its tiles.
    expect(page.locator(".street-map .leaflet-tile-loaded").first).to_be_attached(timeout=15000)
    # Without drag and drop: the ↓ button moves a visit one place later, by keyboard too.
    first = page.locator("ol.stops.sortable").nth(0).locator("li.stop").first
    text = first.locator(".stop-body a").inner_text()
    first.get_by_role("button", name=f"Later: {text}").focus()
    page.keyboard.press("Enter")
    expect(page.locator("ol.stops.sortable").nth(0).locator("li.stop").nth(1)).to_contain_text(text)
    assert page.problems == []


def test_a_locked_visit_stays_with_its_worker_through_planning_again(desk):
    page = desk
    plan_the_day(page)
    lane = page.locator("section.lane").nth(1)
    lane_id = lane.get_attribute("id")
    stop = lane.locator("li.stop").last
    address = stop.locator(".stop-body a").inner_text()
    stop.locator("summary", has_text="Change").click()
    expect(stop.locator("details.stop-change")).to_have_attribute("open", "")
    lock = stop.locator("input[name=locked]")
    expect(lock.locator("xpath=..")).to_contain_text("Lock to ")
    lock.check()
    stop.get_by_role("button", name="Save").click()
    expect(page.locator("#dispatch-notice")).to_have_text("Saved: planning again keeps it.")
    expect(
        page.locator(f"#{lane_id} li.stop", has_text=address).locator(".badge.locked")
    ).to_be_visible()
    for mode in ("Plan the day again", "Keep who visits whom, fit in new cases"):
        page.locator("details.plan-box summary").click()
        page.get_by_label(mode).check()
        page.locator("#plan-button").click()
        expect(page.locator("#plan-summary")).to_be_visible()
        kept = page.locator(f"#{lane_id} li.stop", has_text=address)
        expect(kept).to_have_count(1)
        expect(kept.locator(".badge.locked")).to_be_visible()


def test_an_imported_list_is_planned_with_no_case_left_out_for_want_of_a_position(desk):
    page = desk
    page.get_by_role("link", name="Import").click()
    page.locator("summary").click()
    page.get_by_label("Name of the new landlord").fill("Boligforeningen Kronborg")
    sample = FIXTURES / "restanceliste_boligforening_2026-11-15.csv"
    page.get_by_label("File (CSV or Excel)").set_input_files(str(sample))
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Confirm and import").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Imported")
    plan_the_day(page)
    left_out = page.locator("#left-out")
    if left_out.count():
        expect(left_out).not_to_contain_text("no position on the map")
    # The imported tenants are among the day's visits (the list's addresses, up to the comma).
    rows = sample.read_text(encoding="cp1252").splitlines()[1:]
    addresses = {row.split(";")[2].split(",")[0] for row in rows if row.count(";") > 3}
    planned = {a.split(",")[0] for a in page.locator("section.lane .stop-body a").all_inner_texts()}
    assert planned & addresses, "no imported tenant was planned"


# Helsingør station in UTM zone 32 (ETRS89), computed with proj4 2.22.0 from 56.0338 N 12.6127 E.
HELSINGOR_UTM = (725063.5, 6215729.4)
VIEW1 = (120000.0, 6500000.0), [1638.4 / 2**n for n in range(14)]


def test_a_danish_wmts_in_utm_zone_32_is_asked_for_the_right_tiles(browser, tmp_path, tiles):
    """Dataforsyningen's skærmkort is served only in EPSG:25832 (tile matrix set View1): the
    map asks for WMTS GetTile tiles whose column and row cover Helsingør at their level."""
    server = start_demo_server(
        tmp_path,
        {
            "FIELDAPP_MAP_TILES_URL": tiles.wmts_template,
            "FIELDAPP_MAP_TILES_KEY": "test-token",
            "FIELDAPP_MAP_CRS": "EPSG:25832",
            "FIELDAPP_MAP_ATTRIBUTION": "© SDFI",
            "FIELDAPP_ROUTING_TIME_LIMIT_SECONDS": "0.5",
        },
    )
    context = browser.new_context(base_url=server.url, locale="en-GB", **DESK)
    try:
        page = context.new_page()
        problems = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        log_in(page, "lead@example.org")
        plan_the_day(page)
        expect(page.locator(".street-map .leaflet-tile-loaded").first).to_be_attached(timeout=15000)
        expect(page.locator(".street-map .stop-marker").first).to_be_visible()
        (origin_x, origin_y), resolutions = VIEW1
        near = 0
        for request in tiles.requests:
            query = {k: v[-1] for k, v in parse_qs(urlsplit(request.path).query).items()}
            assert query["TILEMATRIXSET"] == "View1" and query["token"] == "test-token"
            level = int(query["TILEMATRIX"][1:])
            size = 256 * resolutions[level]
            column = (HELSINGOR_UTM[0] - origin_x) / size
            row = (origin_y - HELSINGOR_UTM[1]) / size
            # The demo's visits lie within about 6 km of the station: the view's tiles are
            # around it at whatever level the map chose.
            reach = 3 + 6000 / size
            near += abs(int(query["TILECOL"]) - column) <= reach and (
                abs(int(query["TILEROW"]) - row) <= reach
            )
        assert tiles.requests and near == len(tiles.requests), (near, len(tiles.requests))
        assert problems == []
    finally:
        context.close()
        server.stop()


def test_on_a_tablet_a_finger_drags_a_visit_between_lanes(browser, tmp_path, tiles):
    """Touch events from Chromium's input layer (as a finger makes them): press and hold on a
    visit, move it onto another lane, lift; both lanes are recomputed."""
    server = start_demo_server(tmp_path, {"FIELDAPP_ROUTING_TIME_LIMIT_SECONDS": "0.5"})
    context = browser.new_context(
        base_url=server.url,
        locale="en-GB",
        viewport={"width": 1280, "height": 800},
        has_touch=True,
        is_mobile=True,
    )
    try:
        page = context.new_page()
        log_in(page, "lead@example.org")
        plan_the_day(page)
        before = lane_times(page)
        lanes = page.locator("ol.stops.sortable")
        source, target = lanes.nth(0), lanes.nth(1)
        source_id = source.locator("xpath=ancestor::section[1]").get_attribute("id")
        target_id = target.locator("xpath=ancestor::section[1]").get_attribute("id")
        item = source.locator("li.stop").first
        item.evaluate("element => element.scrollIntoView({block: 'center'})")
        address = item.locator(".stop-body a").inner_text()
        start = item.locator(".stop-time").bounding_box()
        end = target.locator("li.stop").first.bounding_box()
        cdp = context.new_cdp_session(page)

        def touch(kind: str, x: float, y: float) -> None:
            points = [] if kind == "touchEnd" else [{"x": x, "y": y, "id": 1}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

        x0, y0 = start["x"] + 5, start["y"] + 5
        x1, y1 = end["x"] + 20, end["y"] + end["height"] * 0.75
        touch("touchStart", x0, y0)
        page.wait_for_timeout(400)  # hold: a short press starts the drag, a swipe scrolls
        for step in range(1, 21):
            touch("touchMove", x0 + (x1 - x0) * step / 20, y0 + (y1 - y0) * step / 20)
            page.wait_for_timeout(20)
        page.wait_for_timeout(250)
        touch("touchEnd", x1, y1)
        expect(page.locator("#dispatch-notice")).to_have_text(
            "Visit moved; the times are recomputed."
        )
        after = lane_times(page)
        assert after[source_id] != before[source_id] and after[target_id] != before[target_id]
        expect(page.locator(f"#{target_id} li.stop", has_text=address)).to_have_count(1)
    finally:
        context.close()
        server.stop()


def test_a_case_without_a_position_is_placed_by_a_click_on_the_map(desk):
    """A household the gazetteer does not know is left out "no position on the map"; the lead
    presses *Place on the map*, clicks the map, and the case has a manual pin."""
    import sqlite3

    page = desk
    path = page.server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        household_id, case_id = connection.execute(
            "SELECT h.id, c.id FROM household h JOIN tenancy t ON t.household_id = h.id "
            "JOIN case_file c ON c.tenancy_id = t.id WHERE c.status = 'new' ORDER BY c.id LIMIT 1"
        ).fetchone()
        connection.execute(
            "UPDATE household SET address = 'Ukendt Vej 9', lat = NULL, lon = NULL, "
            "geo_source = '' WHERE id = ?",
            (household_id,),
        )
        connection.execute("UPDATE case_file SET priority = 99 WHERE id = ?", (case_id,))
    plan_the_day(page)
    row = page.locator(f"#left-out-{case_id}")
    expect(row).to_contain_text("Ukendt Vej 9")
    expect(row).to_contain_text("no position on the map")
    row.get_by_role("button", name="Place on the map").click()
    expect(page.locator(".street-map.placing")).to_be_visible()
    box = page.locator(".street-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#dispatch-notice")).to_have_text(
        "Placed on the map. Plan again to include it."
    )
    with sqlite3.connect(path) as connection:
        lat, lon, source = connection.execute(
            "SELECT lat, lon, geo_source FROM household WHERE id = ?", (household_id,)
        ).fetchone()
    assert source == "manual" and 55.9 < lat < 56.2 and 12.3 < lon < 12.8
    expect(page.locator(f"#left-out-{case_id}")).to_contain_text("placed by hand")
    # Planned again, the case is in a lane (or left out for another reason than a position).
    page.locator("details.plan-box summary").click()
    page.get_by_label("Keep who visits whom, fit in new cases").check()
    page.locator("#plan-button").click()
    expect(page.locator("#plan-summary")).to_be_visible()
    left = page.locator(f"#left-out-{case_id}")
    if left.count():
        expect(left).not_to_contain_text("no position on the map")
