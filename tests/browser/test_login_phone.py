"""In real Chromium on a phone-sized screen: log in and see the worker's day."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_worker_logs_in_on_a_phone_and_sees_today(phone):
    log_in(phone, "worker@example.org")
    expect(phone).to_have_url(re.compile(r"/today$"))
    cases = phone.locator("#today-list li")
    expect(cases.first).to_be_visible()
    assert cases.count() >= 5
    # Every case card offers a one-tap call: a tel: link at least 44 px high.
    call = phone.locator("#today-list a[href^='tel:']").first
    box = call.bounding_box()
    assert box is not None and box["height"] >= 44
    # Nothing is wider than the phone: no sideways scrolling.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_wrong_password_shows_the_message_on_the_form(phone):
    log_in(phone, "worker@example.org", "not-it")
    expect(phone.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
    expect(phone).to_have_url(re.compile(r"/login"))


def test_logout_returns_to_login_and_pages_are_closed(phone):
    log_in(phone, "lead@example.org")
    expect(phone).to_have_url(re.compile(r"/dashboard$"))
    phone.locator("#logout").click()
    expect(phone).to_have_url(re.compile(r"/login$"))
    phone.goto("/dashboard")
    expect(phone).to_have_url(re.compile(r"/login\?next=/dashboard"))


def test_language_switch_translates_the_page(phone):
    phone.goto("/login")
    phone.get_by_label("Language").select_option("da")
    phone.get_by_role("button", name="Change").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Log ind")


def test_no_console_errors_or_csp_violations(phone):
    problems: list[str] = []
    phone.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    phone.on("pageerror", lambda e: problems.append(str(e)))
    log_in(phone, "worker@example.org")
    expect(phone).to_have_url(re.compile(r"/today$"))
    phone.wait_for_load_state("networkidle")
    assert problems == []
