"""Two-factor login (TOTP): turning it on with a code, logging in with password and code, wrong
codes counted like wrong passwords, and the organisation requiring it for leads and
administrators."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Organisation, User
from tests.support import PASSWORD, AuthActions, csrf_from


def turn_on(client) -> str:
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    assert f"secret={secret}" in page  # the otpauth:// link carries the same key
    token = csrf_from(page)
    wrong = client.post("/account/two-factor", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 400
    right = client.post(
        "/account/two-factor", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()}
    )
    assert right.status_code == 303
    return secret


def log_in(app, email, code=""):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token, "code": code},
    )
    return client, response


def test_a_worker_turns_it_on_and_then_needs_the_code(app, make_user):
    worker = make_user("worker")
    client, _ = log_in(app, worker.email)
    secret = turn_on(client)
    with app.app_context():
        assert db.session.get(User, worker.id).totp_enabled_at is not None

    _, without = log_in(app, worker.email)
    assert without.status_code == 401
    _, wrong = log_in(app, worker.email, "123456")
    assert wrong.status_code == 401
    _, right = log_in(app, worker.email, pyotp.TOTP(secret).now())
    assert right.status_code == 303


def test_wrong_codes_lock_the_account_like_wrong_passwords(app, make_user):
    worker = make_user("worker")
    client, _ = log_in(app, worker.email)
    secret = turn_on(client)
    for _ in range(5):
        assert log_in(app, worker.email, "000000")[1].status_code == 401
    _, locked = log_in(app, worker.email, pyotp.TOTP(secret).now())
    assert locked.status_code == 429


def test_turning_it_off_needs_a_code(app, make_user):
    worker = make_user("worker")
    client, _ = log_in(app, worker.email)
    secret = turn_on(client)
    token = csrf_from(client.get("/account/two-factor").get_data(as_text=True))
    assert (
        client.post("/account/two-factor", data={"csrf_token": token, "code": "1"}).status_code
        == 400
    )
    off = client.post(
        "/account/two-factor", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()}
    )
    assert off.status_code == 303
    assert log_in(app, worker.email)[1].status_code == 303


def test_the_organisation_requires_it_for_leads_and_administrators(app, make_user):
    admin = make_user("admin")
    lead = make_user("lead")
    worker = make_user("worker")
    auth = AuthActions(app.test_client())
    auth.login(admin.email)
    assert auth.post("/admin/two-factor", {"require": "1"}, page="/admin/users").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Organisation.require_totp)) is True

    lead_client, _ = log_in(app, lead.email)
    sent_away = lead_client.get("/dashboard")
    assert sent_away.status_code == 302 and sent_away.headers["Location"].endswith(
        "/account/two-factor"
    )
    assert "two-factor-required" in lead_client.get("/account/two-factor").get_data(as_text=True)
    secret = turn_on(lead_client)
    assert lead_client.get("/dashboard").status_code == 200
    # Required: it cannot be turned off.
    token = csrf_from(lead_client.get("/account/two-factor").get_data(as_text=True))
    refused = lead_client.post(
        "/account/two-factor", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()}
    )
    assert refused.status_code == 400
    # Workers are not required to.
    worker_client, _ = log_in(app, worker.email)
    assert worker_client.get("/today").status_code == 200
