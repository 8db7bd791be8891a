"""The offline round in every phone's engine: Chromium, WebKitGTK (Safari's engine, over HTTPS)
and Firefox ESR. Each test gets a phone of its own (tests/browser/engines.py), a `fieldapp demo`
server of its own and the phone's network in front of it (tests/browser/network.py), so that
"no signal" is a connection refused, the same in every engine. What reached the register is
counted in the server's database.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from sqlalchemy import create_engine, text

from tests.browser.test_engines_smoke import log_in, open_today

pytestmark = pytest.mark.browser

PAGES_KEPT = """async () => {
    const cache = await caches.open("doorstep-pages");
    return (await cache.keys()).map((r) => new URL(r.url).pathname);
}"""
OUTBOX_ROWS = """() => new Promise((resolve) => {
    const request = indexedDB.open("doorstep");
    request.onsuccess = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains("outbox")) { db.close(); return resolve(0); }
        const all = db.transaction("outbox").objectStore("outbox").getAll();
        all.onsuccess = () => { db.close(); resolve(all.result.length); };
    };
    request.onerror = () => resolve(-1);
})"""


class Register:
    """The server's database, for counting what arrived."""

    def __init__(self, database_url: str):
        self.engine = create_engine(database_url)

    def count(self, table: str, case_id: int) -> int:
        with self.engine.connect() as connection:
            query = text(f"select count(*) from {table} where case_id = :case")  # noqa: S608
            return connection.execute(query, {"case": case_id}).scalar()

    def end_every_session(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                text("update user_session set ended_at = created_at, ended_reason = 'idle'")
            )


@pytest.fixture
def register(engine_phone):
    kept = Register(engine_phone.server.database_url)
    yield kept
    kept.engine.dispose()


def case_of(url: str) -> int:
    return int(url.rstrip("/").rsplit("/", 1)[1])


def waiting(phone, count: int, timeout: float = 15) -> None:
    phone.wait_for_attribute("#outbox-bar", "data-count", str(count), timeout=timeout)


def record_visit(phone) -> None:
    phone.check("#visit-form input[name=result][value=met]")
    phone.fill("#visit-notes", "Talked at the door about the arrears.")
    phone.click("#visit-form button[type=submit]")


def record_signed_consent_and_two_needs(phone) -> None:
    phone.check("#consent-form input[name=scopes][value=debt_counselling]")
    phone.check("#consent-form input[name=scopes][value=landlord]")
    phone.draw_on("#signature-pad")
    phone.click("#consent-form button[type=submit]")
    phone.check("#needs-form input[name=need][value=debt_counselling]")
    phone.check("#needs-form input[name=need][value=budget]")
    phone.click("#needs-form button[type=submit]")


def test_recorded_offline_kept_over_reload_and_restart_and_sent_exactly_once(
    engine_phone, register
):
    phone = engine_phone
    urls = open_today(phone)
    case_id = case_of(urls[0])
    phone.network.offline()
    phone.goto(urls[0])  # from the phone's cache
    phone.wait_for("#visit-form")
    record_visit(phone)
    waiting(phone, 1)
    record_signed_consent_and_two_needs(phone)
    waiting(phone, 4)
    # The confirmation stands in the folded step, where the needs were.
    assert "Saved on the phone" in phone.text("#step-needs-done .form-message")
    phone.reload()  # still no signal
    waiting(phone, 4)
    # The phone's browser is closed and opened again (iOS does it to home-screen apps), still
    # without signal: the card and its records are there.
    phone.restart()
    phone.goto(urls[0])
    phone.wait_for("#visit-form")
    waiting(phone, 4)
    assert register.count("visit", case_id) == 0
    phone.network.online()
    # The login survived the restart, so the records go out without logging in again.
    phone.click("#sync-now")
    waiting(phone, 0, timeout=20)
    assert "needs-login" not in (phone.attribute("#outbox-bar", "class") or "")
    counts = [register.count(table, case_id) for table in ("visit", "consent", "need")]
    assert counts == [1, 1, 2]
    phone.click("#sync-now")  # once more: nothing is sent twice
    waiting(phone, 0)
    assert [register.count(table, case_id) for table in ("visit", "consent", "need")] == counts


def test_an_ended_session_keeps_the_outbox_until_the_next_login(engine_phone, register):
    phone = engine_phone
    urls = open_today(phone)
    case_id = case_of(urls[0])
    phone.goto(urls[0])
    phone.network.offline()
    record_visit(phone)
    waiting(phone, 1)
    register.end_every_session()  # idle too long, on the server, meanwhile
    phone.network.online()
    phone.click("#sync-now")
    phone.wait_until("document.getElementById('outbox-bar').classList.contains('needs-login')")
    assert phone.evaluate(OUTBOX_ROWS) == 1 and register.count("visit", case_id) == 0
    # The session's kept pages are gone at once: nobody reads them without logging in.
    assert phone.evaluate(PAGES_KEPT) == []
    log_in(phone)
    waiting(phone, 0, timeout=20)
    assert register.count("visit", case_id) == 1


