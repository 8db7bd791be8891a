"""Browser fixtures: Debian's Chromium via Playwright against a real `fieldapp demo` server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import need

CHROMIUM = os.environ.get("FIELDAPP_TEST_CHROMIUM", "/usr/bin/chromium")
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    database_url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_demo_server(
    folder: Path, extra_env: dict | None = None, port: int | None = None, history: bool = False
) -> LiveServer:
    """Run the Quick start's `fieldapp demo` on a free port and a database of its own; without
    the five years of closed cases unless asked (a test of today's work needs none of them,
    and they add seconds to every start)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    database_url = f"sqlite:///{folder / 'demo.sqlite3'}"
    log = folder / "server.log"
    env = {
        **os.environ,
        "FIELDAPP_DATABASE_URL": database_url,
        "FIELDAPP_SECRET_KEY": "browser-test-secret",
        "FIELDAPP_VAPID_PRIVATE_KEY": str(folder / "vapid_private.pem"),
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "fieldapp.cli", "demo", "--port", str(port)]
        + ([] if history else ["--without-history"]),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fieldapp demo exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return LiveServer(f"http://127.0.0.1:{port}", database_url, process, log)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"fieldapp demo did not listen within 60 s: {log.read_text()}")


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        need(f"no Chromium at {CHROMIUM}; install Debian's package `chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[LiveServer]:
    """One demo server per test module (tests that write get a server of their own)."""
    server = start_demo_server(tmp_path_factory.mktemp("demo"))
    yield server
    server.stop()


@pytest.fixture
def phone(browser, demo_server):
    """A fresh phone-sized browser context (no cookies, no storage) and its page."""
    context = browser.new_context(base_url=demo_server.url, locale="en-GB", **PHONE)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, email: str, password: str = "demo") -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


# One phone, three engines (tests/browser/engines.py) ----------------------------------------
#
# `engine_phone` is parametrised over chromium, webkit and firefox: a `fieldapp demo` server of
# its own, the phone's network in front of it (tests/browser/network.py; HTTPS with a
# certificate made for the run where the engine needs it, i.e. WebKit) and a Phone on a fresh
# profile. The phone has `.network` (offline()/online()) and `.server`. A missing engine skips,
# naming the Debian packages; under CI=true it fails.


@pytest.fixture(scope="session")
def xvfb_display(tmp_path_factory) -> Iterator[str]:
    """One virtual X screen for the session's WebKitGTK phones."""
    from tests.browser.engines import Xvfb, missing

    reason = missing("webkit")
    if reason:
        need(reason)
    screen = Xvfb(tmp_path_factory.mktemp("xvfb") / "xvfb.log").start()
    yield screen.display
    screen.stop()


@pytest.fixture
def start_engine_phone(request, tmp_path):
    """start_engine_phone(engine, extra_env=None, tls=None) -> a started Phone with its own
    demo server and network; all of it is stopped after the test."""
    from tests.browser.engines import NEEDS_TLS, PHONES, missing
    from tests.browser.network import Network, TestCertificate

    rigs: list[tuple] = []  # (phone, server, network), stopped in that order

    def start(engine: str, extra_env: dict | None = None, tls: bool | None = None):
        reason = missing(engine)
        if reason:
            need(reason)
        options: dict = {}
        if engine == "chromium":
            options["browser_type"] = request.getfixturevalue("browser").browser_type
        elif engine == "webkit":
            options["display"] = request.getfixturevalue("xvfb_display")
        folder = tmp_path / f"{engine}-{len(rigs)}"
        use_tls = NEEDS_TLS[engine] if tls is None else tls
        certificate = TestCertificate.make(folder / "tls") if use_tls else None
        port = _free_port()
        network = Network(port, certificate).start()
        phone = PHONES[engine](
            network.url,
            folder / "profile",
            certificate=certificate,
            log=folder / "browser.log",
            **options,
        )
        rig = [phone, None, network]
        rigs.append(rig)
        # The phones reach the server through the network's address (and scheme).
        env = {"FIELDAPP_PUBLIC_ORIGIN": network.url, **(extra_env or {})}
        # The server boots (about 3 s) while the browser starts.
        with ThreadPoolExecutor(1) as pool:
            booting = pool.submit(start_demo_server, folder / "server", env, port)
            try:
                phone.start()
            finally:
                rig[1] = booting.result()
        phone.network, phone.server = network, rig[1]
        return phone

    yield start
    for phone, server, network in reversed(rigs):
        try:
            # Shown with a failing test's report: how long the browser took, what it said.
            starts = ", ".join(f"{s:.1f} s" for s in phone.start_seconds)
            print(f"{phone.engine} started in {starts}; its log ({phone.log}) ends:")
            print(phone.logs()[-4000:])
            phone.close()
        finally:
            # A test may have started the server again (a new release): stop that one too.
            for running in {id(s): s for s in (server, phone.server) if s is not None}.values():
                running.stop()
            network.stop()


@pytest.fixture(params=["chromium", "webkit", "firefox"])
def engine_name(request) -> str:
    return request.param


@pytest.fixture
def engine_phone(engine_name, start_engine_phone):
    """A started phone in each engine, with .network and .server."""
    return start_engine_phone(engine_name)
