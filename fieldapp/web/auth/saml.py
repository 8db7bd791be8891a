"""Single sign-on through KOMBIT's Context Handler (SAML 2.0, OIOSAML 3).

/login/saml sends a signed AuthnRequest (HTTP-Redirect) and keeps its ID in this browser's
session. The identity provider answers with a cross-site POST to /saml/acs, which carries no
session cookie (it is SameSite=Lax); so /saml/acs only hands the answer on, by a same-site POST
from our own page to /saml/acs/continue, where the cookie is back and the answer is checked
against the request this browser made (one use: the ID leaves the session at once). The
person is then decided by the same use case as an OpenID Connect login.
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, redirect, render_template, request, session, url_for
from requests import RequestException

from ...domain.identity import SamlSettings, saml_settings
from ...extensions import csrf, db
from ...services.saml import Endpoints, SamlRefused, ServiceProvider, sp_metadata
from ...usecases import UnitOfWork
from ...usecases.sso import NoAccess, sign_in_as
from ..security import client_address
from . import bp
from .sso import _refuse

PENDING = "saml_request"
# How long a login at the identity provider may take before its answer is refused here.
PENDING_SECONDS = 15 * 60


def init_saml(app: Flask) -> None:
    """Check the SAML settings at start (a wrong one stops the app with its name)."""
    settings = saml_settings(app.config)
    app.extensions["doorstep_saml"] = settings
    if settings.enabled:
        app.extensions["doorstep_saml_sp"] = ServiceProvider(settings)


def _settings() -> SamlSettings:
    return current_app.extensions["doorstep_saml"]


def _public_url(endpoint: str) -> str:
    origin = current_app.config["PUBLIC_ORIGIN"].rstrip("/")
    return f"{origin}{url_for(endpoint)}" if origin else url_for(endpoint, _external=True)


def _endpoints() -> Endpoints:
    settings = _settings()
    return Endpoints(
        entity_id=settings.sp_entity_id or _public_url("auth.saml_metadata"),
        acs_url=_public_url("auth.saml_acs"),
    )


def _sp() -> ServiceProvider:
    return current_app.extensions["doorstep_saml_sp"]


@bp.get("/saml/metadata")
def saml_metadata():
    """Our metadata, for registering Doorstep with Context Handler."""
    if not _settings().enabled:
        return Response("SAML is not set up here.", 404, mimetype="text/plain")
    xml = sp_metadata(_settings(), _endpoints())
    return Response(xml, mimetype="application/samlmetadata+xml")


@bp.get("/login/saml")
def saml_start():
    if not _settings().enabled:
        return redirect(url_for("auth.login"))
    try:
        request_id, location = _sp().login_redirect(_endpoints())
    except (RequestException, OSError, ValueError) as error:
        return _refuse("failed", 503, f"SAML identity provider unavailable: {type(error).__name__}")
    session[PENDING] = {"id": request_id, "at": int(time.time())}
    return redirect(location, code=303)


@bp.post("/saml/acs")
@csrf.exempt
def saml_acs():
    """The identity provider's answer, cross-site: handed on to /saml/acs/continue from this
    site's own page, where this browser's session is known. Nothing is checked or kept here."""
    if not _settings().enabled:
        return redirect(url_for("auth.login"))
    answer = request.form.get("SAMLResponse", "")
    if not answer or len(answer) > 400_000:
        return _refuse("failed", 400, "SAML answer missing or too large")
    return render_template("auth/saml_continue.html", answer=answer)


@bp.post("/saml/acs/continue")
@csrf.exempt  # bound to this browser by the request ID in its session, used once
def saml_continue():
    settings = _settings()
    if not settings.enabled:
        return redirect(url_for("auth.login"))
    pending = session.pop(PENDING, None)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return _refuse("failed", 401, "SAML answer without a login started in this browser")
    try:
        who = _sp().read_response(_endpoints(), request.form.get("SAMLResponse", ""), pending["id"])
    except SamlRefused as refusal:
        return _refuse(refusal.why, 401, refusal.detail)
    except (RequestException, OSError) as error:
        return _refuse("failed", 503, f"SAML identity provider unavailable: {type(error).__name__}")
    try:
        with UnitOfWork(db.session) as uow:
            login = sign_in_as(uow, who, client_address())
    except NoAccess as refusal:
        return _refuse(refusal.why)
    from .views import open_session

    return open_session(login.user, how="saml")
