"""Logging in and out, lock-outs, CSRF, session expiry and each role's own pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, LoginFailure, User, UserSession
from fieldapp.models.types import utcnow
from tests.support import PASSWORD, AuthActions, csrf_from

PAGES = {"worker": "/today", "lead": "/dashboard", "admin": "/admin/users"}


@pytest.mark.parametrize("role", ["worker", "lead", "admin"])
def test_each_role_lands_on_its_own_page(auth, make_user, role):
    user = make_user(role)
    response = auth.login(user.email)
    assert response.status_code == 303
    assert response.headers["Location"] == PAGES[role]
    page = auth.client.get(PAGES[role])
    assert page.status_code == 200
    assert user.name in page.get_data(as_text=True)


@pytest.mark.parametrize("role", ["worker", "lead", "admin"])
def test_each_role_is_refused_the_others_pages(auth, make_user, role):
    auth.login(make_user(role).email)
    allowed = {"worker": {"/today"}, "lead": {"/today", "/dashboard"}, "admin": {"/admin/users"}}
    for page in PAGES.values():
        expected = 200 if page in allowed[role] else 403
        assert auth.client.get(page).status_code == expected, page


def test_pages_need_a_login(client):
    response = client.get("/today")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/today")


def test_htmx_request_without_session_is_told_to_log_in(client):
    response = client.get("/today", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"


def test_login_follows_a_local_next_but_never_another_site(auth, make_user):
    user = make_user("lead")
    token = auth.csrf()
    ok = auth.client.post(
        "/login?next=/today", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert ok.headers["Location"] == "/today"
    auth.client.post("/logout", data={"csrf_token": auth.csrf_any_page()})
    token = auth.csrf()
    evil = auth.client.post(
        "/login?next=//evil.example/x",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
    )
    assert evil.headers["Location"] == "/dashboard"


def test_email_is_matched_without_case_or_spaces(auth, make_user):
    user = make_user("worker", email="mette@example.org")
    assert auth.login("  Mette@Example.ORG ").status_code == 303
    assert auth.client.get("/today").status_code == 200 and user


def test_wrong_password_is_refused_with_a_message_and_counted(app, auth, make_user):
    user = make_user("worker")
    response = auth.login(user.email, "not the password")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert auth.client.get("/today").status_code == 302
    with app.app_context():
        assert db.session.scalars(select(LoginFailure.email)).all() == [user.email]


def test_unknown_account_gets_the_same_answer_as_a_wrong_password(auth):
    response = auth.login("nobody@example.org", "whatever")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)


def test_locked_out_after_repeated_failures_even_with_the_right_password(app, auth, make_user):
    user = make_user("worker")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        assert auth.login(user.email, "wrong").status_code == 401
    response = auth.login(user.email, PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed logins" in response.get_data(as_text=True)


def test_lockout_ends_when_the_window_has_passed(app, auth, make_user):
    user = make_user("worker")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        auth.login(user.email, "wrong")
    with app.app_context():
        window = timedelta(minutes=app.config["LOGIN_FAILURE_WINDOW_MINUTES"] + 1)
        db.session.execute(update(LoginFailure).values(at=utcnow() - window))
        db.session.commit()
    assert auth.login(user.email, PASSWORD).status_code == 303


def test_one_address_guessing_many_accounts_is_locked_out(app, auth, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    user = make_user("worker")
    for n in range(3):
        assert auth.login(f"guess{n}@example.org", "wrong").status_code == 401
    assert auth.login(user.email, PASSWORD).status_code == 429


def test_post_without_csrf_token_is_refused(client, make_user):
    user = make_user("worker")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "expired or came from elsewhere" in response.get_data(as_text=True)


def test_htmx_post_may_carry_the_token_in_a_header(auth, make_user):
    auth.login(make_user("worker").email)
    token = csrf_from(auth.client.get("/today").get_data(as_text=True))
    refused = auth.client.post("/language", data={"lang": "da"})
    accepted = auth.client.post("/language", data={"lang": "da"}, headers={"X-CSRFToken": token})
    assert refused.status_code == 400 and accepted.status_code == 303


def test_logout_ends_the_session_on_the_server(app, auth, make_user):
    auth.login(make_user("worker").email)
    stolen_cookie = auth.client.get_cookie("doorstep_session").value
    response = auth.logout()
    assert response.status_code == 303
    # The HTTP cache only: "storage" would delete other workers' unsent records on a shared
    # phone (the page and the service worker delete the kept pages themselves).
    assert response.headers["Clear-Site-Data"] == '"cache"'
    with app.app_context():
        row = db.session.scalars(select(UserSession)).one()
        assert row.ended_reason == "logout"
    # Replaying the old cookie opens nothing: the server-side row is ended.
    auth.client.set_cookie("doorstep_session", stolen_cookie)
    assert auth.client.get("/today").status_code == 302


@pytest.mark.parametrize(
    ("field", "setting", "reason"),
    [
        ("last_seen_at", "SESSION_IDLE_MINUTES", "idle"),
        ("created_at", "SESSION_MAX_HOURS", "expired"),
    ],
)
def test_sessions_expire_after_idle_and_absolute_time(app, auth, make_user, field, setting, reason):
    auth.login(make_user("worker").email)
    assert auth.client.get("/today").status_code == 200
    minutes = app.config[setting] * (60 if setting == "SESSION_MAX_HOURS" else 1)
    with app.app_context():
        long_ago = utcnow() - timedelta(minutes=minutes + 1)
        values = {field: long_ago}
        if field == "created_at":
            values["last_seen_at"] = utcnow()  # still active, but too old
        db.session.execute(update(UserSession).values(**values))
        db.session.commit()
    response = auth.client.get("/today")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    with app.app_context():
        assert db.session.scalars(select(UserSession.ended_reason)).one() == reason


def test_disabled_account_loses_its_sessions(app, make_user, auth):

    worker = make_user("worker")
    admin = make_user("admin")
    auth.login(worker.email)
    admin_client = AuthActions(app.test_client())
    admin_client.login(admin.email)
    response = admin_client.post(
        f"/admin/users/{worker.id}/active", {"active": "0"}, page="/admin/users"
    )
    assert response.status_code == 303
    assert auth.client.get("/today").status_code == 302
    assert auth.login(worker.email).status_code == 401


def test_login_and_logout_are_audited_without_passwords(app, auth, make_user):
    user = make_user("lead")
    auth.login(user.email)
    auth.logout()
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == ["login", "logout"]
        assert all(PASSWORD not in repr(e.detail) for e in events)


def test_language_follows_the_browser_then_the_choice(auth, make_user):
    page = auth.client.get("/login", headers={"Accept-Language": "nb-NO,nb;q=0.9"})
    assert 'lang="nb"' in page.get_data(as_text=True)
    page = auth.client.get("/login", headers={"Accept-Language": "no"})
    assert 'lang="nb"' in page.get_data(as_text=True)
    token = auth.csrf()
    auth.client.post("/language", data={"lang": "da", "csrf_token": token})
    page = auth.client.get("/login", headers={"Accept-Language": "en"})
    assert 'lang="da"' in page.get_data(as_text=True)


def test_head_request_shows_the_form_and_counts_no_failure(app, client):
    assert client.head("/login").status_code == 200
    with app.app_context():
        assert db.session.scalars(select(LoginFailure)).all() == []


def test_an_administrator_logs_a_user_out_everywhere(app, make_user):
    worker = make_user("worker")
    admin = make_user("admin")
    phone, laptop = app.test_client(), app.test_client()
    for device in (phone, laptop):
        AuthActions(device).login(worker.email)
        assert device.get("/today").status_code == 200
    office = app.test_client()
    auth = AuthActions(office)
    auth.login(admin.email)
    response = auth.post(f"/admin/users/{worker.id}/sessions/end", page="/admin/users")
    assert response.status_code == 303
    for device in (phone, laptop):
        assert device.get("/today").status_code == 302  # to the login page
    with app.app_context():
        detail = db.session.scalar(
            select(AuditEvent.detail).where(AuditEvent.detail.like("ended % sessions"))
        )
        assert detail == "ended 2 sessions"


def test_password_hashes_follow_the_configured_cost_and_are_redone_at_login(app, make_user):
    """The suite hashes at the least cost; a deployment at the default cost (argon2-cffi's:
    t=3, 64 MiB, p=4) redoes an older, cheaper hash at the person's next login."""
    from fieldapp.config import Config
    from fieldapp.services.accounts import configure_password_hashing

    user = make_user("worker")
    with app.app_context():
        cheap = db.session.get(User, user.id).password_hash
    assert "$argon2id$" in cheap and "m=8,t=1,p=1" in cheap
    defaults = (
        Config.PASSWORD_HASH_TIME_COST,
        Config.PASSWORD_HASH_MEMORY_KIB,
        Config.PASSWORD_HASH_PARALLELISM,
    )
    assert defaults == (3, 65536, 4)
    configure_password_hashing(*defaults)
    try:
        assert AuthActions(app.test_client()).login(user.email).status_code in (302, 303)
        with app.app_context():
            redone = db.session.get(User, user.id).password_hash
        assert "m=65536,t=3,p=4" in redone
    finally:
        configure_password_hashing(1, 8, 1)


