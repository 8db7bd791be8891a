"""Single sign-on through a SAML 2.0 identity provider shaped like KOMBIT's Context Handler
(pysaml2's IdP on 127.0.0.1, tests/idp/saml_idp.py), with RSASSA-PSS signatures and encrypted
assertions, the app under Flask's test client. What the provider sends wrong is sent signed by
the provider itself, so the refusals are the app's checks."""

from __future__ import annotations

import base64
import shutil
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from sqlalchemy import select

from fieldapp import create_app
from fieldapp.extensions import db
from fieldapp.models import AuditEvent, User
from fieldapp.services.accounts import create_user
from fieldapp.services.saml_crypto import SIG_RSA_PSS_SHA256, SIG_RSA_SHA256
from fieldapp.usecases import Actor, UnitOfWork
from fieldapp.usecases.accounts import NewPerson, add_provider_person
from tests.conftest import base_config
from tests.saml import (  # noqa: F401
    CVR_OTHER,
    CVR_OWN,
    hand_on,
    provider_answer,
    request_of,
    saml_account,
    saml_idp,
    saml_login,
    saml_settings,
    sp_keys,
    start_login,
)
from tests.support import PASSWORD

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
ACCOUNTS = {
    "lead": saml_account("lead@kommune.dk", "Lene Lund", {CVR_OWN: ["teamlead"]}),
    "worker": saml_account("worker@kommune.dk", "Mads Bo", {CVR_OWN: ["fieldworker"]}),
    "admin": saml_account("it@kommune.dk", "Ida Tek", {CVR_OWN: ["admin"]}),
    "elsewhere": saml_account("other@kommune.dk", "Ole And", {CVR_OTHER: ["teamlead"]}),
    "nobody": saml_account("nobody@kommune.dk", "Nina Ing", {CVR_OWN: ["payroll"]}),
    "newcomer": saml_account("new@kommune.dk", "Ny Ansat", {CVR_OWN: ["fieldworker"]}),
    "low": saml_account("low@kommune.dk", "Lav Sikring", {CVR_OWN: ["fieldworker"]}, loa="Low"),
}


@pytest.fixture
def make_saml_app(saml_idp, sp_keys, sqlite_template, tmp_path):  # noqa: F811
    """make_saml_app(idp_options={}, **settings) -> (app, idp): the app on SQLite, its
    workers and lead prepared by the administrator (Context Handler names no team)."""
    made = []

    def make(idp_options=None, **settings):
        idp = saml_idp(dict(ACCOUNTS), **{"encrypt_assertion": True, **(idp_options or {})})
        path = tmp_path / f"saml-{len(made)}.sqlite3"
        shutil.copyfile(sqlite_template, path)
        config = base_config(f"sqlite:///{path}", tmp_path)
        app = create_app({**config, **saml_settings(idp, sp_keys, **settings)})
        with app.app_context():
            admin = create_user(db.session, "admin@example.org", PASSWORD, "admin", None, "Admin")
            create_user(db.session, "local.lead@example.org", PASSWORD, "lead", "Team A", "L")
            actor = Actor.person(admin, "192.0.2.1")
            with UnitOfWork(db.session) as uow:
                for email, role in (("lead@kommune.dk", "lead"), ("worker@kommune.dk", "worker")):
                    add_provider_person(uow, actor, NewPerson(email, role, team_name="Team A"))
            db.session.commit()
        idp.trust(app.test_client().get("/saml/metadata").get_data(as_text=True))
        made.append(app)
        return app, idp

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def saml_app(make_saml_app):
    return make_saml_app()


def person(app, email):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            return None
        return user.role, user.team.name if user.team else None, user.active


def refused_why(answer) -> str:
    page = answer.get_data(as_text=True)
    assert 'id="sso-refused"' in page, page[:400]
    return page.split('data-why="', 1)[1].split('"', 1)[0]


def audit_details(app, action) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def test_the_metadata_registers_a_signing_sp_with_uri_attributes(saml_app, sp_keys):  # noqa: F811
    app, _ = saml_app
    answer = app.test_client().get("/saml/metadata")
    assert answer.status_code == 200
    assert answer.mimetype == "application/samlmetadata+xml"
    root = etree.fromstring(answer.data)
    assert root.get("entityID") == "http://localhost/saml/metadata"
    sp = root.find(f"{{{MD}}}SPSSODescriptor")
    assert sp.get("AuthnRequestsSigned") == "true" and sp.get("WantAssertionsSigned") == "true"
    acs = sp.find(f"{{{MD}}}AssertionConsumerService")
    assert (acs.get("Location"), acs.get("Binding")) == (
        "http://localhost/saml/acs",
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
    )
    uses = sorted(k.get("use") for k in sp.findall(f"{{{MD}}}KeyDescriptor"))
    assert uses == ["encryption", "signing"]
    assert sp.findtext(f"{{{MD}}}NameIDFormat").endswith(":persistent")
    requested = root.findall(f".//{{{MD}}}RequestedAttribute")
    names = {r.get("Name") for r in requested}
    assert "https://data.gov.dk/model/core/eid/privilegesIntermediate" in names
    assert "https://data.gov.dk/concept/core/nsis/loa" in names
    assert {r.get("NameFormat") for r in requested} == {
        "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
    }


