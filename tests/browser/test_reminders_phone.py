"""Push reminders in Chromium: the worker turns reminders on from the page, the real
`fieldapp send-reminders` sends through the local push service, and the service worker shows
the notification (nothing personal in it) that leads to the case.

Headless Chromium cannot reach its vendor's push service (Firebase Cloud Messaging) from this
closed network: `pushManager.subscribe` fails there. The browser's side of that boundary is
therefore stood in for: an init script makes `subscribe` return a subscription of the local
push service in tests/pushservice.py, with keys the test holds, and what that service
decrypts is handed to the service worker with the DevTools protocol's
`ServiceWorker.deliverPushMessage`, the way the browser hands it a push. The page script, the
server, the sender, the encryption and the service worker are Doorstep's own and real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.browser.conftest import PHONE, log_in, start_demo_server
from tests.pushservice import PushService

pytestmark = pytest.mark.browser

STAND_IN = """
(() => {
  const device = %s;
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = (...args) => {
    sessionStorage.asked = Number(sessionStorage.asked || 0) + 1;
    return ask(...args);
  };
  let current = null;
  const keyOf = (key) => btoa(String.fromCharCode(...new Uint8Array(key)))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  PushManager.prototype.getSubscription = async function () { return current; };
  PushManager.prototype.subscribe = async function (options) {
    sessionStorage.serverKey = keyOf(options.applicationServerKey);
    current = {
      endpoint: device.endpoint,
      options,
      toJSON: () => device,
      unsubscribe: async () => { current = null; return true; },
    };
    return current;
  };
})();
"""


def test_worker_turns_reminders_on_and_the_service_worker_shows_one(browser, tmp_path):
    service = PushService().start()
    env = {
        "FIELDAPP_PUSH_SERVICES": "http://127.0.0.1:*",
        "FIELDAPP_VAPID_SUBJECT": "mailto:it@helsingor.example",
        "FIELDAPP_PUSH_SCHEDULER_SECONDS": "0",
    }
    server = start_demo_server(tmp_path, env)
    engine = create_engine(server.database_url)
    context = browser.new_context(base_url=server.url, locale="en-GB", **PHONE)
    try:
        context.grant_permissions(["notifications"], origin=server.url)
        page = context.new_page()
        log_in(page, "worker@example.org")
        expect(page).to_have_url(re.compile(r"/today$"))
        page.goto("/settings/reminders")
        key = page.locator("#this-device").get_attribute("data-key")
        device = service.subscribe(key)
        page.add_init_script(STAND_IN % json.dumps(device.to_json()))
        page.reload()
        expect(page.locator("#push-state")).to_have_text("Reminders are off for this device.")
        assert page.evaluate("sessionStorage.asked || 0") == 0  # no prompt before the person asks

        page.get_by_role("button", name="Turn on reminders on this device").click()
        expect(page.locator("#devices li")).to_have_count(1)
        expect(page.locator("#devices li")).to_contain_text("Chrome on ")
        assert page.evaluate("sessionStorage.serverKey") == key
        assert page.evaluate("sessionStorage.asked") == "1"

        # The worker's case with the nearest hearing or eviction date: the day before it.
        with engine.connect() as connection:
            case_id, day = connection.execute(
                text(
                    "select c.id, s.date from legal_step s join case_file c on c.id = s.case_id"
                    " join user_account u on u.id = c.assigned_worker_id"
                    " where u.email = 'worker@example.org' and s.kind in"
                    " ('hearing', 'eviction_scheduled') and s.date >= current_date"
                    " and c.status != 'closed' order by s.date limit 1"
                )
            ).one()
            names = [
                row[0]
                for row in connection.execute(text("select name || ' ' || address from household"))
            ]
        day = datetime.fromisoformat(str(day)).date()
        zone = ZoneInfo("Europe/Copenhagen")
        now = datetime.combine(day - timedelta(days=1), time(9), zone)
        sent = subprocess.run(
            [sys.executable, "-m", "fieldapp.cli", "send-reminders", "--now", now.isoformat()],
            env={
                **os.environ,
                **env,
                "FIELDAPP_DATABASE_URL": server.database_url,
                "FIELDAPP_SECRET_KEY": "browser-test-secret",
                "FIELDAPP_VAPID_PRIVATE_KEY": str(tmp_path / "vapid_private.pem"),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
        mine = [d for d in service.for_device(device) if d.payload["url"].endswith(f"/{case_id}")]
        assert len(mine) == 1, sent.stdout

        # Hand the decrypted message to the service worker as the browser would.
        session = context.new_cdp_session(page)
        registrations: list[dict] = []
        session.on(
            "ServiceWorker.workerRegistrationUpdated", lambda event: registrations.append(event)
        )
        session.send("ServiceWorker.enable")
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        deadline = 50
        while not registrations and deadline:
            page.wait_for_timeout(100)
            deadline -= 1
        registration_id = registrations[0]["registrations"][0]["registrationId"]
        session.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": server.url,
                "registrationId": registration_id,
                "data": json.dumps(mine[0].payload),
            },
        )
        shown: list = []
        for _ in range(50):
            shown = page.evaluate(
                """async () => (await (await navigator.serviceWorker.ready).getNotifications())
                     .map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url}))"""
            )
            if shown:
                break
            page.wait_for_timeout(100)
        assert shown == [
            {
                "title": "Hearing tomorrow"
                if mine[0].topic.endswith("hearing")
                else "Eviction tomorrow",
                "body": f"Case {case_id}",
                "tag": mine[0].topic,
                "url": f"{server.url}/field/cases/{case_id}",
            }
        ]
        words = {word for name in names for word in name.replace(",", " ").split() if len(word) > 3}
        assert not [w for w in words if w in str(shown)], shown

        # The notification's URL opens the case, after a login on a phone logged out.
        other = browser.new_context(base_url=server.url, locale="en-GB", **PHONE)
        try:
            fresh = other.new_page()
            fresh.goto(shown[0]["url"])
            expect(fresh).to_have_url(re.compile(r"/login"))
            fresh.get_by_label("E-mail").fill("worker@example.org")
            fresh.get_by_label("Password").fill("demo")
            fresh.get_by_role("button", name="Log in").click()
            expect(fresh).to_have_url(re.compile(rf"/field/cases/{case_id}$"))
        finally:
            other.close()
    finally:
        context.close()
        engine.dispose()
        server.stop()
        service.stop()
