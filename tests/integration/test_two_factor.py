"""Two-factor login (TOTP): turning it on with a code, logging in with password and code, wrong
codes counted like wrong passwords, and the organisation requiring it for leads and
administrators."""

from __future__ import annotations

import re
import time

import pyotp
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, LoginFailure, Organisation, User
from fieldapp.models.types import utcnow
from fieldapp.services.accounts import unseal_totp
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


def next_code(secret: str) -> str:
    """The app's code for the next 30-second step: accepted (clock drift), and unused when
    the code shown now was just used."""
    return pyotp.TOTP(secret).at(time.time() + 30)


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
    _, right = log_in(app, worker.email, next_code(secret))
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
    off = client.post("/account/two-factor", data={"csrf_token": token, "code": next_code(secret)})
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


def test_the_secret_is_stored_sealed_and_read_only_with_the_apps_key(app, make_user):
    worker = make_user("worker")
    client, _ = log_in(app, worker.email)
    secret = turn_on(client)
    with app.app_context():
        stored = db.session.get(User, worker.id).totp_secret
    assert secret not in stored and not re.fullmatch(r"[A-Z2-7]+=*", stored)
    assert unseal_totp(stored, app.config["SECRET_KEY"]) == secret
    assert unseal_totp(stored, "another key") == ""  # a copy of the database alone is no use
    _, right = log_in(app, worker.email, next_code(secret))
    assert right.status_code == 303


def test_a_secret_stored_before_sealing_still_works_and_is_sealed_at_login(app, make_user):
    worker = make_user("worker")
    secret = pyotp.random_base32(32)
    with app.app_context():
        user = db.session.get(User, worker.id)
        user.totp_secret, user.totp_enabled_at = secret, utcnow()
        db.session.commit()
    _, right = log_in(app, worker.email, pyotp.TOTP(secret).now())
    assert right.status_code == 303
    with app.app_context():
        stored = db.session.get(User, worker.id).totp_secret
    assert stored != secret and unseal_totp(stored, app.config["SECRET_KEY"]) == secret


def test_an_administrator_resets_it_for_a_lost_phone(app, make_user):
    lead = make_user("lead")
    admin = make_user("admin")
    phone, _ = log_in(app, lead.email)
    turn_on(phone)
    admin_client, _ = log_in(app, admin.email)
    page = admin_client.get("/admin/users").get_data(as_text=True)
    action = f"/admin/users/{lead.id}/two-factor/reset"
    assert action in page
    answer = admin_client.post(action, data={"csrf_token": csrf_from(page)})
    assert answer.status_code == 303
    assert phone.get("/cases").status_code in (302, 303, 401)  # logged out on the lost phone
    with app.app_context():
        user = db.session.get(User, lead.id)
        assert user.totp_secret is None and user.totp_enabled_at is None
        events = db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.object_id == str(lead.id))
        ).all()
    assert any(detail.startswith("two-factor login reset") for detail in events)
    _, without_code = log_in(app, lead.email)
    assert without_code.status_code == 303


def test_a_code_opens_one_login_only(app, make_user):
    worker = make_user("worker")
    client, _ = log_in(app, worker.email)
    secret = turn_on(client)
    _, turned_on_with = log_in(app, worker.email, pyotp.TOTP(secret).now())
    assert turned_on_with.status_code == 401  # the code that turned it on is used
    code = next_code(secret)
    _, first = log_in(app, worker.email, code)
    assert first.status_code == 303
    _, replayed = log_in(app, worker.email, code)
    assert replayed.status_code == 401
    assert "Wrong e-mail or password." in replayed.get_data(as_text=True)  # says nothing more
    with app.app_context():
        failures = db.session.scalar(
            select(func.count(LoginFailure.id)).where(LoginFailure.email == worker.email)
        )
    assert failures == 1  # counted like a wrong password (the first 401 was cleared by 303)


def test_a_code_used_to_log_in_does_not_turn_it_off(app, make_user):
    worker = make_user("worker")
    client, _ = log_in(app, worker.email)
    secret = turn_on(client)
    code = next_code(secret)
    client, answer = log_in(app, worker.email, code)
    assert answer.status_code == 303
    token = csrf_from(client.get("/account/two-factor").get_data(as_text=True))
    refused = client.post("/account/two-factor", data={"csrf_token": token, "code": code})
    assert refused.status_code == 400
    assert "used already" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, worker.id).totp_enabled_at is not None


def test_the_key_being_set_up_is_not_readable_in_the_cookie(app, make_user):
    """The session cookie is signed, not secret: the key shown for scanning travelled in it as
    plain text until it was confirmed, so a copied cookie gave the future key away."""
    worker = make_user("worker")
    client = app.test_client()
    AuthActions(client).login(worker.email, PASSWORD)
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    held = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert secret not in str(held)
    again = client.get("/account/two-factor").get_data(as_text=True)
    assert f'<code id="totp-secret">{secret}</code>' in again  # the same key until confirmed
