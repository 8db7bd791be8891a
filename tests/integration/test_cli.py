"""The `fieldapp` command: create-user, demo and db upgrade (the last two as real processes)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import (
    Action,
    BenefitDeduction,
    Case,
    Consent,
    HoldRequest,
    Household,
    Landlord,
    Organisation,
    Partner,
    PaymentPlan,
    Team,
    User,
)
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


@pytest.fixture
def organisations(app, make_user):
    """Team A (its lead), a debt counselling partner, a job centre and two landlords."""
    make_user("lead", team="Team A")
    with app.app_context():
        db.session.add_all(
            [
                Partner(name="Gældsrådgivningen", kind="debt_counselling"),
                Partner(name="Jobcentret", kind="job_centre"),
                Landlord(name="Boligselskabet Nord"),
                Landlord(name="Privat Udlejer ApS", kind="private"),
            ]
        )
        db.session.commit()


@pytest.mark.parametrize(
    ("role", "option", "name", "column", "model"),
    [
        ("partner", "--partner", "Gældsrådgivningen", "partner_id", Partner),
        ("landlord", "--landlord", "Boligselskabet Nord", "landlord_id", Landlord),
    ],
)
def test_create_user_binds_a_partner_or_landlord_to_its_organisation(
    app, runner, organisations, role, option, name, column, model
):
    result = runner.invoke(
        args=["create-user", "kim@example.org", "--role", role, option, name, "--team", "Team A"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert f"Created {role} kim@example.org in team Team A" in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "kim@example.org"))
        bound = db.session.scalar(select(model.id).where(model.name == name))
        assert user.role == role and getattr(user, column) == bound and user.team.name == "Team A"
        other = "landlord_id" if column == "partner_id" else "partner_id"
        assert getattr(user, other) is None
        assert user.password_hash.startswith("$argon2id$")


def test_a_partner_without_team_works_with_the_only_team(app, runner, organisations):
    result = runner.invoke(
        args=["create-user", "kim@example.org", "--role", "partner", "--partner", "Jobcentret"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "kim@example.org"))
        assert user.team.name == "Team A" and user.partner_id is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--role", "partner", "--partner", "Ukendt Rådgivning"],
            "There is no partner organisation named 'Ukendt Rådgivning' "
            "(known: Gældsrådgivningen, Jobcentret).",
        ),
        (
            ["--role", "landlord", "--landlord", "Ukendt"],
            "There is no landlord named 'Ukendt' (known: Boligselskabet Nord, Privat Udlejer ApS).",
        ),
        (
            ["--role", "partner"],
            "A partner account needs its partner organisation (--partner).",
        ),
        (
            ["--role", "landlord"],
            "A landlord account needs its landlord (--landlord).",
        ),
        (
            ["--role", "worker", "--partner", "Gældsrådgivningen"],
            "Only a partner or landlord account names one, not a worker.",
        ),
        (
            ["--role", "lead", "--landlord", "Boligselskabet Nord"],
            "Only a partner or landlord account names one, not a lead.",
        ),
        (
            ["--role", "partner", "--partner", "Jobcentret", "--landlord", "Boligselskabet Nord"],
            "A partner account names its partner organisation (--partner), not a landlord.",
        ),
        (
            ["--role", "landlord", "--landlord", "Boligselskabet Nord", "--partner", "Jobcentret"],
            "A landlord account names its landlord (--landlord), not a partner.",
        ),
    ],
)
def test_create_user_refuses_a_binding_that_does_not_fit(app, runner, organisations, args, message):
    result = runner.invoke(
        args=["create-user", "kim@example.org", *args, "--team", "Team A"],
        input="a long enough password\n",
    )
    assert result.exit_code == 1, result.output
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "kim@example.org")) is None


@pytest.mark.parametrize(
    ("role", "option", "name"),
    [("partner", "--partner", "Jobcentret"), ("landlord", "--landlord", "Boligselskabet Nord")],
)
def test_a_partner_or_landlord_without_team_is_refused_when_there_are_two(
    app, runner, organisations, make_user, role, option, name
):
    make_user("lead", team="Team B")
    result = runner.invoke(
        args=["create-user", "kim@example.org", "--role", role, option, name],
        input="a long enough password\n",
    )
    assert result.exit_code == 1, result.output
    assert "Choose the team this person works with (--team)." in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "kim@example.org")) is None
        assert db.session.scalar(select(func.count()).select_from(Team)) == 2


def test_create_user_partner_with_a_piped_password_as_a_real_process(tmp_path):
    """The operator's way: `echo … | fieldapp create-user … --role partner --partner NAME`;
    the account then logs in with that password (and lands on the partner's page)."""
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    assert fieldapp_command("db", "upgrade", database_url=url).returncode == 0
    setup = fieldapp_command(
        "shell",
        database_url=url,
        stdin="db.session.add(models.Partner(name='Gældsrådgivningen', kind='debt_counselling'))"
        "; db.session.add(models.Team(name='Team A', organisation=models.Organisation("
        "name='Kommune'))); db.session.commit()\n",
    )
    assert setup.returncode == 0, setup.stderr
    created = fieldapp_command(
        "create-user", "Kim@Example.org", "--role", "partner", "--partner", "Gældsrådgivningen",
        database_url=url, stdin="piped partner password\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "Created partner kim@example.org" in created.stdout
    check = fieldapp_command(
        "shell",
        database_url=url,
        stdin="from argon2 import PasswordHasher\n"
        "u = db.session.query(models.User).one()\n"
        "p = db.session.get(models.Partner, u.partner_id)\n"
        "ok = PasswordHasher().verify(u.password_hash, 'piped partner password')\n"
        "print('bound', u.role, p.name, u.team.name, ok)\n",
    )
    assert "bound partner Gældsrådgivningen Team A True" in check.stdout, check.stderr
    refused = fieldapp_command(
        "create-user", "ole@example.org", "--role", "partner", "--partner", "Nobody",
        database_url=url, stdin="piped partner password\n",
    )  # fmt: skip
    assert refused.returncode == 1
    assert "There is no partner organisation named 'Nobody' (known: Gældsrådgivningen)." in (
        refused.stderr
    )


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
        assert count(Household) == 66 and count(Organisation) == 1 and count(Team) == 2
        assert count(Landlord) >= 3 and count(Partner) >= 5
        statuses = set(db.session.scalars(select(Case.status)))
        outcomes = set(db.session.scalars(select(Case.outcome).where(Case.outcome.is_not(None))))
        assert statuses == set(CASE_STATUSES) and outcomes == set(CASE_OUTCOMES)
        roles = db.session.execute(select(User.role, func.count()).group_by(User.role)).all()
        assert dict(roles) == {
            "lead": 2, "worker": 4, "admin": 1, "dpo": 1, "partner": 1, "landlord": 1,
        }  # fmt: skip
        # The second team's register is its own: its households belong to it alone.
        nord = db.session.scalar(select(Team.id).where(Team.name == "Boligsocialt team Nord"))
        mine = select(func.count()).select_from(Household).where(Household.team_id == nord)
        assert db.session.scalar(mine) == 6
        assert db.session.scalar(select(func.count()).where(Household.team_id.is_(None))) == 0
        assert db.session.scalar(select(func.max(Case.priority))) > 0
    auth = AuthActions(client)
    for email, page in [
        ("lead@example.org", "/dashboard"),
        ("worker@example.org", "/today"),
        ("admin@example.org", "/admin/users"),
        ("dpo@example.org", "/audit"),
        ("lead.nord@example.org", "/dashboard"),
        ("worker.nord@example.org", "/today"),
        ("partner@example.org", "/partner/"),
        ("landlord@example.org", "/landlord/"),
    ]:
        response = auth.login(email, "demo")
        assert response.headers["Location"] == page, email
        assert client.get(page).status_code == 200
        auth.logout()
    # The browser tests' door flows record a first consent and action on the top cards of
    # worker@example.org's day: the partner's and landlord's demo data stays off them.
    auth.login("worker@example.org", "demo")
    day = client.get("/today").get_data(as_text=True)
    top = [int(n) for n in re.findall(r'data-offline-url="/field/cases/(\d+)"', day)][:3]
    assert len(top) == 3, day[:500]
    with app.app_context():
        for model in (Consent, Action, PaymentPlan, BenefitDeduction, HoldRequest):
            assert not db.session.scalar(
                select(func.count()).select_from(model).where(model.case_id.in_(top))
            ), model.__name__


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
    for login in ("partner@example.org", "landlord@example.org"):
        assert any(
            login in line and "password: demo" in line for line in seeded.stdout.splitlines()
        )


def test_flask_routes_and_shell_work_on_an_up_to_date_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    assert fieldapp_command("db", "upgrade", database_url=url).returncode == 0
    routes = fieldapp_command("routes", database_url=url)
    assert routes.returncode == 0, routes.stderr
    assert "auth.login" in routes.stdout and "/sync" in routes.stdout
    shell = fieldapp_command(
        "shell",
        database_url=url,
        stdin="print('users', db.session.query(models.User).count(), app.name)\n",
    )
    assert shell.returncode == 0, shell.stderr
    assert "users 0 fieldapp" in shell.stdout


def _demo_server(tmp_path, *extra_env: tuple[str, str]):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDAPP_")}
    env.update(FIELDAPP_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    env.update(FIELDAPP_SECRET_KEY="k", FIELDAPP_PASSWORD_HASH_TIME_COST="1")
    env.update(FIELDAPP_PASSWORD_HASH_MEMORY_KIB="8", FIELDAPP_PASSWORD_HASH_PARALLELISM="1")
    env.update(dict(extra_env))
    server = subprocess.Popen(
        [sys.executable, "-m", "fieldapp.cli", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return server, f"http://127.0.0.1:{port}"


def _login_over_plain_http(base: str) -> tuple[str, str]:
    """Log in as the demo worker the way a browser that drops Secure cookies on http does
    (WebKit): only cookies without the flag are sent back. Returns (Set-Cookie, landing)."""
    import http.cookiejar
    import re
    import time
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()  # like WebKit: a Secure cookie is not sent over http
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    for _ in range(300):
        try:
            page = opener.open(f"{base}/login", timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    cookie = page.headers.get("Set-Cookie", "")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())[1]
    form = {"email": "worker@example.org", "password": "demo", "csrf_token": token}
    try:
        landing = opener.open(f"{base}/login", urllib.parse.urlencode(form).encode(), timeout=30)
        return cookie, urllib.parse.urlsplit(landing.url).path
    except urllib.error.HTTPError as error:
        return cookie, f"HTTP {error.code}"


def test_the_demo_on_a_loopback_address_logs_in_without_secure_cookies(tmp_path):
    server, base = _demo_server(tmp_path)
    try:
        cookie, landing = _login_over_plain_http(base)
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert "doorstep_session=" in cookie and "Secure" not in cookie
    assert landing == "/today"
    assert "so that Safari logs in over plain http" in output


def test_the_demo_keeps_secure_cookies_when_told_to(tmp_path):
    server, base = _demo_server(tmp_path, ("FIELDAPP_COOKIE_SECURE", "true"))
    try:
        cookie, landing = _login_over_plain_http(base)
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert "Secure" in cookie and landing != "/today"
    assert "Safari" not in output


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_create_user_for_the_organisations_login_asks_for_no_password(app, runner):
    result = runner.invoke(
        args=["create-user", "Mia@Kommune.dk", "--role", "worker", "--team", "Nord",
              "--organisation-login"],
        input="",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created worker mia@kommune.dk, to log in through the organisation" in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "mia@kommune.dk"))
        assert (user.idp_issuer, user.idp_subject, user.team.name) == ("*", None, "Nord")
        assert user.password_hash.startswith("!")
