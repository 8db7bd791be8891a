"""The municipal login (SAML, shaped like KOMBIT's Context Handler) in a phone's browser
(Chromium): the real `fieldapp demo` server on 127.0.0.1 and the test identity provider on
`localhost`, another site, so the provider's answer arrives as a cross-site POST that carries
no SameSite=Lax cookie, as it would in the field."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, _free_port, start_demo_server
from tests.saml import CVR_OWN, ROLE_MAP, saml_account, saml_idp, sp_keys  # noqa: F401

pytestmark = pytest.mark.browser
TEAM = "Boligsocialt team"  # the demo's first team


@pytest.fixture
def saml_demo(saml_idp, sp_keys, tmp_path):  # noqa: F811
    idp = saml_idp(
        {
            "lead": saml_account("lene@kommune.dk", "Lene Lund", {CVR_OWN: ["teamlead"]}),
            "worker": saml_account("mads@kommune.dk", "Mads Bo", {CVR_OWN: ["fieldworker"]}),
        },
        host="localhost",
        encrypt_assertion=True,
    )
    port = _free_port()
    key, cert = sp_keys
    env = {
        "FIELDAPP_SAML_IDP_METADATA_URL": idp.metadata_url,
        "FIELDAPP_SAML_KEY_FILE": str(key),
        "FIELDAPP_SAML_CERT_FILE": str(cert),
        "FIELDAPP_SAML_CVR": CVR_OWN,
        "FIELDAPP_SAML_ROLE_MAP": json.dumps(ROLE_MAP),
        "FIELDAPP_LOCAL_LOGIN": "admins-only",
    }
    folder = tmp_path / "demo"
    server = start_demo_server(folder, env, port)
    # The administrator prepares the two accounts (Context Handler names no team).
    cli_env = {
        **os.environ,
        **env,
        "FIELDAPP_DATABASE_URL": server.database_url,
        "FIELDAPP_SECRET_KEY": "browser-test-secret",
        "FIELDAPP_VAPID_PRIVATE_KEY": str(folder / "vapid_private.pem"),
    }
    for email, role in (("lene@kommune.dk", "lead"), ("mads@kommune.dk", "worker")):
        done = subprocess.run(
            [sys.executable, "-m", "fieldapp.cli", "create-user", email, "--role", role,
             "--team", TEAM, "--organisation-login"],
            env=cli_env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    idp.trust(requests.get(f"{server.url}/saml/metadata", timeout=10).text)
    yield server, idp
    server.stop()


@pytest.mark.parametrize(("account_id", "landing"), [("lead", "/dashboard"), ("worker", "/today")])
def test_each_role_logs_in_through_the_municipal_login_and_lands_on_its_page(
    browser, saml_demo, account_id, landing
):
    server, idp = saml_demo
    context = browser.new_context(base_url=server.url, locale="en-GB", **PHONE)
    page = context.new_page()
    posts = []
    page.on(
        "request",
        lambda r: (
            posts.append((r.url, r.all_headers().get("cookie"))) if r.method == "POST" else None
        ),
    )
    try:
        page.goto("/login")
        page.locator("#saml-login").click()
        expect(page).to_have_url(re.compile(r"^http://localhost:\d+/sso\?"))
        page.get_by_label("Account").fill(account_id)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(f"{re.escape(landing)}$"))
        # The cross-site answer came without our cookie; the hand-on from our page with it.
        acs = [cookie for url, cookie in posts if url.endswith("/saml/acs")]
        onward = [cookie for url, cookie in posts if url.endswith("/saml/acs/continue")]
        assert acs == [None] and onward and onward[0]
        # Logging out ends Doorstep's session (the provider's is not ended: no SAML logout).
        page.locator("#logout").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        page.goto(landing)
        expect(page).to_have_url(re.compile(r"/login"))
    finally:
        context.close()
