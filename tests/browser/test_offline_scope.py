"""What the phone keeps without network: only Today and the cards on it (and tomorrow's route),
each until the server's X-Doorstep-Keep-Until; past that, or off the list, it is gone. A
colleague's case read from the team page is never kept."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.test_offline import Field, case_id_of

pytestmark = pytest.mark.browser

KEPT = """async () => {
    const cache = await caches.open("doorstep-pages");
    const kept = {};
    for (const request of await cache.keys()) {
        const response = await cache.match(request, {ignoreVary: true});
        // the service worker may delete an entry between keys() and match()
        if (!response) continue;
        kept[new URL(request.url).pathname] = response.headers.get("X-Doorstep-Keep-Until");
    }
    return kept;
}"""

PLANT = """async ([path, until]) => {
    const cache = await caches.open("doorstep-pages");
    const headers = {"Content-Type": "text/html; charset=utf-8", "X-Doorstep-Keep-Until": until};
    await cache.put(new URL(path, location.origin).href,
                    new Response("<h1 id=planted>Planted earlier</h1>", {headers}));
}"""


def wait_for(page, predicate, what: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not predicate(page.evaluate(KEPT)):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_the_phone_keeps_only_todays_pages_and_lets_go_of_them(browser, tmp_path):
    phone = Field(browser, tmp_path)
    page = phone.page
    try:
        urls = phone.open_today()
        kept = page.evaluate(KEPT)
        now = datetime.now(UTC)
        for url in urls + ["/today"]:
            until = datetime.fromisoformat(kept[url].replace("Z", "+00:00"))
            assert now < until <= now + timedelta(hours=25), (url, kept[url])
        assert set(kept) <= set(urls) | {"/today"}

        # Yesterday's copy of a card is not shown once its day is over, and is deleted.
        page.evaluate(PLANT, [urls[0], "2020-01-01T00:00:00Z"])
        phone.context.set_offline(True)
        page.goto(urls[0])
        expect(page.locator("h1")).to_have_text("No network")
        assert urls[0] not in page.evaluate(KEPT)

        # Back online, opening Today keeps its cards again and lets go of a card that is no
        # longer on it, however long it was to be kept.
        phone.context.set_offline(False)
        page.evaluate(PLANT, ["/field/cases/999999", "2099-01-01T00:00:00Z"])
        page.goto("/today")
        wait_for(
            page,
            lambda k: urls[0] in k and "/field/cases/999999" not in k,
            "the card off the list was not dropped, or today's card not kept again",
        )
    finally:
        phone.close()


def test_a_colleagues_case_is_read_only_and_never_kept(browser, tmp_path):
    phone = Field(browser, tmp_path)
    page = phone.page
    try:
        mine = {case_id_of(url) for url in phone.open_today()}
        page.goto("/team")
        links = page.locator("#team-cases a")
        theirs = [
            href
            for href in (links.nth(i).get_attribute("href") for i in range(links.count()))
            if case_id_of(href) not in mine
        ]
        assert theirs, "the demo team has no colleague's case to read"
        page.goto(theirs[0])
        expect(page.locator("#read-only")).to_be_visible()
        expect(page.locator("form[data-outbox]")).to_have_count(0)
        expect(page).to_have_url(re.compile(re.escape(theirs[0]) + "$"))
        page.wait_for_timeout(500)  # let the service worker finish with the response
        assert theirs[0] not in page.evaluate(KEPT)
        phone.context.set_offline(True)
        page.goto(theirs[0])
        expect(page.locator("h1")).to_have_text("No network")
    finally:
        phone.close()


def test_an_empty_today_lets_go_of_every_card(browser, tmp_path):
    phone = Field(browser, tmp_path)
    page = phone.page
    try:
        urls = phone.open_today()
        assert urls
        with phone.engine.begin() as connection:  # the lead takes every case back
            connection.execute(text("update route set state = 'replaced'"))
            connection.execute(text("update case_file set assigned_worker_id = null"))
        page.goto("/today")
        expect(page.locator("#today-list")).to_have_count(0)
        wait_for(
            page,
            lambda kept: not any(url in kept for url in urls),
            "cards stayed on the phone after Today became empty",
        )
    finally:
        phone.close()
