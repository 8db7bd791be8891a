"""An administrator cannot obtain case access silently (issue 16, finding 8): new accounts get
a one-time invitation code instead of a password the administrator chooses, the person sets
their own password with it, and the data protection officer sees every grant of case access
beside its acceptance."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Invitation, User
from fieldapp.models.types import utcnow
from fieldapp.usecases import Actor, Refused, UnitOfWork
from fieldapp.usecases.accounts import NewPerson, accept_invitation, invite_person
from tests.support import PASSWORD, AuthActions

CHOSEN = "the admin's own choice"


def invite(auth, **form):
    data = {"email": "nina@example.org", "role": "lead", "team": "Team A", "name": "Nina"}
    data.update(form)
    return auth.post("/admin/users", data, page="/admin/users")


def code_of(response) -> str:
    match = re.search(r'id="invitation-code">([A-Z0-9-]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:800]
    return match.group(1)


@pytest.fixture
def admin(make_user, client):
    make_user("lead", team="Team A")  # so that Team A exists
    user = make_user("admin")
    auth = AuthActions(client)
    auth.login(user.email)
    return auth


def test_the_administrator_chooses_no_password_and_cannot_log_in_as_the_new_lead(
    app, admin, client
):
    response = invite(admin, password=CHOSEN)  # a password sent anyway is not used
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    code = code_of(response)
    assert len(code.replace("-", "")) == 20
    with app.app_context():
        nina = db.session.scalar(select(User).where(User.email == "nina@example.org"))
        assert nina.role == "lead" and nina.team.name == "Team A"
        invitation = db.session.scalar(select(Invitation))
        assert code not in invitation.token_hash and invitation.accepted_at is None
    admin.logout()
    for password in (CHOSEN, "", "!invited", code):
        assert AuthActions(client).login("nina@example.org", password).status_code == 401
    # The code is not shown again.
    admin.login(db_admin_email(app))
    assert code not in client.get("/admin/users").get_data(as_text=True)


def db_admin_email(app) -> str:
    with app.app_context():
        return db.session.scalar(select(User.email).where(User.role == "admin"))


def test_the_person_sets_their_password_with_the_code_once(app, admin, client):
    code = code_of(invite(admin))
    admin.logout()
    page = client.get("/invitation")
    assert page.status_code == 200 and 'name="code"' in page.get_data(as_text=True)
    people = AuthActions(client)
    form = {"email": "Nina@Example.org", "code": code.lower(), "password": PASSWORD}
    mismatch = people.post("/invitation", {**form, "password_again": "other"}, page="/invitation")
    assert mismatch.status_code == 422
    short = people.post(
        "/invitation", {**form, "password": "short", "password_again": "short"}, page="/invitation"
    )
    assert short.status_code == 422 and "12 characters" in short.get_data(as_text=True)
    done = people.post("/invitation", {**form, "password_again": PASSWORD}, page="/invitation")
    assert done.status_code == 303 and "/login" in done.headers["Location"]
    assert people.login("nina@example.org", PASSWORD).status_code in (302, 303)
    people.logout()
    again = people.post(
        "/invitation",
        {**form, "password": "another long password", "password_again": "another long password"},
        page="/invitation",
    )
    assert again.status_code == 422
    assert people.login("nina@example.org", PASSWORD).status_code in (302, 303)


def test_a_wrong_address_or_an_expired_code_opens_nothing_and_says_the_same(app, make_user):
    make_user("lead", team="Team A")
    admin_user = make_user("admin")
    with app.app_context():
        actor = Actor.person(db.session.get(User, admin_user.id), "192.0.2.1")
        with UnitOfWork(db.session) as uow:
            issued = invite_person(uow, actor, NewPerson("nina@example.org", "worker", "Team A"))
        messages = set()
        for email, now in (
            ("other@example.org", None),
            ("nina@example.org", utcnow() + timedelta(hours=73)),
        ):
            with pytest.raises(Refused) as refused, UnitOfWork(db.session) as uow:
                accept_invitation(uow, email, issued.code, PASSWORD, now=now)
            messages.add(str(refused.value))
        assert len(messages) == 1
        nina = db.session.scalar(select(User).where(User.email == "nina@example.org"))
        assert nina.password_hash == "!invited"


def test_grants_are_audited_and_shown_to_the_dpo_flagged_when_opened_from_the_admins_address(
    app, admin, client, make_user
):
    code = code_of(invite(admin))  # the test client's address: 127.0.0.1
    admin.logout()
    AuthActions(client).post(
        "/invitation",
        {"email": "nina@example.org", "code": code, "password": PASSWORD,
         "password_again": PASSWORD},
        page="/invitation",
    )  # fmt: skip
    with app.app_context():
        lines = db.session.execute(
            select(AuditEvent.action, AuditEvent.object_type).order_by(AuditEvent.id)
        ).all()
    assert ("create", "user") in lines and ("grant", "user") in lines
    assert ("accept", "invitation") in lines
    dpo = make_user("dpo")
    auth = AuthActions(client)
    auth.login(dpo.email)
    page = client.get("/audit/grants")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "nina@example.org" in html
    assert 'class="flagged"' in html, html[html.find("<table") :][:1500]
    assert "own address" in html


def test_the_command_line_audits_the_accounts_it_creates(app, runner):
    result = runner.invoke(
        args=["create-user", "ole@example.org", "--role", "worker", "--team", "Nord"]
        + ["--operator", "ops-anna"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        lines = db.session.execute(
            select(AuditEvent.action, AuditEvent.address, AuditEvent.detail)
        ).all()
    assert ("create", "cli:ops-anna", "command line") in lines
    assert ("grant", "cli:ops-anna", "case access: worker, Nord (command line)") in lines


def test_a_forged_forwarded_address_is_kept_nowhere(app, make_user):
    """Behind a proxy the client may forge X-Forwarded-For; failed logins and invitations
    keep only an IP address, like the audit log."""
    from fieldapp.models import LoginFailure

    app.config["PROXY_HOPS"] = 1
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
    client = app.test_client()
    headers = {"X-Forwarded-For": '=HYPERLINK("http://x")'}
    token = AuthActions(client).csrf_any_page()
    client.post(
        "/login",
        data={"email": "who@example.org", "password": "wrong password!", "csrf_token": token},
        headers=headers,
    )
    with app.app_context():
        assert db.session.scalars(select(LoginFailure.address)).all() == ["invalid"]


def test_enabling_an_account_again_is_a_grant_the_dpo_sees(app, admin, make_user):
    worker = make_user("worker", team="Team A")
    for active in ("0", "1"):
        response = admin.post(
            f"/admin/users/{worker.id}/active", {"active": active}, page="/admin/users"
        )
        assert response.status_code == 303
    with app.app_context():
        grants = db.session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "grant", AuditEvent.object_id == str(worker.id)
            )
        ).all()
    assert grants == ["case access: worker, Team A (enabled again)"]
