"""Browser fixtures: Debian's Chromium via Playwright against a real `fieldapp demo` server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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
    folder: Path, extra_env: dict | None = None, port: int | None = None
) -> LiveServer:
    """Run the Quick start's `fieldapp demo` on a free port and a database of its own."""
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
        [sys.executable, "-m", "fieldapp.cli", "demo", "--port", str(port)],
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