def test_the_authn_request_is_signed_with_rsa_pss_and_asks_for_the_nsis_level(
    saml_app,
    sp_keys,  # noqa: F811
):
    app, idp = saml_app
    location = start_login(app.test_client())
    assert location.startswith(f"{idp.base_url}/sso?")
    query = request_of(location)
    assert query["SigAlg"] == SIG_RSA_PSS_SHA256
    # The redirect binding signs SAMLRequest=..&SigAlg=.. as sent (RFC-style query order).
    signed = urlencode({"SAMLRequest": query["SAMLRequest"], "SigAlg": query["SigAlg"]})
    cert = x509.load_pem_x509_certificate(sp_keys[1].read_bytes())
    signature = base64.b64decode(query["Signature"])
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    cert.public_key().verify(signature, signed.encode(), pss, hashes.SHA256())
    with pytest.raises(InvalidSignature):
        cert.public_key().verify(signature, signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    request = etree.fromstring(query["xml"].encode())
    context = request.find("{urn:oasis:names:tc:SAML:2.0:protocol}RequestedAuthnContext")
    assert context.get("Comparison") == "minimum"
    assert context.findtext("{urn:oasis:names:tc:SAML:2.0:assertion}AuthnContextClassRef") == (
        "https://data.gov.dk/concept/core/nsis/loa/Substantial"
    )
    assert request.get("AssertionConsumerServiceURL") == "http://localhost/saml/acs"


def test_a_lead_and_a_worker_log_in_and_land_on_their_pages(saml_app):
    app, _ = saml_app
    lead = saml_login(app, "lead")
    assert (lead.status_code, lead.headers["Location"]) == (303, "/dashboard")
    worker = saml_login(app, "worker")
    assert (worker.status_code, worker.headers["Location"]) == (303, "/today")
    assert person(app, "lead@kommune.dk") == ("lead", "Team A", True)
    assert person(app, "worker@kommune.dk") == ("worker", "Team A", True)
    assert len(audit_details(app, "sso_link")) == 2
    admin = saml_login(app, "admin")  # an administrator needs no team: made at first login
    assert admin.headers["Location"] == "/admin/users"
    assert person(app, "it@kommune.dk") == ("admin", None, True)


def test_the_hand_on_page_sets_no_cookie(saml_app):
    """A cookie set there would replace the browser's session (which it did not send along
    with the cross-site POST) and lose the login being finished."""
    app, _ = saml_app
    relay = app.test_client().post("/saml/acs", data={"SAMLResponse": "PHg+"})
    assert relay.status_code == 200
    assert "Set-Cookie" not in relay.headers


def test_the_login_is_whole_after_the_hand_on(saml_app):
    """The session opened by /saml/acs/continue is a real one: the worker's page opens."""
    app, _ = saml_app
    web = app.test_client()
    assert saml_login(app, "worker", web).status_code == 303
    assert web.get("/today").status_code == 200


def test_privileges_of_another_organisation_give_no_access(saml_app):
    app, _ = saml_app
    answer = saml_login(app, "elsewhere")
    assert (answer.status_code, refused_why(answer)) == (403, "no_role")
    assert person(app, "other@kommune.dk") is None
    assert "other organisation: -" in audit_details(app, "sso_refuse")


def test_an_unmapped_privilege_gives_no_account(saml_app):
    app, _ = saml_app
    answer = saml_login(app, "nobody")
    assert refused_why(answer) == "no_role"
    assert person(app, "nobody@kommune.dk") is None


def test_a_new_worker_nobody_prepared_is_refused_for_want_of_a_team(saml_app):
    app, _ = saml_app
    answer = saml_login(app, "newcomer")
    assert refused_why(answer) == "no_team"
    assert person(app, "new@kommune.dk") is None


def test_a_role_changed_and_removed_at_the_provider(saml_app):
    app, idp = saml_app
    saml_login(app, "worker")
    uuid = ACCOUNTS["worker"]["uuid"]
    idp.set_account(
        "worker", **saml_account("worker@kommune.dk", "M", {CVR_OWN: ["teamlead"]}, uuid=uuid)
    )
    assert saml_login(app, "worker").headers["Location"] == "/dashboard"
    assert person(app, "worker@kommune.dk") == ("lead", "Team A", True)
    idp.set_account("worker", **saml_account("worker@kommune.dk", "M", {CVR_OWN: []}, uuid=uuid))
    assert refused_why(saml_login(app, "worker")) == "no_role"
    assert person(app, "worker@kommune.dk") == ("lead", "Team A", False)


def test_a_plain_assertion_is_refused_where_encryption_is_wanted(make_saml_app):
    app, _ = make_saml_app(idp_options={"encrypt_assertion": False})
    answer = saml_login(app, "worker")
    assert (answer.status_code, refused_why(answer)) == (401, "failed")
    assert "SAML assertion not encrypted" in audit_details(app, "sso_refuse")
    relaxed, _ = make_saml_app(idp_options={"encrypt_assertion": False}, SAML_WANT_ENCRYPTED=False)
    assert saml_login(relaxed, "worker").headers["Location"] == "/today"


@pytest.mark.parametrize(
    "options, audit",
    [
        ({"audience": "https://another-sp.example/saml"}, "refused: audience"),
        ({"destination": "http://localhost/elsewhere/acs"}, "no valid assertion"),
        ({"lifetime_minutes": -3}, "Condition not OK"),
    ],
    ids=["wrong-audience", "wrong-recipient", "expired"],
)
def test_an_assertion_for_someone_else_or_out_of_time_is_refused(make_saml_app, options, audit):
    app, _ = make_saml_app(idp_options=options)
    answer = saml_login(app, "worker")
    assert (answer.status_code, refused_why(answer)) == (401, "failed")
    assert person(app, "worker@kommune.dk") == ("worker", "Team A", True)
    assert any(audit in line for line in audit_details(app, "sso_refuse")), audit_details(
        app, "sso_refuse"
    )
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "worker@kommune.dk"))
        assert user.idp_subject is None  # nobody took the prepared account


