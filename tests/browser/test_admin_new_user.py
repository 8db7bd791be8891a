"""The admin's "New user" form in real Chromium: the partner choice shows only for a partner's
account and the landlord choice only for a landlord's; without JavaScript both are there and
the server refuses the one that does not fit. The demo's partner and landlord logins show
whom they work for."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser
LAPTOP = {"viewport": {"width": 1366, "height": 768}}


def row(page, email: str):
    return page.locator("#users tbody tr").filter(
        has=page.get_by_role("cell", name=email, exact=True)
    )


def test_choosing_the_role_shows_its_own_choice_and_binds_the_account(browser, demo_server):
    context = browser.new_context(base_url=demo_server.url, locale="en-GB", **LAPTOP)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        log_in(page, "admin@example.org")
        page.goto("/admin/users")
        partner, landlord = page.locator("#new-partner"), page.locator("#new-landlord")
        expect(row(page, "partner@example.org").locator("[data-works-for]")).to_have_text(
            "Gældsrådgivningen"
        )
        expect(row(page, "landlord@example.org").locator("[data-works-for]")).to_have_text(
            "Boligselskabet Nordkysten"
        )
        expect(row(page, "worker@example.org").locator("[data-works-for]")).to_have_text("")
        # A worker's account (the first role) works for no one: neither choice is shown.
        expect(partner).to_be_hidden()
        expect(landlord).to_be_hidden()
        page.select_option("#new-role", "landlord")
        expect(landlord).to_be_visible()
        expect(landlord).to_be_enabled()
        expect(partner).to_be_hidden()
        expect(partner).to_be_disabled()
        page.select_option("#new-role", "partner")
        expect(partner).to_be_visible()
        expect(landlord).to_be_hidden()

        page.fill("#new-email", "raadgiver@example.org")
        page.select_option("#new-partner", "Gældsrådgivningen")
        page.select_option("#new-team", "Boligsocialt team")
        page.get_by_role("button", name="Create user").click()
        expect(page.locator("#invitation")).to_be_visible()
        page.goto("/admin/users")
        expect(row(page, "raadgiver@example.org").locator("[data-works-for]")).to_have_text(
            "Gældsrådgivningen"
        )
        assert not problems, problems
    finally:
        context.close()


def test_without_javascript_both_choices_are_there_and_a_mismatch_is_named(browser, demo_server):
    context = browser.new_context(
        base_url=demo_server.url, locale="en-GB", java_script_enabled=False, **LAPTOP
    )
    page = context.new_page()
    try:
        log_in(page, "admin@example.org")
        page.goto("/admin/users")
        expect(page.locator("#new-partner")).to_be_visible()
        expect(page.locator("#new-landlord")).to_be_visible()
        page.fill("#new-email", "kim@example.org")
        page.select_option("#new-role", "partner")
        page.select_option("#new-partner", "Gældsrådgivningen")
        page.select_option("#new-landlord", "Boligselskabet Nordkysten")
        page.select_option("#new-team", "Boligsocialt team")
        page.get_by_role("button", name="Create user").click()
        expect(page.get_by_role("alert")).to_have_text(
            "Landlord: Boligselskabet Nordkysten is chosen, but only a landlord's account "
            "belongs to a landlord."
        )
        expect(row(page, "kim@example.org")).to_have_count(0)
    finally:
        context.close()
