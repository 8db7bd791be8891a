"""A real OpenID Connect identity provider for the tests, and ways through its login.

`OidcProvider.start(folder, clients, accounts)` runs panva's oidc-provider
(tests/idp/oidc_provider.mjs, Node.js, from `npm ci --no-audit --no-fund` at the top of the
checkout) on a free port of 127.0.0.1, issuer `http://127.0.0.1:<port>`, in about 0.5 s. The
fixture `oidc_provider` starts as many as a test asks for and stops them after it; without
Node.js or node_modules it skips (tests/conftest.py's `need`: under CI=true it fails). Import
it where it is used: `from tests.oidc import oidc_provider  # noqa: F401`.

Logging in needs no password: the provider's form takes the account's id (field `login`,
labelled "Account"; buttons "Sign in" and "Cancel") and grants consent for whatever was asked.
Scopes and the claims they put in the ID token (and UserInfo): `openid` sub, and the login's
acr, amr, auth_time; `email` email, email_verified; `profile` name (given_name, family_name,
preferred_username, locale); `roles` roles; `groups` groups; `team` team. The login's acr is
the account's "acr" when the form is submitted; the other claims are read again for every
token. The provider remembers the login (single sign-on) until logout, prompt=login or max_age.

The accounts, the misbehaviour (`set_tamper`) and the lifetimes (`set_options`) are in a JSON
file the provider reads on every request: `set_account(...)` between two logins is a role
changed at the provider.

- `authorize(auth_url, account_id)`: the provider's half of a login with `requests`, from the
  authorization URL the app redirected to, to the redirect back to the app's callback, with
  code, state and iss (returned, not followed: hand it to the Flask test client).
- `login_through(session, start_url, account_id)`: the whole login against a running app
  (tests/browser/conftest.py's start_demo_server), for a `requests.Session`.
- `end_session(url)`: the provider's half of an RP-initiated logout.
- In a browser: `page.get_by_label("Account").fill(account_id)`, then the "Sign in" button.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "idp" / "oidc_provider.mjs"
PACKAGE = ROOT / "node_modules" / "oidc-provider" / "package.json"
INSTALL = "npm ci --no-audit --no-fund"

ACR_SUBSTANTIAL = "urn:doorstep:loa:substantial"
ACR_HIGH = "urn:doorstep:loa:high"
SCOPES = "openid email profile roles groups team"

CLIENT_ID = "doorstep"
CLIENT_SECRET = "doorstep-test-client-secret"


def client(
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] = (),
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    token_endpoint_auth_method: str = "client_secret_basic",
    **metadata,
) -> dict:
    """A confidential web client's registration (client_secret_basic or _post: either is
    accepted at the token endpoint, whichever is registered)."""
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": list(post_logout_redirect_uris),
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        **metadata,
    }


def account(
    email: str,
    name: str = "",
    roles: list[str] = (),
    groups: list[str] = (),
    team: str | None = None,
    acr: str | None = ACR_SUBSTANTIAL,
    **claims,
) -> dict:
    """An account's claims as the provider keeps them (None values left out)."""
    values = {
        "email": email,
        "email_verified": True,
        "name": name or email.split("@")[0].title(),
        "roles": list(roles),
        "groups": list(groups),
        "team": team,
        "acr": acr,
        **claims,
    }
    return {key: value for key, value in values.items() if value is not None}


def missing_node() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is missing: install Debian's package `nodejs` (20 or newer)"
    if not PACKAGE.exists():
        return f"oidc-provider is not installed: run `{INSTALL}` at the top of the checkout"
    return None


def _write_json(path: Path, data: dict) -> None:
    """Atomically: the provider reads the file on every request."""
    part = path.with_suffix(".part")
    part.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(part, path)


