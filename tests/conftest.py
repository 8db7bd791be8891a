"""Shared fixtures: an app on a fresh database (SQLite, and PostgreSQL where reachable), clients,
factories for people and cases, and a logged-in helper.

SQLite databases are copies of one migrated template file, so every test starts from the real
migrated schema without paying for the migrations each time. PostgreSQL tests share one database
per run, created and migrated at start, and emptied after each test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from fieldapp import create_app
from fieldapp.extensions import db
from tests.support import PASSWORD, AuthActions

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get(
    "FIELDAPP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def need(reason: str) -> None:
    """Skip on a laptop without the service; fail in CI, where it must be there."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    else:
        pytest.skip(f"{reason} (runs, and must pass, with CI=true)")


def base_config(database_url: str, tmp_path: Path) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "VAPID_PRIVATE_KEY": str(tmp_path / "vapid_private.pem"),
        "COOKIE_SECURE": False,  # the Werkzeug test client speaks plain http
        "CHECK_SCHEMA": True,
        # Argon2id at its least cost: the same code path, a millisecond instead of 0.2 s per
        # login (tests log in thousands of times); the default cost is tested in test_auth.
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 8,
        "PASSWORD_HASH_PARALLELISM": 1,
    }


def migrate_database(database_url: str, instance: Path) -> None:
    """Run every Alembic revision on the database, as `fieldapp db upgrade` does."""
    from flask_migrate import upgrade

    app = create_app({**base_config(database_url, instance), "CHECK_SCHEMA": False})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.sqlite3"
    migrate_database(f"sqlite:///{path}", folder)
    return path


@contextmanager
def empty_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty database on the local PostgreSQL server (its URL), dropped afterwards."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:  # noqa: BLE001 - any failure to connect means "no server"
        need(f"no PostgreSQL at {PG_ADMIN_URL}: {type(error).__name__}")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory) -> Iterator[str]:
    """A database of its own for this test run on the local PostgreSQL server, migrated."""
    with empty_postgres_database("doorstep_test") as url:
        migrate_database(url, tmp_path_factory.mktemp("pg"))
        yield url


def _empty_postgres(app) -> None:
    with app.app_context():
        tables = [t.name for t in db.metadata.sorted_tables]
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        db.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


@pytest.fixture
def app(backend, request, tmp_path):
    """The app on an empty, migrated database of the chosen backend."""
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        path = tmp_path / "fieldapp.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    app = create_app(base_config(url, tmp_path))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if backend == "postgres":
        _empty_postgres(app)


@pytest.fixture
def session(app):
    """A database session inside an app context (for service tests)."""
    with app.app_context():
        yield db.session
        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create a user (and team) in the database; returns the User."""
    from fieldapp.services.accounts import create_user

    counter = iter(range(1, 10_000))

    def make(
        role: str = "worker",
        email: str | None = None,
        team: str | None = "Team A",
        password: str = PASSWORD,
        name: str = "",
        partner: str | None = None,
        partner_kind: str = "debt_counselling",
        landlord: str | None = None,
    ):
        """partner / landlord: the organisation a partner or landlord person is bound to,
        by name (created when new: a partner of partner_kind)."""
        from fieldapp.models import Landlord, Partner

        with app.app_context():
            if role == "partner":
                partner = partner or "Gældsrådgivningen"
                if db.session.scalar(select(Partner).where(Partner.name == partner)) is None:
                    db.session.add(Partner(name=partner, kind=partner_kind))
            if role == "landlord":
                landlord = landlord or "Boligselskabet Nord"
                if db.session.scalar(select(Landlord).where(Landlord.name == landlord)) is None:
                    db.session.add(Landlord(name=landlord))
            db.session.flush()
            user = create_user(
                db.session,
                email or f"{role}{next(counter)}@example.org",
                password,
                role,
                team if role not in ("admin", "dpo") else None,
                name or role.title(),
                partner_name=partner,
                landlord_name=landlord,
            )
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return make


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def lead(make_user, auth):
    """A team lead of "Team A", logged in (a test file may define its own lead instead)."""
    user = make_user("lead", team="Team A")
    auth.login(user.email)
    return user


@pytest.fixture
def make_case(app):
    """Create a household, tenancy and case; returns the case id. Keyword arguments set
    household fields (name, address, children, ...), tenancy fields (reference,
    current_arrears, months_in_arrears, landlord name) and case fields (status, ...)."""
    from fieldapp.models import (
        Case,
        Household,
        Landlord,
        LegalStep,
        Organisation,
        Team,
        Tenancy,
    )
    from fieldapp.services.tabular import normalise_address, normalise_name
    from fieldapp.services.triage import refresh_priorities

    counter = iter(range(1, 100_000))

    def make(
        *,
        name="Lars Bakken",
        address=None,
        postcode="3000",
        children=0,
        landlord="Boligselskabet Nord",
        reference=None,
        arrears=1_500_000,
        months=2.0,
        status="new",
        cause="economic",
        outcome=None,
        worker_id=None,
        team="Team A",
        steps=(),
    ):
        n = next(counter)
        address = address or f"Stengade {n}"
        with app.app_context():
            session = db.session
            owner = session.scalar(select(Landlord).where(Landlord.name == landlord))
            if owner is None:
                owner = Landlord(name=landlord, kind="housing_association")
                session.add(owner)
            team_row = None
            if team:
                team_row = session.scalar(select(Team).where(Team.name == team))
                if team_row is None:
                    organisation = session.scalar(select(Organisation)) or Organisation(
                        name="Test kommune"
                    )
                    team_row = Team(name=team, organisation=organisation)
                    session.add(team_row)
                    session.flush()
            team_id = team_row.id if team_row else None
            household = Household(
                team_id=team_id,
                name=name,
                name_key=normalise_name(name),
                address=address,
                postcode=postcode,
                town="Helsingør",
                address_key=normalise_address(f"{address} {postcode}"),
                children=children,
            )
            tenancy = Tenancy(
                team_id=team_id,
                household=household,
                landlord=owner,
                reference=reference or f"REF-{n}",
                current_arrears=arrears,
                months_in_arrears=months,
                monthly_rent=750_000,
            )
            case = Case(
                tenancy=tenancy,
                status=status,
                cause=cause,
                outcome=outcome,
                assigned_worker_id=worker_id,
                team_id=team_row.id if team_row else None,
            )
            session.add_all([household, tenancy, case])
            session.flush()
            for kind, when in steps:
                session.add(LegalStep(case_id=case.id, kind=kind, date=when, source="test"))
            session.flush()
            refresh_priorities(session, [case.id])
            session.commit()
            return case.id

    return make
