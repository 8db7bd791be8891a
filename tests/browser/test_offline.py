"""Nothing recorded in the field is lost: offline, on replay, on errors, on expiry, on update.

Each test drives Debian's Chromium against a real `fieldapp demo` server of its own and
counts what reached the register in its database.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.browser.conftest import PHONE, log_in, start_demo_server

pytestmark = pytest.mark.browser


class Field:
    """A worker's phone against its own demo server."""

    def __init__(self, browser, tmp_path, extra_env=None):
        self.server = start_demo_server(tmp_path, extra_env)
        self.engine = create_engine(self.server.database_url)
        self.browser = browser
        self.context = browser.new_context(base_url=self.server.url, locale="en-GB", **PHONE)
        self.page = self.context.new_page()

    def count(self, table: str, case_id: int | None = None) -> int:
        where = f" where case_id = {int(case_id)}" if case_id else ""
        with self.engine.connect() as connection:
            return connection.execute(text(f"select count(*) from {table}{where}")).scalar()

    def open_today(self, email="worker@example.org") -> list[str]:
        log_in(self.page, email)
        expect(self.page).to_have_url(re.compile(r"/today$"))
        links = self.page.locator("#today-list a[data-offline-url]")
        urls = [links.nth(i).get_attribute("data-offline-url") for i in range(links.count())]
        # The route is made available offline as soon as it is opened.
        deadline = time.monotonic() + 30
        while not self.page.evaluate(
            """async (wanted) => {
                const cache = await caches.open("doorstep-pages");
                const keys = (await cache.keys()).map((r) => new URL(r.url).pathname);
                return wanted.every((u) => keys.includes(u));
            }""",
            urls,
        ):
            assert time.monotonic() < deadline, "the route's pages were not cached within 30 s"
            time.sleep(0.2)
        return urls

    def waiting(self) -> int:
        return int(self.page.locator("#outbox-bar").get_attribute("data-count") or 0)

    def close(self):
        self.context.close()
        self.engine.dispose()
        self.server.stop()


@pytest.fixture
def field(browser, tmp_path):
    phone = Field(browser, tmp_path)
    yield phone
    phone.close()


def case_id_of(url: str) -> int:
    return int(url.rstrip("/").rsplit("/", 1)[1])


def record_visit(page, result="Met the tenant"):
    form = page.locator("#visit-form")
    form.get_by_label(result).check()
    form.get_by_label("Notes").fill("Talked at the door about the arrears.")
    form.get_by_role("button", name="Save visit").click()


def sign(page):
    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 30)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 60, steps=8)
    page.mouse.move(box["x"] + 220, box["y"] + 25, steps=8)
    page.mouse.up()


def record_consent_and_two_needs(page):
    consent = page.locator("#consent-form")
    consent.get_by_label("Debt counselling").check()
    consent.get_by_label("Landlord").check()
    sign(page)
    consent.get_by_role("button", name="Save consent").click()
    needs = page.locator("#needs-form")
    needs.get_by_label("Debt counselling", exact=True).check()
    needs.get_by_label("Budget", exact=True).check()
    needs.get_by_role("button", name="Save needs").click()


def test_a_visit_with_consent_and_needs_recorded_offline_arrives_exactly_once(field):
    page = field.page
    urls = field.open_today()
    case_id = case_id_of(urls[0])
    field.context.set_offline(True)
    page.goto(urls[0])  # served from the phone's cache
    expect(page.locator("#visit-form")).to_be_visible()
    record_visit(page)
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "1")
    record_consent_and_two_needs(page)
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "4")
    page.reload()  # still offline: the records are still on the phone
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "4")
    expect(page.locator("#case-waiting-list li")).to_have_count(4)
    assert field.count("visit", case_id) == 0  # the demo holds visits of its history
    field.context.set_offline(False)
    page.locator("#sync-now").click()
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "0", timeout=15000)
    assert field.count("visit", case_id) == 1
    assert field.count("consent", case_id) == 1
    assert field.count("need", case_id) == 2


