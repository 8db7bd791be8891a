"""Identity providers per organisation: an organisation's own settings (set with `fieldapp
identity-provider set`, checked before they are stored), the installation's from the
environment for the others; each login goes through its organisation's provider, and a team
named by an organisation's provider is looked for in that organisation only."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import select

from fieldapp import create_app
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Organisation, Team, User
from fieldapp.services.accounts import create_user
from fieldapp.usecases import Actor, UnitOfWork
from fieldapp.usecases.accounts import NewPerson, add_provider_person
from tests.conftest import base_config
from tests.integration.test_sso import ROLE_MAP as INSTALLATION_OIDC_ROLE_MAP
from tests.integration.test_sso import refused_why, sso_login
from tests.oidc import account, client, oidc_provider  # noqa: F401
from tests.saml import CVR_OWN, ROLE_MAP, saml_account, saml_idp, sp_keys  # noqa: F401
from tests.support import PASSWORD

# An organisation's own provider may make workers and leads only (admin and DPO act for the
# whole installation).
OIDC_ROLE_MAP = {"Doorstep.Lead": "lead", "Doorstep.Worker": "worker"}
SAML_ROLE_MAP = {uri: role for uri, role in ROLE_MAP.items() if role in ("worker", "lead")}


def test_setting_an_organisations_provider_is_checked_audited_and_shown(app, runner, sp_keys):  # noqa: F811
    with app.app_context():
        db.session.add(Organisation(name="Nordby Kommune"))
        db.session.commit()
    key, cert = sp_keys

    def run(*args):
        return runner.invoke(args=["identity-provider", *args, "--operator", "ops"])

    bad = run("set", "--organisation", "Nordby Kommune", "FIELDAPP_OIDC_ISSUER_X=1")
    assert (
        bad.exit_code != 0 and "'FIELDAPP_OIDC_ISSUER_X' is not an identity provider" in bad.output
    )
    half = run(
        "set", "--organisation", "Nordby Kommune", "FIELDAPP_OIDC_ISSUER=https://id.nordby.dk"
    )
    assert half.exit_code != 0 and "FIELDAPP_OIDC_CLIENT_ID is not" in half.output
    saml = [
        "FIELDAPP_SAML_IDP_METADATA_URL=https://idp.example/metadata",
        f"FIELDAPP_SAML_KEY_FILE={key}",
        f"FIELDAPP_SAML_CERT_FILE={cert}",
        f"FIELDAPP_SAML_ROLE_MAP={json.dumps(SAML_ROLE_MAP)}",
    ]
    wrong_cvr = run("set", "--organisation", "Nordby Kommune", *saml, "SAML_CVR=123")
    assert wrong_cvr.exit_code != 0 and "FIELDAPP_SAML_CVR is '123'" in wrong_cvr.output
    with app.app_context():
        assert db.session.scalar(select(Organisation.identity_settings)) == ""  # nothing stored
    oidc = ["OIDC_ISSUER=https://id.nordby.dk", "OIDC_CLIENT_ID=doorstep",
            "OIDC_CLIENT_SECRET=s3cret-value"]  # fmt: skip
    oidc.append("OIDC_ROLE_MAP=" + json.dumps(OIDC_ROLE_MAP))
    done = run("set", "--organisation", "Nordby Kommune", *saml, f"SAML_CVR={CVR_OWN}", *oidc)
    assert done.exit_code == 0, done.output
    assert "now logs in through its own settings" in done.output
    shown = runner.invoke(args=["identity-provider", "show"]).output
    assert "FIELDAPP_OIDC_CLIENT_SECRET=(set)" in shown and "s3cret-value" not in shown
    assert f"FIELDAPP_SAML_CVR={CVR_OWN}" in shown
    with app.app_context():
        line = db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.object_type == "organisation")
        ).all()[-1]
    assert "OIDC_CLIENT_SECRET" in line and "s3cret" not in line and CVR_OWN not in line
    removed = run("set", "--organisation", "Nordby Kommune", *[f"{p.split('=')[0]}=" for p in saml],
                  "SAML_CVR=", *[f"{p.split('=')[0]}=" for p in oidc])  # fmt: skip
    assert "through the installation's" in removed.output, removed.output
    with app.app_context():
        assert db.session.scalar(select(Organisation.identity_settings)) == ""
    unknown = run("set", "--organisation", "Sydby", "OIDC_SCOPES=openid")
    assert unknown.exit_code != 0 and "no organisation named 'Sydby'" in unknown.output


@pytest.fixture
def two_organisations(oidc_provider, saml_idp, sp_keys, sqlite_template, tmp_path):  # noqa: F811
    """Vestby uses the installation's OpenID Connect provider (the environment); Østby has
    its own Context Handler connection (SAML) and its own OpenID Connect client."""
    provider = oidc_provider(
        [client(["http://localhost/login/sso/callback"], ["http://localhost/login"])],
        {
            "vest-lead": account("lead@vestby.dk", "V", roles=["Doorstep.Lead"], team="Team A"),
            "oest-lead": account("lead@oestby.dk", "O", roles=["Doorstep.Lead"], team="Team A"),
            "vest-to-oest": account("v@vestby.dk", "V", roles=["Doorstep.Lead"], team="Øst"),
        },
    )
    idp = saml_idp(
        {
            "oest-worker": saml_account("worker@oestby.dk", "Ø", {CVR_OWN: ["fieldworker"]}),
            # Østby's provider vouching for an address of a Vestby account prepared there
            "claims-vest": saml_account("prepared@vestby.dk", "X", {CVR_OWN: ["fieldworker"]}),
        },
        encrypt_assertion=True,
    )
    path = tmp_path / "orgs.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app(
        {
            **base_config(f"sqlite:///{path}", tmp_path),
            "OIDC_ISSUER": provider.issuer,
            "OIDC_CLIENT_ID": "doorstep",
            "OIDC_CLIENT_SECRET": "doorstep-test-client-secret",
            "OIDC_SCOPES": "openid email profile roles team",
            "OIDC_ROLE_MAP": json.dumps(INSTALLATION_OIDC_ROLE_MAP),
            "OIDC_TEAM_CLAIM": "team",
        }
    )
    key, cert = sp_keys
    with app.app_context():
        vest = Organisation(name="Vestby Kommune")
        oest = Organisation(name="Østby Kommune")
        db.session.add_all([vest, oest])
        db.session.flush()
        db.session.add_all(
            [
                Team(name="Team A", organisation_id=vest.id),
                Team(name="Øst", organisation_id=oest.id),
            ]
        )
        admin = create_user(db.session, "admin@example.org", PASSWORD, "admin", None, "Admin")
        with UnitOfWork(db.session) as uow:
            for email, team in (("worker@oestby.dk", "Øst"), ("prepared@vestby.dk", "Team A")):
                add_provider_person(
                    uow, Actor.person(admin), NewPerson(email, "worker", team_name=team)
                )
        db.session.commit()
        oest_id = oest.id
    runner = app.test_cli_runner()
    done = runner.invoke(
        args=["identity-provider", "set", "--organisation", "Østby Kommune",
              f"SAML_IDP_METADATA_URL={idp.metadata_url}", f"SAML_KEY_FILE={key}",
              f"SAML_CERT_FILE={cert}", f"SAML_CVR={CVR_OWN}",
              f"SAML_ROLE_MAP={json.dumps(SAML_ROLE_MAP)}", f"OIDC_ISSUER={provider.issuer}",
              "OIDC_CLIENT_ID=doorstep", "OIDC_CLIENT_SECRET=doorstep-test-client-secret",
              "OIDC_SCOPES=openid email profile roles team", "OIDC_TEAM_CLAIM=team",
              f"OIDC_ROLE_MAP={json.dumps(OIDC_ROLE_MAP)}"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    metadata = app.test_client().get(f"/saml/metadata/{oest_id}")
    assert metadata.status_code == 200
    idp.trust(metadata.get_data(as_text=True))
    yield app, oest_id
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_login_page_offers_each_organisations_way_in(two_organisations):
    app, oest_id = two_organisations
    page = app.test_client().get("/login").get_data(as_text=True)
    assert 'id="sso-login"' in page  # the installation's, for Vestby
    assert f'href="/login/saml?organisation={oest_id}"' in page
    assert f'href="/login/sso?organisation={oest_id}"' in page
    assert "Østby Kommune" in page


def test_each_organisations_provider_and_its_own_metadata(two_organisations):
    app, oest_id = two_organisations
    web = app.test_client()
    start = web.get(f"/login/saml?organisation={oest_id}")
    assert start.status_code == 303
    # The organisation's own entityID: its own metadata URL.
    xml = app.test_client().get(f"/saml/metadata/{oest_id}").get_data(as_text=True)
    assert f'entityID="http://localhost/saml/metadata/{oest_id}"' in xml
    assert app.test_client().get("/saml/metadata").status_code == 404  # none for the installation
    assert app.test_client().get("/saml/metadata/9999").status_code == 404


def test_a_login_through_an_organisations_own_saml_connection(two_organisations):
    app, oest_id = two_organisations
    from tests.saml import hand_on, provider_answer

    web = app.test_client()
    start = web.get(f"/login/saml?organisation={oest_id}")
    answer = hand_on(app, web, provider_answer(start.headers["Location"], "oest-worker"))
    assert (answer.status_code, answer.headers["Location"]) == (303, "/today")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "worker@oestby.dk"))
        assert (user.role, user.team.name, user.team.organisation_id) == ("worker", "Øst", oest_id)


def test_a_team_named_by_an_organisations_provider_is_its_own(two_organisations):
    """Østby's provider says "Team A": that is Vestby's team, so Østby's lead gets no
    account; through the installation's provider (Vestby's), the same claim is Team A."""
    app, oest_id = two_organisations
    web = app.test_client()
    start = web.get(f"/login/sso?organisation={oest_id}")
    assert start.status_code == 302
    from tests.oidc import authorize

    callback = authorize(start.headers["Location"], "oest-lead")
    answer = web.get(callback.removeprefix("http://localhost"))
    assert refused_why(answer) == "unknown_team"
    vest = sso_login(app, "vest-lead")
    assert vest.headers["Location"] == "/dashboard"


def test_an_organisations_provider_cannot_take_another_organisations_account(two_organisations):
    app, oest_id = two_organisations
    from tests.saml import hand_on, provider_answer

    web = app.test_client()
    start = web.get(f"/login/saml?organisation={oest_id}")
    answer = hand_on(app, web, provider_answer(start.headers["Location"], "claims-vest"))
    assert refused_why(answer) in ("no_team", "email_taken")
    with app.app_context():
        prepared = db.session.scalar(select(User).where(User.email == "prepared@vestby.dk"))
        assert (prepared.idp_issuer, prepared.idp_subject) == ("*", None)  # still waiting


def test_the_installations_provider_cannot_place_someone_in_an_organisations_own_team(
    two_organisations,
):
    app, _ = two_organisations
    assert refused_why(sso_login(app, "vest-to-oest")) == "unknown_team"
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "v@vestby.dk")) is None


def test_an_organisations_own_provider_may_not_make_administrators(app, runner, sp_keys):  # noqa: F811
    with app.app_context():
        db.session.add(Organisation(name="Nordby Kommune"))
        db.session.commit()
    key, cert = sp_keys
    done = runner.invoke(
        args=["identity-provider", "set", "--organisation", "Nordby Kommune",
              "SAML_IDP_METADATA_URL=https://idp.example/md", f"SAML_KEY_FILE={key}",
              f"SAML_CERT_FILE={cert}", f"SAML_CVR={CVR_OWN}",
              f"SAML_ROLE_MAP={json.dumps(ROLE_MAP)}"],
    )  # fmt: skip
    assert done.exit_code != 0
    assert "may not give admin or dpo" in done.output
