"""Benchmark sync end to end in Chromium: N visit records waiting in the phone's outbox
(IndexedDB) reach the server and are acknowledged; prints the time from opening the app with
the connection back until the outbox is empty and the register holds them all. No assertions.

Usage:
    python bench/bench_outbox.py [--records 500] [--runs 3]

Starts its own `fieldapp demo` (SQLite, the embedded default) per run.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser.conftest import CHROMIUM, PHONE, log_in, start_demo_server  # noqa: E402

FILL = """async ({count, user, cases}) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("doorstep", 1);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const tx = db.transaction("outbox", "readwrite");
  const store = tx.objectStore("outbox");
  for (let i = 0; i < count; i++) {
    const at = new Date(Date.now() - (count - i) * 1000).toISOString();
    store.put({uuid: crypto.randomUUID(), type: "visit", case_id: cases[i % cases.length],
               user, created_at: at, recorded_at: at, state: "pending", label: "bench",
               data: {channel: "door", result: "not_home", notes: "bench"}});
  }
  await new Promise((resolve) => { tx.oncomplete = resolve; });
}"""


def one_run(browser, records: int) -> tuple[float, int]:
    folder = Path(tempfile.mkdtemp(prefix="doorstep-outbox-"))
    server = start_demo_server(folder, {"FIELDAPP_PUSH_SCHEDULER_SECONDS": "0"})
    engine = create_engine(server.database_url)
    context = browser.new_context(base_url=server.url, locale="en-GB", **PHONE)
    try:
        page = context.new_page()
        log_in(page, "worker@example.org")
        page.wait_for_url(re.compile(r"/today$"))
        links = page.locator("#today-list a[data-offline-url]")
        cases = [
            int(links.nth(i).get_attribute("data-offline-url").rsplit("/", 1)[1])
            for i in range(links.count())
        ]
        user = int(page.locator("#outbox-bar").get_attribute("data-user"))
        context.set_offline(True)
        page.evaluate(FILL, {"count": records, "user": user, "cases": cases})
        context.set_offline(False)
        # The connection is back: the worker opens the app, which sends the outbox at start.
        started = time.perf_counter()
        page.reload()
        stored = 0
        while time.perf_counter() - started < 120:
            with engine.connect() as connection:
                stored = connection.execute(
                    text("select count(*) from visit where notes = 'bench'")
                ).scalar()
            if stored >= records and page.locator("#outbox-bar").get_attribute("data-count") == "0":
                break
            time.sleep(0.02)
        return time.perf_counter() - started, stored
    finally:
        context.close()
        engine.dispose()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        results = [one_run(browser, args.records) for _ in range(args.runs)]
        browser.close()
    times = [seconds for seconds, _ in results]
    print(
        f"{args.records} records from the outbox to acknowledged: median "
        f"{statistics.median(times):.2f} s, runs {', '.join(f'{t:.2f}' for t in times)} s "
        f"(budget 5 s); stored each run: {[stored for _, stored in results]}"
    )


if __name__ == "__main__":
    main()
