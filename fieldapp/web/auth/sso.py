"""Single sign-on with the municipality's identity provider (OpenID Connect).

Authlib's Flask client does discovery, the authorisation code flow with PKCE S256, `state` and
`nonce` (kept in the signed session cookie until the callback) and the ID token's checks
(signature from the provider's keys, issuer, audience, expiry and issued-at within the clock
skew, nonce). Here: the `iss` parameter of the authorisation response (RFC 9207), the required
assurance level, and handing the claims to the use case that decides the account.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from authlib.common.errors import AuthlibBaseError
from flask import Flask, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from joserfc.errors import JoseError
from requests import RequestException

from ...domain.identity import identity_from_claims
from ...extensions import db
from ...services.audit import record_event
from ...usecases import UnitOfWork
from ...usecases.sso import NoAccess, sign_in_as
from ..security import client_address
from . import bp
from .providers import (
    INSTALLATION,
    LoginRoute,
    for_route,
    init_providers,
    login_routes,
    oidc_client,
    route_for,
)


def init_sso(app: Flask) -> None:
    """Check the installation's settings at start (a wrong one stops the app with its name)."""
    init_providers(app)


SESSION_ORGANISATION = "sso_organisation"


def sso_route() -> LoginRoute:
    """The providers of the login under way (or done) in this browser."""
    return route_for(session.get(SESSION_ORGANISATION, INSTALLATION))


def public_url(endpoint: str, **values) -> str:
    """The absolute URL a provider is given to send the person back to (the public origin
    when one is set, else this request's)."""
    origin = current_app.config["PUBLIC_ORIGIN"].rstrip("/")
    if origin:
        return f"{origin}{url_for(endpoint, **values)}"
    return url_for(endpoint, _external=True, **values)


REFUSALS = {
    "no_role": lambda: _(
        "Your organisation's account does not give you access to Doorstep. Ask your "
        "administrator to give you a Doorstep role in the identity provider."
    ),
    "overage": lambda: _(
        "Your organisation's identity provider sent too many groups to tell your Doorstep "
        "role. Ask your administrator to give Doorstep app roles instead of groups."
    ),
    "no_team": lambda: _(
        "Your organisation's account does not say which team you work in. Ask your administrator."
    ),
    "unknown_team": lambda: _(
        "Your organisation's account names a team Doorstep does not have. Ask your "
        "administrator to create it or correct it."
    ),
    "email_taken": lambda: _(
        "An account with a password already uses your e-mail address, so Doorstep cannot "
        "tell that it is yours. Ask your administrator to move that account to the "
        "organisation's account (on the Users page); then log in here again."
    ),
    "disabled": lambda: _("Your Doorstep account is disabled. Ask your administrator."),
    "no_email": lambda: _(
        "Your organisation's identity provider did not give your e-mail address. Ask your "
        "administrator."
    ),
    "no_subject": lambda: _("The identity provider did not say who you are."),
    "failed": lambda: _(
        "The login through your organisation could not be completed. Try again; if it "
        "happens again, tell your administrator the time it happened."
    ),
    "assurance": lambda: _(
        "Doorstep needs a stronger login than the one you used (for example with a second "
        "factor). Try again and choose the stronger login."
    ),
}


def _refuse(why: str, status: int = 403, audit: str = ""):
    if audit:
        record_event(db.session, None, "sso_refuse", "user", "", client_address(), audit[:200])
        db.session.commit()
    message = REFUSALS.get(why, REFUSALS["failed"])()
    return render_template("auth/refused.html", message=message, why=why), status


@bp.get("/login/sso")
def sso_start():
    """Send the person to the identity provider (code flow, PKCE S256, state, nonce): the
    installation's, or with ?organisation=<id> that organisation's own."""
    route = route_for(request.args.get("organisation"))
    settings = route.oidc
    if not settings.enabled:
        return redirect(url_for("auth.login"))
    session[SESSION_ORGANISATION] = route.organisation_id
    extra = {"nonce": secrets.token_urlsafe(24)}
    if settings.acr:
        extra["acr_values"] = " ".join(settings.acr)
    try:
        return oidc_client(route).authorize_redirect(public_url("auth.sso_callback"), **extra)
    except (RequestException, AuthlibBaseError, ValueError) as error:
        return _refuse("failed", 503, f"provider unreachable: {type(error).__name__}")


@bp.get("/login/sso/callback")
def sso_callback():
    """Back from the identity provider: check the answer and the ID token, then the account."""
    route = sso_route()
    settings = route.oidc
    if not settings.enabled:
        return redirect(url_for("auth.login"))
    client = oidc_client(route)
    if "error" in request.args:
        code = "".join(c for c in request.args["error"][:40] if c.isalnum() or c in "_-")
        return _refuse("failed", 401, f"provider answered error {code}")
    try:
        metadata = client.load_server_metadata()
    except (RequestException, AuthlibBaseError, ValueError) as error:
        return _refuse("failed", 503, f"provider unreachable: {type(error).__name__}")
    # RFC 9207: the answer names its issuer, so an answer from another provider (a mix-up
    # attack) is not taken for this one's.
    iss = request.args.get("iss")
    if (iss is not None and iss.rstrip("/") != metadata["issuer"].rstrip("/")) or (
        iss is None and metadata.get("authorization_response_iss_parameter_supported")
    ):
        return _refuse("failed", 401, "authorisation response from another issuer")
    try:
        token = client.authorize_access_token(leeway=settings.clock_skew_seconds)
    except (AuthlibBaseError, JoseError, RequestException, ValueError, KeyError) as error:
        # A wrong state, nonce, audience or issuer, an expired or badly signed token, a code
        # used twice: nobody is logged in, and the audit line says which kind of failure.
        return _refuse("failed", 401, f"ID token or code refused: {type(error).__name__}")
    claims = dict(token.get("userinfo") or {})
    if not claims:
        return _refuse("failed", 401, "no ID token")
    if settings.acr and claims.get("acr") not in settings.acr:
        acr = str(claims.get("acr", ""))[:60]
        return _refuse("assurance", 401, f"assurance level {acr or 'none'} is not enough")
    try:
        who = for_route(identity_from_claims(claims, settings), route)
        with UnitOfWork(db.session) as uow:
            login = sign_in_as(uow, who, client_address())
    except NoAccess as refusal:
        return _refuse(refusal.why)
    from .views import open_session

    answer = open_session(login.user, how="sso")
    session[SESSION_ORGANISATION] = route.organisation_id  # for the provider's logout
    return answer


def provider_logout_url() -> str | None:
    """The provider's RP-initiated logout, back to our login page; None without one."""
    route = sso_route()
    settings = route.oidc
    if not settings.enabled:
        return None
    try:
        endpoint = oidc_client(route).load_server_metadata().get("end_session_endpoint")
    except (RequestException, AuthlibBaseError, ValueError):
        return None
    if not endpoint:
        return None
    query = urlencode(
        {"client_id": settings.client_id, "post_logout_redirect_uri": public_url("auth.login")}
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


@bp.app_context_processor
def _login_options() -> dict:
    # login_choices is called by the pages that show it (a query), not on every page.
    return {"login_choices": login_routes, "local_login": current_app.config["LOCAL_LOGIN"]}


def came_through_provider() -> bool:
    return session.get("login_via") == "sso"