def test_an_answer_is_used_once_and_only_by_the_browser_that_asked(saml_app):
    app, _ = saml_app
    web = app.test_client()
    fields = provider_answer(start_login(web), "worker")
    assert hand_on(app, web, fields).status_code == 303
    again = hand_on(app, web, fields)  # replayed: the request ID left the session
    assert (again.status_code, refused_why(again)) == (401, "failed")
    other = app.test_client()  # another browser, which started no login, gets the answer
    fields = provider_answer(start_login(app.test_client()), "lead")
    assert refused_why(hand_on(app, other, fields)) == "failed"


def test_an_answer_to_an_older_request_is_refused(saml_app):
    """Two logins started in one browser: only the newest request's answer counts."""
    app, _ = saml_app
    web = app.test_client()
    first = start_login(web)
    start_login(web)
    answer = hand_on(app, web, provider_answer(first, "worker"))
    assert refused_why(answer) == "failed"


def test_an_answer_changed_after_signing_is_refused(make_saml_app):
    """Only the assertion is signed (as Context Handler may do), so the assertion's own
    signature is what refuses the change."""
    app, _ = make_saml_app(
        idp_options={"encrypt_assertion": False, "sign_response": False}, SAML_WANT_ENCRYPTED=False
    )
    web = app.test_client()
    fields = provider_answer(start_login(web), "worker")
    xml = base64.b64decode(fields["SAMLResponse"]).decode()
    assert "worker@kommune.dk" in xml
    fields["SAMLResponse"] = base64.b64encode(
        xml.replace("worker@kommune.dk", "lead@kommune.dk").encode()
    ).decode()
    answer = hand_on(app, web, fields)
    assert refused_why(answer) == "failed"
    assert person(app, "lead@kommune.dk") == ("lead", "Team A", True)
    with app.app_context():
        lead = db.session.scalar(select(User).where(User.email == "lead@kommune.dk"))
        assert lead.idp_subject is None


def test_a_login_below_the_nsis_level_is_refused(saml_app):
    app, _ = saml_app
    answer = saml_login(app, "low")
    assert (answer.status_code, refused_why(answer)) == (401, "assurance")


def test_only_the_accepted_signature_methods_are_taken(make_saml_app):
    app, _ = make_saml_app(
        idp_options={"sign_alg": SIG_RSA_SHA256}, SAML_ACCEPTED_ALGORITHMS="sha256-rsa-MGF1"
    )
    assert refused_why(saml_login(app, "worker")) == "failed"
    both, _ = make_saml_app(idp_options={"sign_alg": SIG_RSA_SHA256})
    assert saml_login(both, "worker").headers["Location"] == "/today"


