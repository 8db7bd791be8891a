"""A payment plan agreed at the door with no signal: kept on the phone, sent when it is back,
on the lead's case page after (issue 21, section 3)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.browser.test_offline import Field, case_id_of

pytestmark = pytest.mark.browser


@pytest.fixture
def field(browser, tmp_path):
    phone = Field(browser, tmp_path)
    yield phone
    phone.close()


def test_a_payment_plan_recorded_offline_reaches_the_leads_case_page(field, browser):
    page = field.page
    urls = field.open_today()
    case_id = case_id_of(urls[0])
    field.context.set_offline(True)
    page.goto(urls[0])  # served from the phone's cache
    part = page.locator("#door-agreements")
    part.locator("summary").click()  # folded until the worker opens it
    form = page.locator("#plan-form")
    expect(form).to_be_visible()
    form.get_by_label("Arrears at the start").fill("4.500")
    form.get_by_label("Amount per instalment").fill("1.500")
    form.get_by_label("First instalment on").fill((date.today() + timedelta(days=7)).isoformat())
    form.get_by_label("Number of instalments").fill("3")
    form.get_by_label("Note").fill("The first on payday")
    button = form.get_by_role("button", name="Save payment plan")
    box = button.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # one thumb on the stairs
    button.click()
    expect(form.locator(".form-message")).to_have_attribute("role", "status")
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "1")
    assert field.count("payment_plan", case_id) == 0
    field.context.set_offline(False)
    page.locator("#sync-now").click()
    expect(page.locator("#outbox-bar")).to_have_attribute("data-count", "0", timeout=15000)
    assert field.count("payment_plan", case_id) == 1

    desk = browser.new_context(base_url=field.server.url, locale="en-GB")
    try:
        lead = desk.new_page()
        log_in(lead, "lead@example.org")
        lead.goto(f"/cases/{case_id}")
        plans = lead.locator("#plans-list")
        expect(plans).to_contain_text("instalments: 3")
        expect(plans).to_contain_text("The first on payday")
        expect(plans).to_contain_text("Running")
        # Ended in place (htmx swaps the section; the page is not reloaded).
        lead.evaluate("window.notReloaded = true")
        plans.get_by_role("button", name="End the plan").click()
        expect(lead.locator("#agreements-saved")).to_have_text("Payment plan ended.")
        expect(lead.locator("#plans-list")).to_contain_text("Ended")
        assert lead.evaluate("window.notReloaded === true")
    finally:
        desk.close()
