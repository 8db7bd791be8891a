"""In real Chromium on a phone (390x844): a partner logs in, opens the case the tenant agreed
to share with them, sets their action to done with a note, and the case's worker then sees it
on the card."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, log_in, start_demo_server

pytestmark = pytest.mark.browser
PARTNER = "browser.partner@example.org"


@pytest.fixture
def shared_case(tmp_path):
    """A demo server of its own, with a debt counsellor's login in the demo team and one of
    Mette Holm's cases shared with the debt counselling service, an action for it agreed."""
    from sqlalchemy import select

    from fieldapp import create_app
    from fieldapp.extensions import db
    from fieldapp.models import Action, Case, Consent, Partner, User
    from fieldapp.services.accounts import create_user

    server = start_demo_server(tmp_path)
    app = create_app({"DATABASE_URL": server.database_url, "SECRET_KEY": "x"})
    with app.app_context():
        s = db.session
        worker = s.scalar(select(User).where(User.email == "worker@example.org"))
        debt = s.scalar(select(Partner).where(Partner.kind == "debt_counselling"))
        case = s.scalars(
            select(Case)
            .where(Case.assigned_worker_id == worker.id, Case.status != "closed")
            .order_by(Case.id)
        ).first()
        team = worker.team.name if worker.team else None
        create_user(s, PARTNER, "demo", "partner", team, "Pia Rådgiver", partner_name=debt.name)
        now = datetime.now(UTC)
        s.add(
            Consent(
                client_uuid=str(uuid.uuid4()), case_id=case.id, worker_id=worker.id,
                state="given", scopes=["debt_counselling"], method="paper", language="da",
                recorded_at=now,
            )
        )  # fmt: skip
        s.add(
            Action(
                client_uuid=str(uuid.uuid4()), case_id=case.id, worker_id=worker.id,
                description="Gennemgå budget med gældsrådgiver", owner="partner",
                partner_id=debt.id, recorded_at=now,
            )
        )  # fmt: skip
        s.commit()
        shared = (case.id, case.tenancy.household.name, debt.name)
    yield server, shared
    server.stop()


def test_a_partner_sets_their_action_done_and_the_worker_sees_it(browser, shared_case):
    server, (case_id, tenant, partner_name) = shared_case
    context = browser.new_context(base_url=server.url, locale="en-GB", **PHONE)
    page = context.new_page()
    log_in(page, PARTNER)
    expect(page).to_have_url(re.compile(r"/partner/$"))
    page.get_by_role("link", name=tenant).first.click()
    expect(page).to_have_url(re.compile(rf"/partner/cases/{case_id}$"))
    action = page.locator("li.partner-action").filter(has_text="Gennemgå budget")
    action.get_by_label("Status").select_option(label="Done")
    action.get_by_label("Note for the worker (optional)").fill("Budget lagt, afdrag aftalt")
    save = action.get_by_role("button", name="Save")
    box = save.bounding_box()
    assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= 390
    save.click()
    # Saved in place (htmx): the message is announced and the state reads Done.
    saved = page.locator("li.partner-action").filter(has_text="Gennemgå budget")
    expect(saved.get_by_role("status")).to_contain_text("The case's worker sees it now")
    expect(saved.locator(".action-state")).to_contain_text("Done")
    expect(page).to_have_url(re.compile(rf"/partner/cases/{case_id}$"))
    context.close()

    worker = browser.new_context(base_url=server.url, locale="en-GB", **PHONE)
    card = worker.new_page()
    log_in(card, "worker@example.org")
    card.goto(f"/field/cases/{case_id}")
    line = card.locator("#actions-list li").filter(has_text="Gennemgå budget")
    expect(line).to_contain_text("Done")
    expect(line).to_contain_text(f"Updated by {partner_name}")
    expect(line).to_contain_text("Budget lagt, afdrag aftalt")
    worker.close()
