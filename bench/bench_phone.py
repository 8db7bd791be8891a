"""Benchmark the phone: Lighthouse (mobile preset: simulated Slow 4G and 4x CPU slowdown) on the
login page, today's route and a case card; bytes and compressed JavaScript of the route page's
first load; a repeat load of the route page offline from the service worker; axe-core on the
main pages.

Usage:
    python bench/bench_phone.py [--runs 3]

Needs Node.js and npm (the first run does `npm install` in bench/, pinned in
bench/package.json) and Debian's Chromium at /usr/bin/chromium. Starts its own `fieldapp demo`
on a scratch database. Prints a table of figures against the budgets; no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.browser.conftest import PHONE, log_in, start_demo_server  # noqa: E402

CHROMIUM = os.environ.get("FIELDAPP_TEST_CHROMIUM", "/usr/bin/chromium")
LIGHTHOUSE = HERE / "node_modules" / "lighthouse" / "cli" / "index.js"
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
)


def npm_install() -> None:
    if not LIGHTHOUSE.exists() or not AXE.exists():
        print("installing Lighthouse and axe-core with npm (bench/package.json) ...")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=HERE, check=True)


def session_cookie(base: str, email: str) -> str:
    """Log in through the real form; the `doorstep_session` cookie's value."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"email": email, "password": "demo", "csrf_token": token})
    opener.open(f"{base}/login", data.encode())
    return next(c.value for c in jar if c.name == "doorstep_session")


def lighthouse(url: str, cookie: str | None, out: Path) -> dict:
    headers = json.dumps({"Cookie": f"doorstep_session={cookie}"}) if cookie else None
    command = [
        "node",
        str(LIGHTHOUSE),
        url,
        f"--chrome-path={CHROMIUM}",
        f"--chrome-flags={CHROME_FLAGS}",
        "--only-categories=performance,accessibility",
        "--output=json",
        f"--output-path={out}",
        "--quiet",
    ]
    if headers:
        command.append(f"--extra-headers={headers}")
    subprocess.run(command, check=True, timeout=300)
    report = json.loads(out.read_text())
    audits = report["audits"]
    scripts = [
        item
        for item in audits["network-requests"]["details"]["items"]
        if item.get("resourceType") == "Script"
    ]
    return {
        "performance": round(report["categories"]["performance"]["score"] * 100),
        "accessibility": round(report["categories"]["accessibility"]["score"] * 100),
        "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
        "tbt_ms": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "bytes": audits["total-byte-weight"]["numericValue"],
        "js_bytes": sum(item.get("transferSize", 0) for item in scripts),
    }


def offline_and_axe(base: str, case_url: str) -> tuple[list[float], dict[str, int]]:
    """Repeat loads of /today offline (ms, navigation start to load end), and axe violations."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(base_url=base, locale="en-GB", bypass_csp=True, **PHONE)
        page = context.new_page()
        log_in(page, "worker@example.org")
        page.wait_for_url(re.compile(r"/today$"))
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        page.wait_for_timeout(2000)  # let the worker cache the route's pages
        context.set_offline(True)
        timings = []
        for _ in range(5):
            page.reload()
            timings.append(
                page.evaluate(
                    "(() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return n.loadEventEnd - n.startTime; })()"
                )
            )
        context.set_offline(False)
        violations: dict[str, int] = {}
        pages = {"/today": "worker@example.org", case_url: "worker@example.org"}
        for path in pages:
            page.goto(path)
            violations[path] = _axe(page)
        # The card's steps, each open in turn (only the first is open when the card opens).
        page.goto(case_url)
        for step in ("consent", "needs", "action", "done"):
            page.locator(f"#step-{step} .step-toggle").click()
            violations[f"{case_url} ({step})"] = _axe(page)
        # The lead's pages on a laptop (1366 × 768), where they are used.
        lead = browser.new_context(
            base_url=base,
            locale="en-GB",
            bypass_csp=True,
            viewport={"width": 1366, "height": 768},
        ).new_page()
        log_in(lead, "lead@example.org")
        lead.goto("/cases")
        case_page = lead.locator("table a[href^='/cases/']").first.get_attribute("href")
        lead.goto("/meetings")
        links = lead.locator("main a[href^='/meetings/']")
        meeting = links.first.get_attribute("href") if links.count() else None
        paths = ["/dashboard", "/cases", case_page, "/imports", "/routes", "/reports"]
        paths += [meeting, "/settings/reminders"] if meeting else ["/settings/reminders"]
        for path in paths:
            lead.goto(path)
            violations[path] = _axe(lead)
        anonymous = browser.new_context(
            base_url=base, locale="en-GB", bypass_csp=True, **PHONE
        ).new_page()
        anonymous.goto("/login")
        violations["/login"] = _axe(anonymous)
        browser.close()
    return timings, violations


def _axe(page) -> int:
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    for violation in result["violations"]:
        print(f"    axe {page.url}: {violation['id']} ({len(violation['nodes'])} nodes)")
    return len(result["violations"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page (median)")
    args = parser.parse_args()
    npm_install()
    folder = Path(tempfile.mkdtemp(prefix="doorstep-phone-"))
    # Plain http on 127.0.0.1: a script's cookie jar keeps Secure cookies off http.
    env = {"FIELDAPP_PUSH_SCHEDULER_SECONDS": "0", "FIELDAPP_COOKIE_SECURE": "false"}
    server = start_demo_server(folder, env, history=True)
    try:
        cookie = session_cookie(server.url, "worker@example.org")
        request = urllib.request.Request(
            f"{server.url}/today", headers={"Cookie": f"doorstep_session={cookie}"}
        )
        today = urllib.request.urlopen(request).read().decode()
        case_url = re.search(r'data-offline-url="(/field/cases/\d+)"', today).group(1)
        pages = {"login": ("/login", None), "today": ("/today", cookie)}
        pages["case card"] = (case_url, cookie)
        results = {}
        for name, (path, page_cookie) in pages.items():
            runs = [
                lighthouse(f"{server.url}{path}", page_cookie, folder / f"lh-{name}-{n}.json")
                for n in range(args.runs)
            ]
            results[name] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        timings, violations = offline_and_axe(server.url, case_url)
    finally:
        server.stop()

    print(f"\nLighthouse {args.runs} runs per page, median (mobile: Slow 4G, 4x CPU):")
    print(
        f"  {'page':<10} {'perf':>5} {'a11y':>5} {'LCP ms':>7} {'TBT ms':>7} {'CLS':>6} "
        f"{'bytes':>8} {'JS bytes':>9}"
    )
    for name, r in results.items():
        print(
            f"  {name:<10} {r['performance']:>5.0f} {r['accessibility']:>5.0f} "
            f"{r['lcp_ms']:>7.0f} {r['tbt_ms']:>7.0f} {r['cls']:>6.3f} {r['bytes']:>8.0f} "
            f"{r['js_bytes']:>9.0f}"
        )
    print("  budgets: perf >= 95, a11y 100, LCP <= 1500, TBT <= 100, CLS <= 0.05;")
    print("           today: bytes <= 102400 in all, JS <= 30720 compressed")
    print(
        f"\nRepeat load of /today offline from the service worker: "
        f"median {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms (budget 300 ms)"
    )
    print(f"axe-core violations per page: {violations} (budget: none)")


if __name__ == "__main__":
    main()