def test_cancel_at_the_provider_logs_nobody_in(saml_app):
    app, _ = saml_app
    web = app.test_client()
    fields = provider_answer(start_login(web), "worker", action="cancel")
    answer = hand_on(app, web, fields)
    assert (answer.status_code, refused_why(answer)) == (401, "failed")


def test_garbage_at_the_acs_is_a_refusal_not_an_error(saml_app):
    app, _ = saml_app
    web = app.test_client()
    start_login(web)
    for body in ("", "not base64 at all!", base64.b64encode(b"<x/>").decode(), "A" * 500_000):
        relay = app.test_client().post("/saml/acs", data={"SAMLResponse": body})
        assert relay.status_code in (200, 400)
        start_login(web)
        answer = web.post("/saml/acs/continue", data={"SAMLResponse": body})
        assert (answer.status_code, refused_why(answer)) == (401, "failed")
    entity = base64.b64encode(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&e;</samlp:Response>'
    ).decode()
    start_login(web)
    answer = web.post("/saml/acs/continue", data={"SAMLResponse": entity})
    assert refused_why(answer) == "failed"
    refusals = audit_details(app, "sso_refuse")
    assert "SAML response too large" in refusals and "SAML response is not XML" in refusals
    assert "not a SAML Response" in refusals


def test_the_login_page_offers_the_municipal_login(saml_app):
    app, _ = saml_app
    page = app.test_client().get("/login").get_data(as_text=True)
    assert 'id="saml-login"' in page and 'id="sso-login"' not in page


def test_the_administrator_prepares_and_moves_accounts_for_the_municipal_login(saml_app):
    from tests.support import AuthActions

    app, idp = saml_app
    idp.set_account(
        "local-lead", **saml_account("local.lead@example.org", "Lars", {CVR_OWN: ["teamlead"]})
    )
    admin = AuthActions(app.test_client())
    assert admin.login("admin@example.org").status_code == 303
    page = admin.client.get("/admin/users").get_data(as_text=True)
    assert 'name="login" value="organisation"' in page  # the default with single sign-on
    added = admin.post(
        "/admin/users",
        {"email": "new@kommune.dk", "role": "worker", "team": "Team A", "login": "organisation"},
        page="/admin/users",
    )
    assert added.status_code == 303
    assert saml_login(app, "newcomer").headers["Location"] == "/today"  # no longer "no team"
    with app.app_context():
        lead_id = db.session.scalar(select(User.id).where(User.email == "local.lead@example.org"))
    moved = admin.post(f"/admin/users/{lead_id}/organisation-login", page="/admin/users")
    assert moved.status_code == 303
    assert AuthActions(app.test_client()).login("local.lead@example.org").status_code == 401
    assert saml_login(app, "local-lead").headers["Location"] == "/dashboard"
    assert person(app, "local.lead@example.org") == ("lead", "Team A", True)
    page = admin.client.get("/admin/users").get_data(as_text=True)
    assert page.count('data-login="organisation"') == 4  # lead, worker, newcomer, moved lead


def test_a_saml_login_at_debug_logs_no_name_email_or_message(saml_app, caplog):
    """pysaml2 writes whole messages at DEBUG; its logger is held at INFO."""
    import logging

    app, _ = saml_app
    with caplog.at_level(logging.DEBUG):
        assert saml_login(app, "worker").status_code == 303
        assert refused_why(saml_login(app, "elsewhere")) == "no_role"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    uuid = ACCOUNTS["worker"]["uuid"]
    for personal in ("worker@kommune.dk", "Mads Bo", "other@kommune.dk", "SAMLResponse", uuid):
        assert personal not in logged
    assert "PrivilegeList" not in logged and "Assertion" not in logged


def _kept_session(app, email):
    import json

    from fieldapp.models import UserSession

    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == email))
        row = db.session.scalars(
            select(UserSession).where(UserSession.user_id == user_id).order_by(UserSession.id)
        ).all()[-1]
        return row.id, row.ended_at, json.loads(row.provider_session or "{}")


