"""Single sign-on against a real OpenID Connect provider: panva's oidc-provider on 127.0.0.1
(tests/idp/oidc_provider.mjs), with the app under Flask's test client. The provider signs
every token with its own keys; the misbehaving cases are the provider's own refusals or its
answers altered and signed again by the harness (tests/oidc.py)."""

from __future__ import annotations

import json
import shutil
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from fieldapp import create_app
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, User
from fieldapp.services.accounts import create_user
from tests.conftest import base_config
from tests.oidc import ACR_HIGH, account, authorize, client, oidc_provider  # noqa: F401
from tests.support import PASSWORD, AuthActions

ROLE_MAP = {
    "Doorstep.Lead": "lead",
    "Doorstep.Worker": "worker",
    "Doorstep.Admin": "admin",
    "Doorstep.DPO": "dpo",
}
CALLBACK = "http://localhost/login/sso/callback"
ACCOUNTS = {
    "lead-1": account("lead@kommune.dk", "Lene Lund", roles=["Doorstep.Lead"], team="Team A"),
    "worker-1": account("worker@kommune.dk", "Mads Bo", roles=["Doorstep.Worker"], team="Team A"),
    "payroll-1": account("pay@kommune.dk", "Per Løn", roles=["Payroll"], team="Team A"),
    "admin-1": account("it@kommune.dk", "Ida Tek", roles=["Doorstep.Admin"]),
    "dpo-1": account("dpo@kommune.dk", "Dorte Pe", roles=["Doorstep.DPO", "Other"]),
}


@pytest.fixture
def provider(oidc_provider):  # noqa: F811
    return oidc_provider(
        [client([CALLBACK], ["http://localhost/login"])], json.loads(json.dumps(ACCOUNTS))
    )


@pytest.fixture
def make_sso_app(provider, sqlite_template, tmp_path):
    """make_sso_app(**settings) -> the app on SQLite, logging in through the provider."""
    apps = []

    def make(**settings):
        path = tmp_path / f"sso-{len(apps)}.sqlite3"
        shutil.copyfile(sqlite_template, path)
        config = {
            **base_config(f"sqlite:///{path}", tmp_path),
            "OIDC_ISSUER": provider.issuer,
            "OIDC_CLIENT_ID": "doorstep",
            "OIDC_CLIENT_SECRET": "doorstep-test-client-secret",
            "OIDC_SCOPES": "openid email profile roles team",
            "OIDC_ROLE_CLAIM": "roles",
            "OIDC_ROLE_MAP": json.dumps(ROLE_MAP),
            "OIDC_TEAM_CLAIM": "team",
            **settings,
        }
        app = create_app(config)
        with app.app_context():
            create_user(db.session, "local.lead@example.org", PASSWORD, "lead", "Team A", "L")
            create_user(db.session, "admin@example.org", PASSWORD, "admin", None, "Admin")
            db.session.commit()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def sso_app(make_sso_app):
    return make_sso_app()


def sso_login(app, account_id, web=None, browser=None):
    """Start at /login/sso, log in at the provider, come back: the app's last answer."""
    web = web or app.test_client()
    start = web.get("/login/sso")
    assert start.status_code == 302, start.get_data(as_text=True)[:300]
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    callback = authorize(start.headers["Location"], account_id, session=browser)
    assert callback.startswith(CALLBACK), callback
    return web.get(callback.removeprefix("http://localhost"))


def person(app, email):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        return (
            None
            if user is None
            else (user.role, user.team.name if user.team else None, user.active)
        )


def refused_why(answer) -> str:
    page = answer.get_data(as_text=True)
    assert 'id="sso-refused"' in page, page[:400]
    return page.split('data-why="', 1)[1].split('"', 1)[0]


def test_a_lead_and_a_worker_log_in_and_land_on_their_pages(sso_app):
    lead = sso_login(sso_app, "lead-1")
    assert (lead.status_code, lead.headers["Location"]) == (303, "/dashboard")
    worker = sso_login(sso_app, "worker-1")
    assert (worker.status_code, worker.headers["Location"]) == (303, "/today")
    assert person(sso_app, "lead@kommune.dk") == ("lead", "Team A", True)
    assert person(sso_app, "worker@kommune.dk") == ("worker", "Team A", True)


@pytest.mark.parametrize(
    ("account_id", "email", "landing"),
    [("admin-1", "it@kommune.dk", "/admin/users"), ("dpo-1", "dpo@kommune.dk", "/audit")],
)
def test_an_administrator_and_a_dpo_log_in_without_a_team(sso_app, account_id, email, landing):
    web = sso_app.test_client()
    answer = sso_login(sso_app, account_id, web)
    assert (answer.status_code, answer.headers["Location"]) == (303, landing)
    assert web.get(landing).status_code == 200
    role = "admin" if account_id == "admin-1" else "dpo"
    assert person(sso_app, email) == (role, None, True)


def test_the_logged_in_person_reaches_their_page(sso_app):
    web = sso_app.test_client()
    sso_login(sso_app, "worker-1", web)
    assert web.get("/today").status_code == 200
    assert web.get("/dashboard").status_code == 403


def test_a_role_changed_at_the_provider_changes_at_the_next_login(sso_app, provider):
    sso_login(sso_app, "worker-1")
    provider.set_account("worker-1", roles=["Doorstep.Lead"])
    again = sso_login(sso_app, "worker-1")
    assert again.headers["Location"] == "/dashboard"
    assert person(sso_app, "worker@kommune.dk") == ("lead", "Team A", True)


