"""In real Chromium on a laptop (1366x768): the demo's landlord opens their tenants, sees
status flags only where the tenant consented to the landlord, accepts the municipality's
request to hold a petition, and the team's lead then reads the answer on the case page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, start_demo_server

pytestmark = pytest.mark.browser
LAPTOP = {"viewport": {"width": 1366, "height": 768}}
LANDLORD = "landlord@example.org"


@pytest.fixture
def landlord_demo(tmp_path):
    """The demo, and from its database: the landlord's tenants' cases, those whose current
    consent covers the landlord, and the hold request waiting for the landlord's answer."""
    from sqlalchemy import select

    from fieldapp import create_app
    from fieldapp.extensions import db
    from fieldapp.models import OPEN_STATUSES, Case, HoldRequest, User
    from fieldapp.services.access import landlord_cases_query, landlord_consented

    server = start_demo_server(tmp_path)
    app = create_app({"DATABASE_URL": server.database_url, "SECRET_KEY": "x"})
    with app.app_context():
        landlord = db.session.scalar(select(User).where(User.email == LANDLORD))
        cases = db.session.scalars(
            landlord_cases_query(landlord).where(Case.status.in_(OPEN_STATUSES))
        ).all()
        ids = {case.id for case in cases}
        consented = landlord_consented(db.session, ids)
        waiting = db.session.scalar(
            select(HoldRequest).where(
                HoldRequest.landlord_id == landlord.landlord_id,
                HoldRequest.state == "requested",
                HoldRequest.case_id.in_(consented),
            )
        )
        assert waiting is not None, "the demo has a request waiting for the landlord"
        found = (ids, consented, waiting.id, waiting.case_id)
    yield server, found
    server.stop()


def test_a_landlord_sees_flags_only_with_consent_and_accepts_a_hold(browser, landlord_demo):
    server, (ids, consented, hold_id, hold_case) = landlord_demo
    context = browser.new_context(base_url=server.url, locale="en-GB", **LAPTOP)
    errors: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, LANDLORD)
    expect(page).to_have_url(re.compile(r"/landlord/$"))
    cards = page.locator("#landlord-cases > li")
    expect(cards).to_have_count(len(ids))
    assert 0 < len(consented) < len(ids)
    for case_id in ids:
        card = page.locator(f"#tenant-{case_id}")
        flags = card.locator("[data-flag]").count()
        if case_id not in consented:
            # Not consented: no flag, no request, only that the municipality has the case.
            assert flags == 0 and card.locator("form").count() == 0, case_id
            expect(card).to_contain_text("The municipality has the case.")
    # Nothing cut off on a laptop: the page does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    answer = page.locator(f"#hold-answer-{hold_id}")
    answer.get_by_label("A short note to the municipality (optional)").fill("Vi afventer")
    answer.get_by_role("button", name="Accept: we hold the petition").click()
    expect(page.locator("#landlord-notice")).to_be_visible()
    expect(page.locator(f"#hold-answer-{hold_id}")).to_have_count(0)
    assert not errors, errors
    context.close()

    lead = browser.new_context(base_url=server.url, locale="en-GB", **LAPTOP)
    desk = lead.new_page()
    log_in(desk, "lead@example.org")
    desk.goto(f"/cases/{hold_case}")
    hold = desk.locator(f"#hold-{hold_id}")
    expect(hold).to_have_attribute("data-state", "accepted")
    expect(hold).to_contain_text("Accepted by the landlord")
    expect(hold).to_contain_text("Vi afventer")
    lead.close()