def test_logging_out_also_ends_the_session_at_the_provider(saml_app):
    """SP-initiated single logout: a signed (PSS) LogoutRequest for the login's NameID and
    SessionIndex; the provider's LogoutResponse brings the browser back to the login."""
    import requests

    from tests.support import csrf_from

    app, idp = saml_app
    web = app.test_client()
    assert saml_login(app, "worker", web).status_code == 303
    _, _, kept = _kept_session(app, "worker@kommune.dk")
    assert kept["text"] == ACCOUNTS["worker"]["uuid"] and kept["index"]
    token = csrf_from(web.get("/today").get_data(as_text=True))
    out = web.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    location = out.headers["Location"]
    assert location.startswith(f"{idp.base_url}/slo?")
    assert request_of_slo(location)["SigAlg"] == SIG_RSA_PSS_SHA256
    _, ended, _ = _kept_session(app, "worker@kommune.dk")
    assert ended is not None  # Doorstep's session ended before the provider was asked
    at_idp = requests.get(location, allow_redirects=False, timeout=10)
    assert at_idp.status_code == 303, at_idp.text  # the provider checked our signature
    assert idp.logouts[-1]["name_id"] == kept["text"]
    assert idp.logouts[-1]["session_index"] == [kept["index"]]
    back = web.get(at_idp.headers["Location"].removeprefix("http://localhost"))
    assert (back.status_code, back.headers["Location"]) == (303, "/login")
    # Logging out by fetch (the phone's way) gets the same address to go on to.
    again = app.test_client()
    saml_login(app, "worker", again)
    token = csrf_from(again.get("/today").get_data(as_text=True))
    fetched = again.post("/logout", data={"csrf_token": token}, headers={"X-Doorstep-Logout": "1"})
    assert fetched.get_json()["next"].startswith(f"{idp.base_url}/slo?")


def request_of_slo(location):
    from urllib.parse import parse_qs, urlsplit

    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_the_provider_ends_a_session_by_single_logout(saml_app):
    """IdP-initiated: Context Handler's signed LogoutRequest ends that login session at once
    (and only that one), audited, and is answered with a signed LogoutResponse."""
    app, idp = saml_app
    web, other = app.test_client(), app.test_client()
    saml_login(app, "worker", web)
    saml_login(app, "lead", other)
    row_id, _, kept = _kept_session(app, "worker@kommune.dk")
    url = idp.logout_request_url("http://localhost/saml/metadata", kept["text"], kept["index"])
    answer = web.get(url.removeprefix("http://localhost"))
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith(f"{idp.base_url}/slo?SAMLResponse=")
    assert web.get("/today").status_code in (302, 303)  # logged out
    assert other.get("/dashboard").status_code == 200  # the lead's session holds
    _, ended, _ = _kept_session(app, "worker@kommune.dk")
    assert ended is not None
    assert "the provider's single logout ended 1 sessions" in audit_details(app, "sso_logout")


def test_a_logout_request_not_signed_by_the_provider_ends_nothing(saml_app):
    app, idp = saml_app
    web = app.test_client()
    saml_login(app, "worker", web)
    _, _, kept = _kept_session(app, "worker@kommune.dk")
    url = idp.logout_request_url("http://localhost/saml/metadata", kept["text"], kept["index"])
    query = request_of_slo(url)
    for forged in (
        {k: v for k, v in query.items() if k != "Signature"},
        {**query, "Signature": base64.b64encode(b"x" * 384).decode()},
    ):
        answer = web.get("/saml/slo?" + urlencode(forged))
        assert (answer.status_code, refused_why(answer)) == (400, "failed")
    assert web.get("/today").status_code == 200
    _, ended, _ = _kept_session(app, "worker@kommune.dk")
    assert ended is None


def test_every_way_back_from_a_provider_is_inside_the_installed_apps_scope(saml_app):
    """On a phone the provider's pages open in the installed app's own browser view; the way
    back (OIDC callback, SAML ACS and its hand-on, single logout) must be inside the app's
    scope so the person comes back into the app, and the login links must not open a new
    window (a separate Safari tab would not reach the home-screen app's storage)."""
    app, _ = saml_app
    web = app.test_client()
    scope = web.get("/manifest.webmanifest").get_json()["scope"]
    for path in ("/login/sso/callback", "/saml/acs", "/saml/acs/continue", "/saml/slo"):
        assert path.startswith(scope)
    login = web.get("/login").get_data(as_text=True)
    links = etree.HTML(login).xpath('//a[@id="saml-login" or @id="sso-login"]')
    assert links and all(link.get("target") in (None, "_self") for link in links)
    relay = web.post("/saml/acs", data={"SAMLResponse": "PHg+"}).get_data(as_text=True)
    form = etree.HTML(relay).find(".//form")
    assert form.get("action") == "/saml/acs/continue" and form.get("target") is None


# --- attacks found in review -----------------------------------------------------------------
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
}