def test_logout_wipes_what_the_phone_kept_without_relying_on_clear_site_data(engine_phone):
    phone = engine_phone
    urls = open_today(phone)
    phone.goto(urls[0])
    address = phone.text("h1")  # the household's address heads the card
    assert phone.evaluate(PAGES_KEPT)
    phone.click("#logout")
    # (Read in the page: after Clear-Site-Data, Playwright's page.url can stay on the card.)
    phone.wait_until("location.pathname === '/login'")
    phone.wait_until(f"({PAGES_KEPT})().then((kept) => kept.length === 0)")
    assert phone.evaluate(OUTBOX_ROWS) == 0
    phone.network.offline()
    for path in (urls[0], "/today"):
        # The service worker (if the browser still has it: Chromium's Clear-Site-Data removes
        # it) shows its offline page; without one the browser shows its own network error.
        with contextlib.suppress(Exception):
            phone.goto(path)
        shown = phone.wait_until(
            "document.readyState === 'complete' && (document.body?.innerText || ' ')"
        )
        assert address not in shown and "Save visit" not in shown, (path, shown[:300])
        assert not phone.visible("#visit-form")


def test_a_card_answered_with_a_redirect_to_the_login_is_not_kept(engine_phone, register):
    # The session ends on the server; the next time the card is opened online, the server
    # redirects to the login (in the service worker: an opaqueredirect, status 0). The kept
    # copy must go, so the card is not readable offline without a login.
    phone = engine_phone
    urls = open_today(phone)
    assert urls[0] in phone.evaluate(PAGES_KEPT)
    register.end_every_session()
    phone.goto(urls[0])
    phone.wait_until("location.pathname === '/login'")
    phone.wait_until(f"({PAGES_KEPT})().then((kept) => !kept.includes({urls[0]!r}))")
    phone.network.offline()
    phone.goto(urls[0])
    phone.wait_for("#offline-page")
    assert not phone.visible("#visit-form")


def tap_sync_until_the_bar_says(phone, words: str, timeout: float = 60) -> None:
    """Tap "Sync now" until the bar's message contains `words` (a person taps again when
    nothing seems to happen); fail saying what the bar said instead."""
    deadline = time.monotonic() + timeout
    said = ""
    while time.monotonic() < deadline:
        phone.click("#sync-now")
        tapped = time.monotonic()
        # One try lasts up to the outbox's request timeout (15 s): a connection the engine
        # had open when the trouble began can hang that long.
        while time.monotonic() - tapped < 17:
            # (Its words, read even while it is empty: an empty span is "not shown" to WebDriver.)
            said = phone.evaluate("document.querySelector('#outbox-message').textContent")
            if words in said:
                return
            time.sleep(0.2)
    raise AssertionError(f"{phone.engine}: the bar said {said!r}, not {words!r}")


def test_a_server_error_and_a_wifi_login_page_lose_nothing(engine_phone, register):
    phone = engine_phone
    urls = open_today(phone)
    case_id = case_of(urls[0])
    phone.goto(urls[0])
    phone.network.answer_everything(503, "text/html", "<h1>Service Unavailable</h1>")
    record_visit(phone)
    waiting(phone, 1)
    tap_sync_until_the_bar_says(phone, "failed")
    # A captive portal answers the send with its own page and 200: not the register's answer.
    phone.network.answer_everything(200, "text/html", "<html><h1>Log in to the Wi-Fi</h1></html>")
    tap_sync_until_the_bar_says(phone, "did not come from")
    assert phone.evaluate(OUTBOX_ROWS) == 1 and register.count("visit", case_id) == 0
    phone.network.online()
    phone.click("#sync-now")
    waiting(phone, 0, timeout=20)
    assert register.count("visit", case_id) == 1
    # The failure is not left standing beside "Everything is sent."
    message = phone.evaluate("document.querySelector('#outbox-message').textContent")
    assert "failed" not in message and "did not come from" not in message, message


SHELL_CACHES = (
    """caches.keys().then((names) => names.filter((n) => n.startsWith("doorstep-shell-")))"""
)


def test_a_new_service_worker_version_keeps_the_outbox(engine_phone, register):
    from pathlib import Path

    from tests.browser.conftest import start_demo_server

    phone = engine_phone
    urls = open_today(phone)
    case_id = case_of(urls[0])
    phone.goto(urls[0])
    first_shell = phone.evaluate(SHELL_CACHES)
    assert len(first_shell) == 1
    phone.network.offline()
    record_visit(phone)
    waiting(phone, 1)
    # While the phone has no signal, the site is released again with a new service worker.
    server = phone.server
    port = int(server.url.rsplit(":", 1)[1])
    server.stop()
    phone.server = start_demo_server(
        Path(server.log).parent,
        {"FIELDAPP_SERVICE_WORKER_SALT": "v2", "FIELDAPP_PUBLIC_ORIGIN": phone.network.url},
        port,
    )
    phone.network.online()
    phone.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    replaced = f"(names) => names.length > 0 && !names.includes({first_shell[0]!r})"
    phone.wait_until(f"({SHELL_CACHES}).then({replaced})", timeout=30)
    phone.reload()
    waiting(phone, 0, timeout=20)
    assert register.count("visit", case_id) == 1