def test_the_login_outlives_a_browser_restart_but_not_the_sessions_own_limit(app, auth, make_user):
    # iOS closes home-screen apps often: a cookie that ends with the browser would leave
    # records made offline waiting for the next login. It lasts the absolute limit at most.
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    make_user("worker", email="w@example.org")
    response = auth.login("w@example.org")
    cookie = next(
        value
        for value in response.headers.getlist("Set-Cookie")
        if value.startswith("doorstep_session=")
    )
    expires = parsedate_to_datetime(cookie.split("Expires=", 1)[1].split(";", 1)[0])
    hours = (expires - datetime.now(UTC)).total_seconds() / 3600
    assert app.config["SESSION_MAX_HOURS"] - 0.1 < hours <= app.config["SESSION_MAX_HOURS"]
    # The server still ends the session by its own rows (idle and absolute expiry).
    with app.app_context():
        db.session.execute(update(UserSession).values(created_at=utcnow() - timedelta(hours=13)))
        db.session.commit()
    assert auth.client.get("/today").status_code == 302


def test_pages_without_a_login_tell_the_phone_to_forget_the_last_session(auth, make_user):
    header = "X-Doorstep-Logged-Out"
    client = auth.client
    assert client.get("/login").headers.get(header) == "1"
    assert client.get("/today").headers.get(header) == "1"  # the redirect to the login
    sync = client.post("/sync", json={"records": []}, headers={"X-Doorstep-Sync": "1"})
    assert sync.status_code == 401 and sync.headers.get(header) == "1"
    # The offline page is precached for whoever uses the phone later: it must not wipe.
    assert header not in client.get("/offline").headers
    make_user("worker", email="w@example.org")
    auth.login("w@example.org")
    assert header not in client.get("/today").headers
