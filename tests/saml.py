"""A SAML 2.0 identity provider shaped like KOMBIT's Context Handler, for the tests, and the way
through its login.

The provider is pysaml2's own IdP (`saml2.server.Server`) in tests/idp/saml_idp.py, on a free
port, signing with RSASSA-PSS through the app's own crypto (fieldapp.services.saml_crypto, the
libxmlsec1 1.3 of the xmlsec wheel). The fixture `saml_idp(accounts, **options)` starts one;
`idp.trust(app_metadata)` registers an app with it. Import it where it is used:
`from tests.saml import saml_idp  # noqa: F401`.

`saml_login(app, idp, account_id)` is the whole login with the Flask test client for the app and
`requests` for the provider: /login/saml, the provider's form, its HTTP-POST answer to the
app's /saml/acs (from a client with no cookies, as a browser would send a cross-site POST to a
SameSite=Lax site), the hand-on page, and /saml/acs/continue. It returns the last answer.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.idp.saml_idp import SamlIdp, auto_post_fields, make_key_pair

CVR_OWN = "29189846"
CVR_OTHER = "11111111"
PRIVILEGE = "http://doorstep.test/roles/usersystemrole/{}/1"
ROLE_MAP = {
    PRIVILEGE.format("fieldworker"): "worker",
    PRIVILEGE.format("teamlead"): "lead",
    PRIVILEGE.format("admin"): "admin",
    PRIVILEGE.format("dpo"): "dpo",
}


def saml_account(email, name, privileges, loa="Substantial", uuid=None, cvr=CVR_OWN) -> dict:
    """An account at the test Context Handler; privileges: {cvr: [short names]}."""
    return {
        "email": email,
        "fullName": name,
        "loa": loa,
        "cvr": cvr,
        "orgName": "Testkommune",
        "uuid": uuid or f"00000000-0000-4000-8000-{abs(hash(email)) % 10**12:012d}",
        "privileges": {
            scope: [PRIVILEGE.format(short) for short in shorts]
            for scope, shorts in privileges.items()
        },
    }


@pytest.fixture(scope="session")
def sp_keys(tmp_path_factory):
    """The app's SAML key and certificate (RSA 3072, self-signed: OCES3 stands in)."""
    return make_key_pair(tmp_path_factory.mktemp("saml-sp"), "doorstep-sp", "Doorstep SP")


@pytest.fixture
def saml_idp(tmp_path):
    started = []

    def start(accounts, host="127.0.0.1", **options):
        folder = tmp_path / f"saml-idp-{len(started)}"
        folder.mkdir()
        idp = SamlIdp.start(folder, [], accounts=accounts, options=options, host=host)
        started.append(idp)
        return idp

    yield start
    for idp in started:
        idp.stop()


def saml_settings(idp, sp_keys, **settings) -> dict:
    """The app's configuration for this provider (the defaults an operator would set)."""
    import json

    key, cert = sp_keys
    return {
        "SAML_IDP_METADATA_URL": idp.metadata_url,
        "SAML_KEY_FILE": str(key),
        "SAML_CERT_FILE": str(cert),
        "SAML_CVR": CVR_OWN,
        "SAML_ROLE_MAP": json.dumps(ROLE_MAP),
        **settings,
    }


def provider_answer(start_location: str, account_id: str, action="sign-in") -> dict:
    """The provider's half: from the app's redirect to the HTTP-POST fields for the app's ACS
    (SAMLResponse, RelayState and `_action`, the ACS URL)."""
    browser = requests.Session()
    page = browser.get(start_location, timeout=10)
    assert page.status_code == 200, page.text[:300]
    key = page.text.split('name="key" value="', 1)[1].split('"', 1)[0]
    base = f"{urlsplit(start_location).scheme}://{urlsplit(start_location).netloc}"
    answer = browser.post(
        f"{base}/login", data={"key": key, "login": account_id, "action": action}, timeout=10
    )
    assert answer.status_code == 200, answer.text[:300]
    return auto_post_fields(answer.text)


def start_login(web):
    start = web.get("/login/saml")
    assert start.status_code == 303, start.get_data(as_text=True)[:300]
    return start.headers["Location"]


def hand_on(app, web, fields: dict):
    """The provider's POST to /saml/acs (no cookies), then this browser's POST onwards."""
    assert fields["_action"] == "http://localhost/saml/acs", fields["_action"]
    relay = app.test_client().post(
        "/saml/acs", data={"SAMLResponse": fields["SAMLResponse"], "RelayState": ""}
    )
    assert relay.status_code == 200, relay.get_data(as_text=True)[:300]
    page = relay.get_data(as_text=True)
    forwarded = page.split('name="SAMLResponse" value="', 1)[1].split('"', 1)[0]
    return web.post("/saml/acs/continue", data={"SAMLResponse": forwarded})


def saml_login(app, account_id, web=None):
    web = web or app.test_client()
    fields = provider_answer(start_login(web), account_id)
    return hand_on(app, web, fields)


def request_of(location: str) -> dict:
    """The query of the app's redirect to the provider: SAMLRequest (decoded XML), SigAlg..."""
    import zlib

    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    query["xml"] = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15).decode()
    return query