def _wrapped_answer(app, idp, web, encrypt: bool):
    """Signature wrapping (XSW): a genuinely signed assertion for a nobody, moved untouched
    into the Response's Extensions, and beside it a copy with the same ID made into an
    administrator with the victim's address (encrypted to Doorstep, which anyone can do with
    its public certificate)."""
    import copy

    from fieldapp.services.saml_crypto import XmlsecWheelBackend
    from tests.idp.saml_idp import PRIVILEGES_ATTRIBUTE, encode_privileges

    idp.set_account("mallory", **saml_account("mallory@else.dk", "Mal", {CVR_OTHER: ["x"]}))
    fields = provider_answer(start_login(web), "mallory")
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    for signature in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        root.remove(signature)
    signed = root.find("saml:Assertion", NS)
    forged = copy.deepcopy(signed)
    forged.remove(forged.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    for attribute in forged.iter(f"{{{NS['saml']}}}Attribute"):
        if attribute.get("Name") == PRIVILEGES_ATTRIBUTE:
            attribute[0].text = encode_privileges({CVR_OWN: [ROLE_URI_ADMIN]})
        if attribute.get("Name").endswith("/email"):
            attribute[0].text = "it@kommune.dk"
    root.remove(signed)
    extensions = etree.Element(f"{{{NS['samlp']}}}Extensions")
    extensions.append(signed)
    root.find("saml:Issuer", NS).addnext(extensions)
    if encrypt:
        holder = etree.SubElement(root, f"{{{NS['saml']}}}EncryptedAssertion")
        holder.append(forged)
        cert = app.config["SAML_CERT_FILE"]
        xml = XmlsecWheelBackend().encrypt_assertion(etree.tostring(root).decode(), cert, None)
    else:
        root.append(forged)
        xml = etree.tostring(root).decode()
    return {**fields, "SAMLResponse": base64.b64encode(xml.encode()).decode()}


ROLE_URI_ADMIN = "http://doorstep.test/roles/usersystemrole/admin/1"


@pytest.mark.parametrize("encrypt", [True, False], ids=["encrypted", "plain"])
def test_signature_wrapping_logs_nobody_in(make_saml_app, encrypt):
    app, idp = make_saml_app(
        idp_options={"encrypt_assertion": False, "sign_response": False},
        SAML_WANT_ENCRYPTED=encrypt,
    )
    web = app.test_client()
    answer = hand_on(app, web, _wrapped_answer(app, idp, web, encrypt))
    assert (answer.status_code, refused_why(answer)) == (401, "failed")
    assert person(app, "it@kommune.dk") is None
    assert any("wrapping" in line for line in audit_details(app, "sso_refuse"))


def test_the_signature_backend_refuses_a_duplicated_id_by_itself(saml_app):
    """The second wall: the backend checks nothing when two elements carry the signed ID,
    whatever the shape check before it lets through."""
    from saml2 import sigver

    from fieldapp.services.saml_crypto import XmlsecWheelBackend

    app, idp = saml_app
    web = app.test_client()
    fields = provider_answer(start_login(web), "worker")
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))  # signed by the IdP
    extensions = etree.SubElement(root, f"{{{NS['samlp']}}}Extensions")
    twin = etree.SubElement(extensions, "Twin", ID=root.get("ID"))
    assert twin is not None
    with pytest.raises(sigver.SignatureError, match="2 elements carry the signed ID"):
        XmlsecWheelBackend().validate_signature(
            etree.tostring(root).decode(), str(idp.cert_file), "pem",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response", root.get("ID"),
        )  # fmt: skip


def test_an_answer_replayed_with_the_cookie_from_before_is_refused(saml_app):
    """The request ID lives in the signed cookie; whoever kept the cookie from before the
    login and the answer must still not log in again: the IDs are used once, on the server."""
    app, _ = saml_app
    web = app.test_client()
    fields = provider_answer(start_login(web), "worker")
    before = web.get_cookie("doorstep_session").value
    assert hand_on(app, web, fields).status_code == 303
    thief = app.test_client()
    thief.set_cookie("doorstep_session", before)
    again = hand_on(app, thief, fields)
    assert (again.status_code, refused_why(again)) == (401, "failed")
    assert "SAML answer used before (replay)" in audit_details(app, "sso_refuse")


def test_a_logout_request_with_a_repeated_parameter_ends_nothing(saml_app):
    """The genuine signed request second, a forged one first: refused, not acted on."""
    app, idp = saml_app
    web, lead = app.test_client(), app.test_client()
    saml_login(app, "worker", web)
    saml_login(app, "lead", lead)
    _, _, worker_kept = _kept_session(app, "worker@kommune.dk")
    _, _, lead_kept = _kept_session(app, "lead@kommune.dk")
    genuine = idp.logout_request_url(
        "http://localhost/saml/metadata", worker_kept["text"], worker_kept["index"]
    ).split("?", 1)[1]
    forged = idp.logout_request_url(
        "http://localhost/saml/metadata", lead_kept["text"], lead_kept["index"]
    ).split("?", 1)[1]
    forged_request = forged.split("&", 1)[0]  # SAMLRequest=<the lead's>, its signature left
    answer = web.get(f"/saml/slo?{forged_request}&{genuine}")
    assert (answer.status_code, refused_why(answer)) == (400, "failed")
    assert lead.get("/dashboard").status_code == 200
    assert web.get("/today").status_code == 200
    assert "repeated parameter" in " ".join(audit_details(app, "sso_refuse"))