def test_replays_and_double_taps_make_one_record(field):
    page = field.page
    urls = field.open_today()
    case_id = case_id_of(urls[0])
    page.goto(urls[0])
    field.context.set_offline(True)
    form = page.locator("#visit-form")
    form.get_by_label("Not at home").check()
    form.get_by_role("button", name="Save visit").dblclick()
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "1")
    record = page.evaluate(
        """async () => {
            const { outbox } = await import("/static/js/outbox.js");
            const [stored] = await outbox.all();
            const { uuid, type, case_id, data, recorded_at } = stored;
            return { uuid, type, case_id, data, recorded_at };
        }"""
    )
    # Back online the page sends it by itself; replay it ten more times, as a flaky line would.
    field.context.set_offline(False)
    statuses = page.evaluate(
        """async (record) => {
            const out = [];
            for (let i = 0; i < 10; i++) {
                const response = await fetch("/sync", {method: "POST",
                    headers: {"Content-Type": "application/json", "X-Doorstep-Sync": "1"},
                    body: JSON.stringify({records: [record]})});
                const body = await response.json();
                const status = body.results ? body.results[0].status : "";
                out.push(status || `${response.status} ${JSON.stringify(body)}`);
            }
            return out;
        }""",
        record,
    )
    assert set(statuses) <= {"applied", "duplicate"} and statuses.count("applied") <= 1
    page.locator("#sync-now").click()
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "0", timeout=15000)
    assert field.count("visit", case_id) == 1


def test_server_errors_and_timeouts_lose_nothing(field):
    page = field.page
    urls = field.open_today()
    case_id = case_id_of(urls[0])
    page.goto(urls[0])
    calls = {"n": 0}

    def broken(route):
        calls["n"] += 1
        if calls["n"] == 1:
            route.fulfill(status=500, body="Internal Server Error")
        else:
            route.abort("timedout")

    field.context.route("**/sync", broken)
    record_visit(page)
    record_consent_and_two_needs(page)
    page.locator("#sync-now").click()
    expect(page.locator("#outbox-message")).to_have_class(re.compile("error"))
    assert field.waiting() == 4 and field.count("visit", case_id) == 0
    field.context.unroute("**/sync")
    page.locator("#sync-now").click()
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "0", timeout=15000)
    assert (field.count("visit", case_id), field.count("need", case_id)) == (1, 2)
    assert calls["n"] >= 1


def test_an_expired_session_keeps_the_outbox_until_the_next_login(field):
    page = field.page
    urls = field.open_today()
    case_id = case_id_of(urls[0])
    page.goto(urls[0])
    field.context.set_offline(True)
    record_visit(page)
    with field.engine.begin() as connection:  # the session ends on the server meanwhile
        connection.execute(
            text("update user_session set ended_at = created_at, ended_reason = 'idle'")
        )
    field.context.set_offline(False)
    page.locator("#sync-now").click()
    expect(page.locator("#outbox-bar")).to_have_class(re.compile("needs-login"))
    assert field.waiting() == 1 and field.count("visit", case_id) == 0
    log_in(page, "worker@example.org")
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "0", timeout=15000)
    assert field.count("visit", case_id) == 1


SHELL_CACHES = (
    """caches.keys().then((names) => names.filter((n) => n.startsWith("doorstep-shell-")))"""
)


def test_a_new_service_worker_version_keeps_the_outbox(browser, tmp_path):
    phone = Field(browser, tmp_path)
    try:
        page = phone.page
        urls = phone.open_today()
        page.goto(urls[0])
        first_shell = page.evaluate(SHELL_CACHES)
        assert len(first_shell) == 1
        phone.context.set_offline(True)
        record_visit(page)
        expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "1")
        # While the phone is offline, the site is released again with a new service worker.
        port = int(phone.server.url.rsplit(":", 1)[1])
        phone.server.stop()
        phone.server = start_demo_server(tmp_path, {"FIELDAPP_SERVICE_WORKER_SALT": "v2"}, port)
        phone.context.set_offline(False)
        page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
        deadline = time.monotonic() + 30
        # Activation of the new version deletes the old version's shell cache.
        while first_shell[0] in page.evaluate(SHELL_CACHES) or not page.evaluate(SHELL_CACHES):
            assert time.monotonic() < deadline, "the new service worker did not take over"
            time.sleep(0.2)
        page.reload()
        expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "0", timeout=20000)
        assert phone.count("visit", case_id_of(urls[0])) == 1
    finally:
        phone.close()


