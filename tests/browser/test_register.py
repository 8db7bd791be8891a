"""In real Chromium: a lead imports a landlord's list, then triages and assigns the cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, start_demo_server

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parents[1] / "fixtures"
LAPTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def lead_page(browser, tmp_path):
    server = start_demo_server(tmp_path)
    context = browser.new_context(base_url=server.url, locale="en-GB", **LAPTOP)
    page = context.new_page()
    log_in(page, "lead@example.org")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    yield page
    context.close()
    server.stop()


def count_rows(page) -> int:
    return page.locator("#case-table tbody tr[id^='case-row-']").count()


def test_lead_filters_and_bulk_assigns_unassigned_cases(lead_page):
    page = lead_page
    page.get_by_role("link", name="Cases").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cases")
    before = page.locator("#case-count").inner_text()
    page.get_by_label("Worker", exact=True).select_option("0")  # not assigned; htmx refreshes
    expect(page.locator("#case-count")).not_to_have_text(before)
    unassigned = count_rows(page)
    assert unassigned >= 2
    first_two = page.locator("#case-table tbody input[name=case]")
    first_two.nth(0).check()
    first_two.nth(1).check()
    page.get_by_label("Assign ticked cases to").select_option(label="Mette Holm")
    page.locator("#assign-button").click()
    expect(page.locator("#case-table .notice")).to_have_text("2 cases assigned to Mette Holm.")
    expect(page.locator("#case-table tbody tr[id^='case-row-']")).to_have_count(unassigned - 2)


def test_lead_imports_a_danish_list_with_preview_then_confirm(lead_page):
    page = lead_page
    sample = FIXTURES / "restanceliste_boligforening_2026-11-15.csv"
    page.get_by_role("link", name="Import").click()
    page.locator("summary").click()
    page.get_by_label("Name of the new landlord").fill("Boligforeningen Kronborg")
    page.get_by_label("File (CSV or Excel)").set_input_files(str(sample))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Preview")
    new_in_preview = int(page.locator("#count-new").inner_text())
    assert new_in_preview > 0
    # Nothing is stored by the preview: the case list does not know these tenants yet.
    page.get_by_role("button", name="Confirm and import").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Imported")
    expect(page.locator("#count-new")).to_have_text(str(new_in_preview))
    page.get_by_role("link", name="Go to the cases").click()
    page.get_by_label("Search name, address or tenancy number").fill("Signe Hansen")
    page.get_by_role("button", name="Show cases").click()
    expect(page.locator("#case-table tbody tr[id^='case-row-']")).to_have_count(1)
