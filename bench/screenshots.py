"""The README's screenshots, taken again from a fresh `fieldapp demo` in Chromium: the worker's
phone (390 × 844) and the lead's laptop (1366 × 768), in English.

    python bench/screenshots.py            # writes docs/screenshots/*.png

Run it after a change to the pages the README shows; it needs what the browser tests need.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, PHONE, log_in, start_demo_server  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
LAPTOP = {"viewport": {"width": 1366, "height": 768}}


def phone_shots(browser, base: str) -> None:
    context = browser.new_context(base_url=base, locale="en-GB", **PHONE)
    page = context.new_page()
    log_in(page, "worker@example.org")
    page.wait_for_url(re.compile(r"/today$"))
    page.screenshot(path=OUT / "phone-today.png")
    page.goto(page.locator("#today-list a[data-offline-url]").first.get_attribute("href"))
    page.screenshot(path=OUT / "phone-card.png")
    visit = page.locator("#visit-form")
    visit.get_by_label("Met the tenant").check()
    visit.get_by_role("button", name="Save visit").click()
    page.locator("#consent-form").get_by_label("Debt counselling").check()
    page.locator("#step-visit").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -60)")
    page.screenshot(path=OUT / "phone-consent-step.png")
    context.close()


def laptop_shots(browser, base: str) -> None:
    context = browser.new_context(base_url=base, locale="en-GB", **LAPTOP)
    page = context.new_page()
    log_in(page, "lead@example.org")
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.screenshot(path=OUT / "desk-dashboard.png")
    page.goto("/cases")
    page.screenshot(path=OUT / "desk-cases.png")
    page.goto(page.locator("table a[href^='/cases/']").first.get_attribute("href"))
    page.screenshot(path=OUT / "desk-case.png")
    page.goto("/reports")
    page.screenshot(path=OUT / "desk-reports.png", full_page=True)
    context.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    server = start_demo_server(Path(tempfile.mkdtemp(prefix="doorstep-shots-")), history=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            phone_shots(browser, server.url)
            laptop_shots(browser, server.url)
            browser.close()
    finally:
        server.stop()
    for path in sorted(OUT.glob("*.png")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