class OidcProvider:
    """One running oidc-provider. `.issuer`, `.discovery`, `.log`; change it with
    set_account / remove_account / set_tamper / set_options; stop()."""

    def __init__(self, folder: Path, process: subprocess.Popen, issuer: str, log: Path) -> None:
        self.folder = folder
        self.state_path = folder / "state.json"
        self.process = process
        self.issuer = issuer
        self.port = urlsplit(issuer).port
        self.log = log
        self.discovery: dict = {}
        self.start_seconds = 0.0

    @classmethod
    def start(
        cls,
        folder: Path,
        clients: list[dict],
        accounts: dict[str, dict],
        *,
        options: dict | None = None,
        tamper: dict | None = None,
        acr_values: list[str] | None = None,
        port: int = 0,
        timeout: float = 30,
    ) -> OidcProvider:
        """Run tests/idp/oidc_provider.mjs with a state file in `folder`; wait for discovery.
        port 0: a free one (the issuer says which); a port of a stopped provider: the same
        issuer again, with new keys."""
        reason = missing_node()
        if reason:
            need(reason)
        began = time.monotonic()
        folder.mkdir(parents=True, exist_ok=True)
        state = {
            "clients": clients,
            "accounts": accounts,
            "tamper": tamper or {},
            "options": options or {},
            "acr_values": acr_values or [ACR_SUBSTANTIAL, ACR_HIGH],
        }
        _write_json(folder / "state.json", state)
        ready = folder / "ready.json"
        ready.unlink(missing_ok=True)
        log = folder / "provider.log"
        process = subprocess.Popen(
            ["node", str(SCRIPT), str(folder / "state.json"), str(port)],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "NODE_ENV": "test"},
        )
        deadline = began + timeout
        issuer = None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited: {log.read_text()}")
            if issuer is None and ready.exists():
                issuer = json.loads(ready.read_text())["issuer"]
            if issuer:
                try:
                    answer = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
                    if answer.status_code == 200:
                        provider = cls(folder, process, issuer, log)
                        provider.discovery = answer.json()
                        provider.start_seconds = time.monotonic() - began
                        return provider
                except requests.ConnectionError:
                    pass
            time.sleep(0.05)
        process.kill()
        raise RuntimeError(f"oidc-provider did not answer within {timeout} s: {log.read_text()}")

    # What the provider reads on every request -------------------------------------------

    def state(self) -> dict:
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def _change(self, key: str, value) -> None:
        state = self.state()
        state[key] = value
        _write_json(self.state_path, state)

    def set_account(self, account_id: str, **claims) -> None:
        """Add the account, or change its claims (None removes one): the next token says so."""
        accounts = self.state()["accounts"]
        merged = {**accounts.get(account_id, {}), **claims}
        accounts[account_id] = {k: v for k, v in merged.items() if v is not None}
        self._change("accounts", accounts)

    def remove_account(self, account_id: str) -> None:
        accounts = self.state()["accounts"]
        accounts.pop(account_id, None)
        self._change("accounts", accounts)

    def set_tamper(self, **tamper) -> None:
        """Misbehave from the next request on (no arguments: behave). See the keys at
        "Misbehaviour" in tests/idp/oidc_provider.mjs: id_token_nonce, iss, aud, sub, azp, acr,
        clock_offset_seconds, exp_seconds, iat_seconds, id_token_claims, signature, auth_iss,
        auth_state, userinfo_sub."""
        self._change("tamper", tamper)

    def set_options(self, **options) -> None:
        """Lifetimes in seconds from the next request on: id_token_ttl, authorization_code_ttl,
        access_token_ttl, session_ttl, interaction_ttl, grant_ttl."""
        self._change("options", {**self.state()["options"], **options})

    # ----------------------------------------------------------------------------------

    def jwks(self) -> dict:
        return requests.get(self.discovery["jwks_uri"], timeout=5).json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def oidc_provider(tmp_path) -> Iterator:
    """oidc_provider(clients, accounts, **start_options) -> a started OidcProvider; every one
    is stopped after the test. Import it into a conftest or test module:
    `from tests.oidc import oidc_provider  # noqa: F401`."""
    started: list[OidcProvider] = []

    def start(clients: list[dict], accounts: dict[str, dict], **options) -> OidcProvider:
        provider = OidcProvider.start(
            tmp_path / f"oidc-provider-{len(started)}", clients, accounts, **options
        )
        started.append(provider)
        return provider

    yield start
    for provider in reversed(started):
        provider.stop()