def test_worker_and_lead_editing_one_phone_number_offline_make_a_conflict(browser, tmp_path):
    one = Field(browser, tmp_path)
    try:
        urls = one.open_today("worker@example.org")
        card = urls[0]
        other_context = browser.new_context(base_url=one.server.url, locale="en-GB", **PHONE)
        other = other_context.new_page()
        log_in(other, "lead@example.org")
        other.goto(card)  # the team lead out on the same case with their own phone
        one.page.goto(card)
        one.context.set_offline(True)
        other_context.set_offline(True)
        for page, phone in ((one.page, "+45 11 11 11 11"), (other, "+45 22 22 22 22")):
            page.locator("#contact-details > summary").click()  # folded under the steps
            page.get_by_label("Phone", exact=True).fill(phone)
            page.get_by_role("button", name="Save contact details").click()
            expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "1")
        for context, page in ((one.context, one.page), (other_context, other)):
            context.set_offline(False)
            page.locator("#sync-now").click()
            expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "0", timeout=15000)
        assert one.count("case_conflict") == 1
        other_context.close()
        lead_context = browser.new_context(base_url=one.server.url, locale="en-GB")
        lead = lead_context.new_page()
        log_in(lead, "lead@example.org")
        expect(lead.locator("#conflicts")).to_contain_text("+4522222222")
        lead_context.close()
    finally:
        one.close()


def test_logout_sends_the_outbox_first_and_never_drops_it_silently(field):
    page = field.page
    urls = field.open_today()
    case_id = case_id_of(urls[0])
    page.goto(urls[0])
    field.context.route("**/sync", lambda route: route.fulfill(status=503, body="down"))
    record_visit(page)
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "1")
    messages: list[str] = []

    def refuse(dialog):
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", refuse)
    page.locator("#logout").click()
    deadline = time.monotonic() + 15
    while not messages:
        assert time.monotonic() < deadline, "no warning before logging out with unsent records"
        page.wait_for_timeout(100)
    expect(page.locator("#outbox-bar")).to_be_visible()
    assert "1 records have not been sent" in messages[0]
    assert field.waiting() == 1  # still logged in, nothing dropped
    field.context.unroute("**/sync")
    page.locator("#logout").click()  # now the outbox goes out before logging out
    expect(page).to_have_url(re.compile(r"/login$"))
    assert field.count("visit", case_id) == 1
    # Logging out wiped the phone's cached pages and the outbox. (The login page may already
    # have installed a fresh service worker with its app shell: code and the logged-out
    # offline page, nothing personal.)
    keys = page.evaluate("caches.keys()")
    assert [key for key in keys if not key.startswith("doorstep-shell-")] == []
    assert (
        page.evaluate(
            """() => new Promise((resolve) => {
            const request = indexedDB.open("doorstep", 1);
            request.onupgradeneeded = () => resolve("empty");
            request.onsuccess = () => {
                const db = request.result;
                if (!db.objectStoreNames.contains("outbox")) return resolve("empty");
                const all = db.transaction("outbox").objectStore("outbox").getAll();
                all.onsuccess = () => resolve(all.result.length ? "records" : "empty");
            };
        })"""
        )
        == "empty"
    )


def test_the_service_worker_sends_the_outbox_with_no_page_open(field):
    # Background Sync wakes the service worker, not a page, when the connection returns: it
    # must send by itself (before, it only asked the open pages to send).
    page = field.page
    urls = field.open_today()
    case_id = case_id_of(urls[0])
    page.goto(urls[0])
    field.context.set_offline(True)
    record_visit(page)
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "1")
    field.context.new_page()  # about:blank keeps the browser context; no page of the app
    page.close()
    assert [p.url for p in field.context.pages] == ["about:blank"]
    assert field.count("visit", case_id) == 0
    field.context.set_offline(False)
    deadline = time.monotonic() + 20
    while field.count("visit", case_id) == 0:
        assert time.monotonic() < deadline, "the service worker did not send the outbox"
        time.sleep(0.2)
    assert field.count("visit", case_id) == 1
