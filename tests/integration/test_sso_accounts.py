"""The account follows the identity provider's claims (usecases/sso.py), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fieldapp.domain.identity import oidc_settings
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, User, UserSession
from fieldapp.services.accounts import start_session
from fieldapp.usecases import UnitOfWork
from fieldapp.usecases.sso import NoAccess, sign_in_from_provider

ISSUER = "https://login.example.dk"
RAW = {
    "OIDC_ISSUER": ISSUER,
    "OIDC_CLIENT_ID": "doorstep",
    "OIDC_ROLE_CLAIM": "roles",
    "OIDC_ROLE_MAP": '{"Doorstep.Lead": "lead", "Doorstep.Worker": "worker"}',
    "OIDC_TEAM_CLAIM": "team",
    "LOCAL_LOGIN": "on",
}
SETTINGS = oidc_settings(RAW)


def claims(sub="abc-123", roles=("Doorstep.Worker",), team="Team A", **more):
    return {"sub": sub, "email": f"{sub}@kommune.dk", "name": "Mette Hansen", "roles": list(roles),
            "team": team, **more}  # fmt: skip


def sign_in(app, given, settings=SETTINGS):
    with app.app_context(), UnitOfWork(db.session) as uow:
        login = sign_in_from_provider(uow, settings, given, "192.0.2.1")
        return login.user.id, login.user.role, login.user.team_id, login.created, login.changed


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
def teams(make_user):
    make_user("lead", team="Team A")
    make_user("lead", team="Team B")


def test_first_login_makes_the_account_with_the_mapped_role_and_team(app, teams):
    user_id, role, team_id, created, _ = sign_in(app, claims())
    assert (role, created) == ("worker", True)
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.team.name, user.idp_issuer, user.idp_subject) == ("Team A", ISSUER, "abc-123")
        assert user.password_hash.startswith("!")  # no password to log in with
    assert "sso_create" in audit_actions(app)


def test_role_and_team_follow_the_claims_at_every_login(app, teams):
    first = sign_in(app, claims())
    again = sign_in(app, claims(roles=["Doorstep.Lead"], team="Team B"))
    assert again[0] == first[0] and again[1] == "lead" and not again[3]
    assert set(again[4]) >= {"role", "team"}
    assert audit_actions(app)[-1] == "sso_update"


def test_no_mapped_role_gets_no_account(app, teams):
    with pytest.raises(NoAccess) as refused:
        sign_in(app, claims(roles=["Payroll"]))
    assert refused.value.why == "no_role"
    with app.app_context():
        assert db.session.scalar(select(User).where(User.idp_subject == "abc-123")) is None
    assert audit_actions(app)[-1] == "sso_refuse"


def test_a_role_the_provider_takes_away_disables_the_account_and_ends_its_sessions(app, teams):
    user_id = sign_in(app, claims())[0]
    with app.app_context():
        start_session(db.session, db.session.get(User, user_id))
        db.session.commit()
    with pytest.raises(NoAccess):
        sign_in(app, claims(roles=[]))
    with app.app_context():
        user = db.session.get(User, user_id)
        assert not user.active and user.disabled_by == "provider"
        open_sessions = db.session.scalars(
            select(UserSession).where(
                UserSession.user_id == user_id, UserSession.ended_at.is_(None)
            )
        ).all()
        assert open_sessions == []
    assert "sso_disable" in audit_actions(app)
    # Granted again at the provider: the account comes back.
    assert sign_in(app, claims())[0] == user_id


def test_an_administrators_disabling_holds_against_the_provider(app, teams):
    user_id = sign_in(app, claims())[0]
    with app.app_context():
        user = db.session.get(User, user_id)
        user.active, user.disabled_by = False, "admin"
        db.session.commit()
    with pytest.raises(NoAccess) as refused:
        sign_in(app, claims())
    assert refused.value.why == "disabled"


@pytest.mark.parametrize(
    ("given", "why"),
    [
        (claims(team=None), "no_team"),
        (claims(team="Team Nowhere"), "unknown_team"),
        ({"_claim_names": {"roles": "src"}, "sub": "x", "email": "x@k.dk"}, "overage"),
        (claims(sub=""), "no_subject"),
    ],
)
def test_refusals_say_why(app, teams, given, why):
    with pytest.raises(NoAccess) as refused:
        sign_in(app, given)
    assert refused.value.why == why


def test_an_email_that_has_a_password_account_is_not_taken_over(app, make_user, teams):
    make_user("lead", email="abc-123@kommune.dk", team="Team A")
    with pytest.raises(NoAccess) as refused:
        sign_in(app, claims())
    assert refused.value.why == "email_taken"
    with app.app_context():
        owner = db.session.scalar(select(User).where(User.email == "abc-123@kommune.dk"))
        assert owner.idp_subject is None and owner.role == "lead"


def _admin_actor(app, make_user):
    from fieldapp.usecases import Actor

    admin = make_user("admin", email="it-admin@kommune.dk")
    with app.app_context():
        return Actor.person(db.session.get(User, admin.id), "192.0.2.9")


def test_an_account_the_administrator_prepared_is_taken_by_the_first_login(app, make_user, teams):
    """No team claim: the administrator's team holds, and the provider's role decides."""
    from fieldapp.usecases.accounts import NewPerson, add_provider_person

    actor = _admin_actor(app, make_user)
    with app.app_context(), UnitOfWork(db.session) as uow:
        prepared = add_provider_person(
            uow, actor, NewPerson("abc-123@kommune.dk", "worker", team_name="Team B")
        ).id
    no_team = oidc_settings({**RAW, "OIDC_TEAM_CLAIM": ""})
    user_id, role, _, created, _ = sign_in(app, claims(roles=["Doorstep.Lead"]), no_team)
    assert (user_id, role, created) == (prepared, "lead", False)
    with app.app_context():
        user = db.session.get(User, prepared)
        assert (user.team.name, user.idp_issuer, user.idp_subject) == ("Team B", ISSUER, "abc-123")
    assert "sso_link" in audit_actions(app)
    # Taken once: another person of the provider with that address later gets no account.
    with pytest.raises(NoAccess) as refused:
        sign_in(app, claims(sub="someone-else", email="abc-123@kommune.dk"))
    assert refused.value.why == "email_taken"


def test_a_password_account_moved_to_the_organisations_login(app, client, make_user, teams):
    from fieldapp.usecases import Refused
    from fieldapp.usecases.accounts import move_to_provider_login
    from tests.support import AuthActions

    lead = make_user("lead", email="abc-123@kommune.dk", team="Team A")
    web = AuthActions(client)
    assert web.login("abc-123@kommune.dk").status_code == 303
    actor = _admin_actor(app, make_user)
    with app.app_context(), UnitOfWork(db.session) as uow:
        move_to_provider_login(uow, actor, lead.id)
    with app.app_context():
        open_sessions = select(UserSession).where(
            UserSession.user_id == lead.id, UserSession.ended_at.is_(None)
        )
        assert db.session.scalars(open_sessions).all() == []
    assert client.get("/dashboard").status_code in (302, 401)  # the session ended
    assert AuthActions(app.test_client()).login("abc-123@kommune.dk").status_code == 401
    user_id, role, team_id, created, _ = sign_in(app, claims(roles=["Doorstep.Lead"]))
    assert (user_id, role, created) == (lead.id, "lead", False)
    with app.app_context(), UnitOfWork(db.session) as uow, pytest.raises(Refused):
        move_to_provider_login(uow, actor, lead.id)  # already on the provider
    with app.app_context(), UnitOfWork(db.session) as uow, pytest.raises(Refused):
        move_to_provider_login(uow, actor, actor.user.id)  # never one's own account


def test_without_a_role_claim_the_role_is_the_one_set_in_doorstep(app, make_user, teams):
    """Ansattporten says who the person is, not what they do: with no role claim configured
    only an account the administrator prepared gets in, with the role and team set there."""
    from fieldapp.usecases.accounts import NewPerson, add_provider_person

    who_only = oidc_settings(
        {**RAW, "OIDC_ROLE_CLAIM": "", "OIDC_ROLE_MAP": "", "OIDC_TEAM_CLAIM": ""}
    )
    actor = _admin_actor(app, make_user)
    with app.app_context(), UnitOfWork(db.session) as uow:
        add_provider_person(uow, actor, NewPerson("abc-123@kommune.dk", "lead", team_name="Team B"))
    # The claims' roles are not read: the prepared role holds.
    user_id, role, _, created, _ = sign_in(app, claims(roles=["Doorstep.Worker"]), who_only)
    assert (role, created) == ("lead", False)
    with app.app_context():
        assert db.session.get(User, user_id).team.name == "Team B"
    with pytest.raises(NoAccess) as refused:
        sign_in(app, claims(sub="stranger", email="stranger@kommune.dk"), who_only)
    assert refused.value.why == "no_role"
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "stranger@kommune.dk")) is None