def test_a_role_removed_at_the_provider_disables_the_account(sso_app, provider):
    web = sso_app.test_client()
    sso_login(sso_app, "worker-1", web)
    provider.set_account("worker-1", roles=[])
    answer = sso_login(sso_app, "worker-1")
    assert answer.status_code == 403 and refused_why(answer) == "no_role"
    assert person(sso_app, "worker@kommune.dk")[2] is False
    assert web.get("/today").status_code == 302  # its other session ended too


def test_a_person_with_no_mapped_role_gets_a_refusal_and_no_account(sso_app):
    answer = sso_login(sso_app, "payroll-1")
    assert answer.status_code == 403 and refused_why(answer) == "no_role"
    assert "Doorstep role" in answer.get_data(as_text=True)
    assert person(sso_app, "pay@kommune.dk") is None


@pytest.mark.parametrize(
    "tamper",
    [
        {"id_token_nonce": "not-the-one-we-sent"},
        {"iss": "http://127.0.0.1:1/evil"},
        {"aud": "another-client"},
        {"exp_seconds": -180},  # beyond the 60 s of clock skew allowed
        {"signature": "foreign_key"},
        {"signature": "none"},
        {"auth_iss": "http://127.0.0.1:1/mix-up"},  # RFC 9207's iss in the answer
        {"auth_iss": None},  # the provider says it sends iss, and this answer has none
        {"auth_state": "forged"},
    ],
    ids=lambda t: "-".join(f"{k}={v}" for k, v in t.items()),
)
def test_a_wrong_answer_from_the_provider_logs_nobody_in(sso_app, provider, tamper):
    provider.set_tamper(**tamper)
    web = sso_app.test_client()
    answer = sso_login(sso_app, "lead-1", web)
    assert answer.status_code == 401 and refused_why(answer) == "failed"
    assert person(sso_app, "lead@kommune.dk") is None
    assert web.get("/dashboard").status_code == 302
    with sso_app.app_context():
        assert (
            db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1))
            == "sso_refuse"
        )


def test_a_small_clock_difference_is_allowed(sso_app, provider):
    provider.set_tamper(clock_offset_seconds=30)  # the provider's clock 30 s ahead
    assert sso_login(sso_app, "lead-1").headers["Location"] == "/dashboard"


def test_a_callback_used_twice_logs_in_once(sso_app):
    web = sso_app.test_client()
    start = web.get("/login/sso")
    callback = authorize(start.headers["Location"], "lead-1").removeprefix("http://localhost")
    assert web.get(callback).status_code == 303
    other = sso_app.test_client()
    replay = other.get(callback)  # the same code and state, from another browser
    assert replay.status_code == 401 and refused_why(replay) == "failed"


def test_the_required_assurance_level_is_enforced(make_sso_app, provider):
    app = make_sso_app(OIDC_ACR=ACR_HIGH)
    web = app.test_client()
    start = web.get("/login/sso")
    assert parse_qs(urlsplit(start.headers["Location"]).query)["acr_values"] == [ACR_HIGH]
    refused = sso_login(app, "lead-1")  # the account logs in at "substantial"
    assert refused.status_code == 401 and refused_why(refused) == "assurance"
    provider.set_account("lead-1", acr=ACR_HIGH)
    assert sso_login(app, "lead-1").headers["Location"] == "/dashboard"


def test_local_login_off_removes_the_form_and_the_endpoint_refuses(make_sso_app):
    app = make_sso_app(LOCAL_LOGIN="off")
    page = app.test_client().get("/login").get_data(as_text=True)
    assert 'id="sso-login"' in page and 'name="password"' not in page
    refused = AuthActions(app.test_client()).login("local.lead@example.org")
    assert refused.status_code == 403
    refusal = refused.get_data(as_text=True).split('id="login-error">', 1)[1].split("<", 1)[0]
    assert refusal == "Log in with your organisation&#39;s account"
    assert sso_login(app, "lead-1").headers["Location"] == "/dashboard"


def test_local_login_admins_only_lets_the_emergency_administrator_in(make_sso_app):
    app = make_sso_app(LOCAL_LOGIN="admins-only")
    lead = AuthActions(app.test_client()).login("local.lead@example.org")
    assert lead.status_code == 403
    assert "organisation's account" in lead.get_data(as_text=True)
    admin = AuthActions(app.test_client()).login("admin@example.org")
    assert admin.status_code == 303


def test_logout_ends_the_providers_session_too(sso_app, provider):
    web = sso_app.test_client()
    sso_login(sso_app, "lead-1", web)
    answer = AuthActions(web).logout()
    target = urlsplit(answer.headers["Location"])
    assert (
        f"{target.scheme}://{target.netloc}{target.path}"
        == provider.discovery["end_session_endpoint"]
    )
    query = parse_qs(target.query)
    assert query["client_id"] == ["doorstep"]
    assert query["post_logout_redirect_uri"] == ["http://localhost/login"]
    assert web.get("/dashboard").status_code == 302


def test_a_password_login_logs_out_without_the_provider(sso_app):
    web = sso_app.test_client()
    AuthActions(web).login("local.lead@example.org")
    assert AuthActions(web).logout().headers["Location"] == "/login"
