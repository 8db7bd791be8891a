"""Single sign-on in a phone's browser (Chromium): the real `fieldapp demo` server logging in
through panva's oidc-provider on 127.0.0.1, the whole way through both sites' pages."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, _free_port, start_demo_server
from tests.oidc import account, client, oidc_provider  # noqa: F401

pytestmark = pytest.mark.browser

ROLE_MAP = {"Doorstep.Lead": "lead", "Doorstep.Worker": "worker"}


@pytest.fixture
def sso_demo(oidc_provider, tmp_path):  # noqa: F811
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    team = "Boligsocialt team"  # the demo's first team
    provider = oidc_provider(
        [client([f"{origin}/login/sso/callback"], [f"{origin}/login"])],
        {
            "lead-1": account("lene@kommune.dk", "Lene Lund", roles=["Doorstep.Lead"], team=team),
            "worker-1": account("mads@kommune.dk", "Mads Bo", roles=["Doorstep.Worker"], team=team),
        },
    )
    env = {
        "FIELDAPP_OIDC_ISSUER": provider.issuer,
        "FIELDAPP_OIDC_CLIENT_ID": "doorstep",
        "FIELDAPP_OIDC_CLIENT_SECRET": "doorstep-test-client-secret",
        "FIELDAPP_OIDC_SCOPES": "openid email profile roles team",
        "FIELDAPP_OIDC_ROLE_MAP": json.dumps(ROLE_MAP),
        "FIELDAPP_OIDC_TEAM_CLAIM": "team",
        "FIELDAPP_LOCAL_LOGIN": "admins-only",
    }
    server = start_demo_server(tmp_path / "demo", env, port)
    yield server
    server.stop()


def log_in_at_the_provider(page, account_id: str) -> None:
    page.goto("/login")
    expect(page.get_by_label("Password")).to_be_visible()  # the emergency administrator's form
    page.locator("#sso-login").click()
    page.get_by_label("Account").fill(account_id)
    page.get_by_role("button", name="Sign in").click()


ROLES_AND_PAGES = [("lead-1", "/dashboard"), ("worker-1", "/today")]


@pytest.mark.parametrize(("account_id", "landing"), ROLES_AND_PAGES)
def test_each_role_logs_in_through_the_provider_and_lands_on_its_page(
    browser, sso_demo, account_id, landing
):
    context = browser.new_context(base_url=sso_demo.url, locale="en-GB", **PHONE)
    page = context.new_page()
    try:
        log_in_at_the_provider(page, account_id)
        expect(page).to_have_url(re.compile(f"{re.escape(landing)}$"))
        # Logging out ends the provider's session too, and comes back to the login.
        page.locator("#logout").click()
        page.get_by_role("button", name="Yes, sign me out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        page.goto(landing)
        expect(page).to_have_url(re.compile(r"/login"))
    finally:
        context.close()
