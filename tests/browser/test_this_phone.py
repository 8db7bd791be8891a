"""What the phone tells the worker about itself: installed or a browser tab, whether the browser
keeps its storage, how to install it, and a record the phone's storage refuses."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, log_in

pytestmark = pytest.mark.browser

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1"
)


def test_the_reminders_page_says_what_this_phone_keeps_and_how_to_install(browser, demo_server):
    context = browser.new_context(base_url=demo_server.url, locale="en-GB", **PHONE)
    page = context.new_page()
    try:
        log_in(page, "worker@example.org")
        page.goto("/settings/reminders")
        section = page.locator("#this-phone")
        expect(section).to_have_attribute("data-installed", "0")  # a tab, not the installed app
        expect(page.locator("#phone-installed")).to_contain_text("browser tab")
        expect(page.locator("#install-other")).to_be_visible()
        expect(page.locator("#install-ios")).to_be_hidden()
        # Headless Chromium keeps a site's storage only when asked and granted.
        persisted = page.evaluate("navigator.storage.persisted()")
        expect(section).to_have_attribute("data-persisted", "1" if persisted else "0")
        expect(page.locator("#phone-storage")).to_contain_text(
            "may clear" if not persisted else "keeps"
        )
    finally:
        context.close()


def test_an_iphone_outside_the_home_screen_is_told_how_to_install(browser, demo_server):
    context = browser.new_context(
        base_url=demo_server.url, locale="en-GB", user_agent=IPHONE_SAFARI, **PHONE
    )
    page = context.new_page()
    try:
        log_in(page, "worker@example.org")
        page.goto("/settings/reminders")
        guide = page.locator("#install-ios")
        expect(guide).to_be_visible()
        expect(guide).to_contain_text("Add to Home Screen")
        expect(page.locator("#install-other")).to_be_hidden()
    finally:
        context.close()


def test_a_record_the_phones_storage_refuses_is_said_next_to_the_form_and_kept_typed(
    browser, demo_server
):
    context = browser.new_context(base_url=demo_server.url, locale="en-GB", **PHONE)
    page = context.new_page()
    try:
        log_in(page, "worker@example.org")
        expect(page).to_have_url(re.compile(r"/today$"))
        page.goto(page.locator("#today-list a[data-offline-url]").first.get_attribute("href"))
        # The storage is full (as a quota error would say): every write to IndexedDB fails.
        page.evaluate(
            """() => { IDBObjectStore.prototype.put = function () {
                throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
            }; }"""
        )
        form = page.locator("#visit-form")
        form.get_by_label("Met the tenant").check()
        form.get_by_label("Notes").fill("Talked about the arrears.")
        form.get_by_role("button", name="Save visit").click()
        message = form.locator(".form-message")
        expect(message).to_have_class(re.compile("error"))
        expect(message).to_contain_text("could not be kept on the phone")
        expect(message).to_contain_text("QuotaExceededError")
        expect(message).to_be_in_viewport()
        expect(form.get_by_label("Notes")).to_have_value("Talked about the arrears.")
        expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "0")
    finally:
        context.close()


def test_records_waiting_in_a_browser_tab_are_said_to_be_at_risk(browser, demo_server):
    context = browser.new_context(base_url=demo_server.url, locale="en-GB", **PHONE)
    page = context.new_page()
    try:
        log_in(page, "worker@example.org")
        page.goto(page.locator("#today-list a[data-offline-url]").first.get_attribute("href"))
        # On the card it stands in the Done step, which opens after "Not at home".
        warning = page.locator("#door-tab-warning")
        expect(warning).to_be_hidden()  # nothing waits
        context.set_offline(True)
        form = page.locator("#visit-form")
        form.get_by_label("Not at home").check()
        form.get_by_role("button", name="Save visit").click()
        expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "1")
        if page.evaluate("navigator.storage.persisted()"):
            expect(warning).to_be_hidden()
        else:
            expect(warning).to_be_visible()
            expect(warning).to_contain_text("Safari")
    finally:
        context.close()