# Through the provider's pages with requests ---------------------------------------------


class _PostForm(HTMLParser):
    """The first POST form of a page: its action and hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._inside = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and self.action is None and attributes.get("method") == "post":
            self.action, self._inside = attributes.get("action") or "", True
        elif tag == "input" and self._inside and attributes.get("type") == "hidden":
            self.fields[attributes.get("name") or ""] = attributes.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._inside = False


class ProviderRefused(AssertionError):
    """The provider showed an error page (or refused the login) instead of redirecting."""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def authorize(
    auth_url: str,
    account_id: str | None,
    *,
    session: requests.Session | None = None,
    max_steps: int = 12,
) -> str:
    """Go through the provider from its authorization URL: log in as `account_id` (None:
    press Cancel, i.e. access_denied) and return the URL it redirects to outside itself,
    the client's callback with code, state and iss (not requested). A given `session` keeps
    the provider's cookies, as a browser would: a second authorize() is then single sign-on
    without the form (unless the app asks prompt=login or max_age)."""
    session = session or requests.Session()
    provider = _origin(auth_url)
    response = session.get(auth_url, allow_redirects=False, timeout=10)
    for _ in range(max_steps):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if _origin(location) != provider:
                return location
            response = session.get(location, allow_redirects=False, timeout=10)
            continue
        form = _PostForm()
        form.feed(response.text)
        if response.status_code != 200 or not (form.action or "").endswith("/login"):
            raise ProviderRefused(
                f"{response.status_code} at {response.url}: {_text(response.text)}"
            )
        target = urljoin(response.url, form.action)
        if account_id is None:
            target = target.rsplit("/", 1)[0] + "/abort"
        response = session.post(
            target, data={"login": account_id or ""}, allow_redirects=False, timeout=10
        )
        if response.status_code == 400:
            raise ProviderRefused(f"login as {account_id!r} refused: {_text(response.text)}")
    raise ProviderRefused(f"more than {max_steps} steps at the provider, last {response.url}")


def login_through(session: requests.Session, start_url: str, account_id: str | None):
    """The whole login against a running app: from the app's login start URL (following the
    app's own redirects) through the provider's form and back to the app's callback, whose
    redirects are followed too. Returns the final response. Both servers are on 127.0.0.1;
    their cookies (the app's doorstep_session, the provider's _session and _interaction*)
    share the host but not their names."""
    app = _origin(start_url)
    response = session.get(start_url, allow_redirects=False, timeout=10)
    while response.is_redirect:
        location = urljoin(response.url, response.headers["Location"])
        if _origin(location) != app:
            callback = authorize(location, account_id, session=session)
            return session.get(callback, timeout=30)
        response = session.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"the app did not send us to the provider: {response.status_code}")


def end_session(
    logout_url: str, *, session: requests.Session | None = None, confirm: bool = True
) -> str:
    """The provider's half of RP-initiated logout, from the end_session_endpoint URL the app
    redirected to: confirm it (or not: "No, stay signed in") and return where the provider
    sends the browser (the post_logout_redirect_uri with state, or its own "Signed out" page).
    With the session that logged in, the provider asks first; without one (no provider
    session), its page submits itself, which is done here too."""
    session = session or requests.Session()
    response = session.get(logout_url, allow_redirects=False, timeout=10)
    form = _PostForm()
    form.feed(response.text)
    if response.status_code != 200 or form.action is None:
        raise ProviderRefused(f"{response.status_code} at {logout_url}: {_text(response.text)}")
    data = dict(form.fields)
    if confirm:
        data["logout"] = "yes"
    else:
        data.pop("logout", None)
    answer = session.post(
        urljoin(response.url, form.action), data=data, allow_redirects=False, timeout=10
    )
    if not answer.is_redirect:
        raise ProviderRefused(f"{answer.status_code} after the logout form: {_text(answer.text)}")
    location = urljoin(answer.url, answer.headers["Location"])
    if _origin(location) == _origin(logout_url):  # its own "Signed out" page
        session.get(location, timeout=10)
    return location


def pkce() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()[:500]