def test_unusable_provider_metadata_is_a_refusal_and_logout_still_works(make_saml_app, tmp_path):
    garbage = tmp_path / "metadata.xml"
    garbage.write_text("this is not SAML metadata")
    app, _ = make_saml_app()
    broken, _ = make_saml_app(SAML_IDP_METADATA_URL="", SAML_IDP_METADATA_FILE=str(garbage))
    answer = broken.test_client().get("/login/saml")
    assert (answer.status_code, refused_why(answer)) == (503, "failed")
    slo = broken.test_client().get("/saml/slo?SAMLRequest=x&SigAlg=y&Signature=z")
    assert slo.status_code == 503
    # A person logged in while the metadata was good logs out even when it goes bad.
    from tests.support import csrf_from

    web = app.test_client()
    saml_login(app, "worker", web)
    provider = app.extensions["doorstep_saml_sps"]
    for service in provider.values():
        service._metadata, service._clients = None, {}
        service.settings = replace_settings(service.settings, garbage)
    token = csrf_from(web.get("/today").get_data(as_text=True))
    out = web.post("/logout", data={"csrf_token": token})
    assert (out.status_code, out.headers["Location"]) == (303, "/login")
    assert web.get("/today").status_code in (302, 303)


def replace_settings(settings, metadata_file):
    import dataclasses

    return dataclasses.replace(settings, idp_metadata_url="", idp_metadata_file=str(metadata_file))


