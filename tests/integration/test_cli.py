"""The `fieldapp` command: create-user, demo and db upgrade (the last two as real processes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import Case, Household, Landlord, Organisation, Partner, Team, User
from fieldapp.models.case import CASE_OUTCOMES, CASE_STATUSES
from fieldapp.services.accounts import AccountError, create_user
from fieldapp.services.demo import seed_demo
from tests.support import AuthActions


def fieldapp_command(*args: str, database_url: str, stdin: str = "", timeout: int = 120):
    env = {**os.environ, "FIELDAPP_DATABASE_URL": database_url, "FIELDAPP_SECRET_KEY": "k"}
    return subprocess.run(
        [sys.executable, "-m", "fieldapp.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_create_user_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(
        args=[
            "create-user",
            "Nina@Example.org",
            "--role",
            "lead",
            "--team",
            "Nord",
            "--name",
            "Nina",
        ],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created lead nina@example.org in team Nord" in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "nina@example.org"))
        assert user.team.name == "Nord" and user.role == "lead"
        assert user.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["nina@example.org", "--role", "worker"], "short", "at least 12 characters"),
        (["not-an-address", "--role", "worker"], "long enough pw", "Not an e-mail address"),
        (["nina@example.org", "--role", "boss"], "long enough pw", "Invalid value for '--role'"),
    ],
)
def test_create_user_refuses_bad_input_with_a_clear_message(app, runner, args, password, message):
    result = runner.invoke(args=["create-user", *args], input=password + "\n")
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_user_refuses_a_duplicate(app, runner, make_user):
    make_user("worker", email="ole@example.org")
    result = runner.invoke(
        args=["create-user", "OLE@example.org", "--role", "lead"], input="long enough pw\n"
    )
    assert result.exit_code == 1 and "already exists" in result.output


def test_demo_password_only_opens_a_demo_database(app, client):
    with app.app_context():
        with pytest.raises(AccountError, match="at least 12"):
            create_user(db.session, "x@example.org", "demo", "worker")
        db.session.rollback()
        create_user(db.session, "x@example.org", "demo-but-long", "worker")
        db.session.commit()
    auth = AuthActions(client)
    assert auth.login("x@example.org", "demo").status_code == 401


def test_demo_seed_has_every_state_and_the_demo_logins_work(app, client):
    with app.app_context():
        assert seed_demo(db.session, "demo") is True
        db.session.commit()
        assert seed_demo(db.session, "demo") is False  # never twice
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert count(Household) == 60 and count(Organisation) == 1 and count(Team) == 1
        assert count(Landlord) >= 3 and count(Partner) >= 5
        statuses = set(db.session.scalars(select(Case.status)))
        outcomes = set(db.session.scalars(select(Case.outcome).where(Case.outcome.is_not(None))))
        assert statuses == set(CASE_STATUSES) and outcomes == set(CASE_OUTCOMES)
        roles = db.session.execute(select(User.role, func.count()).group_by(User.role)).all()
        assert dict(roles) == {"lead": 1, "worker": 3, "admin": 1, "dpo": 1}
        assert db.session.scalar(select(func.max(Case.priority))) > 0
    auth = AuthActions(client)
    for email, page in [
        ("lead@example.org", "/dashboard"),
        ("worker@example.org", "/today"),
        ("admin@example.org", "/admin/users"),
        ("dpo@example.org", "/audit"),
    ]:
        response = auth.login(email, "demo")
        assert response.headers["Location"] == page, email
        assert client.get(page).status_code == 200
        auth.logout()


def test_db_upgrade_then_demo_from_an_empty_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    refused = fieldapp_command("run", database_url=url)
    assert refused.returncode != 0 and "fieldapp db upgrade" in refused.stderr
    upgraded = fieldapp_command("db", "upgrade", database_url=url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running upgrade" in upgraded.stderr
    seeded = fieldapp_command("demo", "--no-serve", database_url=url)
    assert seeded.returncode == 0, seeded.stderr
    assert "worker@example.org" in seeded.stdout and "password: demo" in seeded.stdout