def _encrypt_in_place(node, cert_file):
    """Replace `node` by an EncryptedData for Doorstep's public certificate (which anyone
    can read from its metadata), as an attacker would."""
    import xmlsec

    wrap = etree.fromstring(b"<wrap>" + etree.tostring(node) + b"</wrap>")
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_file(cert_file, xmlsec.constants.KeyDataFormatCertPem))
    data = xmlsec.template.encrypted_data_create(
        wrap, xmlsec.constants.TransformAes256Gcm, type=xmlsec.constants.TypeEncElement, ns="xenc"
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(data)
    info = xmlsec.template.encrypted_data_ensure_key_info(data, ns="dsig")
    key = xmlsec.template.add_encrypted_key(info, xmlsec.constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(key)
    context = xmlsec.EncryptionContext(manager)
    context.key = xmlsec.Key.generate(
        xmlsec.constants.KeyDataAes, 256, xmlsec.constants.KeyDataTypeSession
    )
    context.encrypt_xml(data, wrap[0])
    node.getparent().replace(node, etree.fromstring(etree.tostring(wrap[0])))


@pytest.mark.parametrize("signature", ["encrypted", "empty"])
def test_an_assertion_nobody_signed_hidden_in_nested_encryption_is_refused(
    make_saml_app, signature
):
    """A forgery needing only Doorstep's public certificate: an assertion written by the
    attacker, its ds:Signature itself an EncryptedData (or empty), with an Advice holding
    encrypted data that makes pysaml2 decrypt a second time and then take the Signature for
    checked. Doorstep decrypts and checks the assertion's signature itself first."""
    from tests.idp.saml_idp import PRIVILEGES_ATTRIBUTE, encode_privileges

    app, idp = make_saml_app(idp_options={"encrypt_assertion": False, "sign_response": False})
    cert = app.config["SAML_CERT_FILE"]
    idp.set_account("mallory", **saml_account("mallory@else.dk", "Mal", {CVR_OTHER: ["x"]}))
    web = app.test_client()
    fields = provider_answer(start_login(web), "mallory")
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    assertion = root.find("saml:Assertion", NS)
    for attribute in assertion.iter(f"{{{NS['saml']}}}Attribute"):
        if attribute.get("Name") == PRIVILEGES_ATTRIBUTE:
            attribute[0].text = encode_privileges(
                {CVR_OWN: ["http://doorstep.test/roles/usersystemrole/teamlead/1"]}
            )
        if attribute.get("Name").endswith("/email"):
            attribute[0].text = "lead@kommune.dk"
    forged_signature = assertion.find("{http://www.w3.org/2000/09/xmldsig#}Signature")
    if signature == "empty":
        for child in list(forged_signature):
            forged_signature.remove(child)
    _encrypt_in_place(forged_signature, cert)
    advice = etree.SubElement(assertion, f"{{{NS['saml']}}}Advice")
    inner = etree.SubElement(
        etree.SubElement(advice, f"{{{NS['saml']}}}EncryptedAssertion"),
        "{http://www.w3.org/2001/04/xmlenc#}EncryptedData",
    )
    etree.SubElement(
        etree.SubElement(inner, "{http://www.w3.org/2001/04/xmlenc#}CipherData"),
        "{http://www.w3.org/2001/04/xmlenc#}CipherValue",
    ).text = "AAAA"
    holder = etree.Element(f"{{{NS['saml']}}}EncryptedAssertion")
    assertion.addprevious(holder)
    holder.append(assertion)
    _encrypt_in_place(assertion, cert)
    fields["SAMLResponse"] = base64.b64encode(etree.tostring(root)).decode()
    answer = hand_on(app, web, fields)
    assert (answer.status_code, refused_why(answer)) == (401, "failed")
    with app.app_context():
        lead = db.session.scalar(select(User).where(User.email == "lead@kommune.dk"))
        assert lead.idp_subject is None  # the prepared lead's account was not taken
    assert "SAML assertion with encrypted parts inside" in audit_details(app, "sso_refuse")


def _tamper_encrypted(app, idp, web, change):
    """A genuine encrypted answer, its encrypted structure changed by `change(data, root)`."""
    fields = provider_answer(start_login(web), "worker")
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    data = root.find("saml:EncryptedAssertion", NS)[0]
    change(data, root)
    return {**fields, "SAMLResponse": base64.b64encode(etree.tostring(root)).decode()}


XENC = "{http://www.w3.org/2001/04/xmlenc#}"
DSIG = "{http://www.w3.org/2000/09/xmldsig#}"


def _cipher_reference(data, root):
    cipher = data.find(f"{XENC}CipherData")
    cipher.remove(cipher[0])
    etree.SubElement(cipher, f"{XENC}CipherReference", URI="file:///dev/zero")


def _retrieval_method(data, root):
    info = data.find(f"{DSIG}KeyInfo")
    key = info[0]
    info.remove(key)
    etree.SubElement(
        info, f"{DSIG}RetrievalMethod", URI="#xpointer(//*[local-name()='EncryptedKey'])"
    )
    properties = etree.SubElement(data, f"{XENC}EncryptionProperties")
    properties.append(key)


def _sibling_key(data, root):
    info = data.find(f"{DSIG}KeyInfo")
    key = info[0]
    info.remove(key)
    data.getparent().append(key)


@pytest.mark.parametrize(
    "change, audit",
    [
        (_cipher_reference, "SAML encrypted structure"),
        (_retrieval_method, "SAML encrypted structure"),
        (_sibling_key, "SAML encrypted structure"),
    ],
    ids=["cipher-reference-to-dev-zero", "retrieval-method", "key-outside"],
)
def test_an_encrypted_assertion_of_any_but_the_plain_shape_is_refused_before_decrypting(
    saml_app, change, audit
):
    """References in encrypted data make one ciphertext mean two things (the app's and
    pysaml2's decryption), or read /dev/zero until memory runs out."""
    app, idp = saml_app
    web = app.test_client()
    answer = hand_on(app, web, _tamper_encrypted(app, idp, web, change))
    assert (answer.status_code, refused_why(answer)) == (401, "failed")
    assert any(audit in line for line in audit_details(app, "sso_refuse"))
    assert person(app, "worker@kommune.dk") == ("worker", "Team A", True)


def test_the_backend_never_follows_a_reference_while_decrypting(tmp_path):
    from saml2 import sigver

    from fieldapp.services.saml_crypto import XmlsecWheelBackend
    from tests.idp.saml_idp import make_key_pair

    key, _ = make_key_pair(tmp_path, "k", "K")
    document = (
        '<x><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:CipherData>'
        '<xenc:CipherReference URI="file:///dev/zero"/></xenc:CipherData></xenc:EncryptedData></x>'
    )
    with pytest.raises(sigver.XmlsecError, match="reference"):
        XmlsecWheelBackend().decrypt(document, str(key))


def test_a_response_with_a_doctype_is_a_refusal_not_an_error(saml_app):
    app, _ = saml_app
    web = app.test_client()
    start_login(web)
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]>'
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><samlp:Status><samlp:StatusCode '
        b'Value="urn:oasis:names:tc:SAML:2.0:status:Responder"/></samlp:Status>'
        b'<saml:Assertion ID="a">&e;</saml:Assertion></samlp:Response>'
    )
    answer = web.post("/saml/acs/continue", data={"SAMLResponse": base64.b64encode(body).decode()})
    assert (answer.status_code, refused_why(answer)) == (401, "failed")
    assert "SAML response with a DOCTYPE" in audit_details(app, "sso_refuse")
