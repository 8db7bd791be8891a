"""Single sign-on through KOMBIT's Context Handler (SAML 2.0, OIOSAML 3).

/login/saml sends a signed AuthnRequest (HTTP-Redirect) and keeps its ID in this browser's
session. The identity provider answers with a cross-site POST to /saml/acs, which carries no
session cookie (it is SameSite=Lax); so /saml/acs only hands the answer on, by a same-site POST
from our own page to /saml/acs/continue, where the cookie is back and the answer is checked
against the request this browser made (one use: the ID leaves the session at once). The
person is then decided by the same use case as an OpenID Connect login.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import Response, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from ...extensions import csrf, db
from ...models import UserSession
from ...models.types import utcnow
from ...services.accounts import end_provider_sessions, keep_provider_session, use_once
from ...services.audit import record_event
from ...services.saml import Endpoints, SamlRefused, SamlUnavailable, sp_metadata
from ...usecases import UnitOfWork
from ...usecases.sso import NoAccess, sign_in_as
from ..security import client_address
from . import bp
from .providers import (
    LoginRoute,
    for_route,
    installation_route,
    route_for,
    saml_service_provider,
)
from .sso import SESSION_ORGANISATION, _refuse, public_url

log = logging.getLogger(__name__)
PENDING = "saml_request"
# How long a login at the identity provider may take before its answer is refused here.
PENDING_SECONDS = 15 * 60


def _endpoints(route: LoginRoute) -> Endpoints:
    """Our entityID (by default where our metadata is served), the one ACS and the single
    logout service: the installation's, or an organisation's own."""
    if route.organisation_id:
        own = {"organisation_id": route.organisation_id}
        metadata = public_url("auth.saml_organisation_metadata", **own)
        slo = public_url("auth.saml_organisation_slo", **own)
    else:
        metadata, slo = public_url("auth.saml_metadata"), public_url("auth.saml_slo")
    return Endpoints(
        entity_id=route.saml.sp_entity_id or metadata,
        acs_url=public_url("auth.saml_acs"),
        slo_url=slo,
    )


def _metadata(route: LoginRoute):
    if not route.saml.enabled:
        return Response("SAML is not set up here.", 404, mimetype="text/plain")
    xml = sp_metadata(route.saml, _endpoints(route))
    return Response(xml, mimetype="application/samlmetadata+xml")


@bp.get("/saml/metadata")
def saml_metadata():
    """Our metadata, for registering Doorstep with Context Handler."""
    return _metadata(installation_route())


@bp.get("/saml/metadata/<int:organisation_id>")
def saml_organisation_metadata(organisation_id: int):
    """An organisation's own registration (its own entityID, key and certificate)."""
    route = route_for(organisation_id)
    if route.organisation_id != organisation_id:
        return Response("SAML is not set up here.", 404, mimetype="text/plain")
    return _metadata(route)


@bp.get("/login/saml")
def saml_start():
    """Send a signed AuthnRequest: the installation's provider, or ?organisation=<id>'s own."""
    route = route_for(request.args.get("organisation"))
    if not route.saml.enabled:
        return redirect(url_for("auth.login"))
    try:
        request_id, location = saml_service_provider(route).login_redirect(_endpoints(route))
    except SamlUnavailable as error:
        return _unavailable(str(error))
    except Exception as error:  # pysaml2 raises many kinds: never a 500 at the login
        return _unavailable(type(error).__name__)
    session[PENDING] = {"id": request_id, "at": int(time.time()), "org": route.organisation_id}
    return redirect(location, code=303)


@bp.post("/saml/acs")
@csrf.exempt
def saml_acs():
    """The identity provider's answer, cross-site: handed on to /saml/acs/continue from this
    site's own page, where this browser's session is known. Nothing is checked or kept here."""
    answer = request.form.get("SAMLResponse", "")
    if not answer or len(answer) > 400_000:
        return _refuse("failed", 400, "SAML answer missing or too large")
    page = current_app.make_response(render_template("auth/saml_continue.html", answer=answer))
    page.headers["Cache-Control"] = "no-store"  # it holds the provider's answer
    return page


@bp.post("/saml/acs/continue")
@csrf.exempt  # bound to this browser by the request ID in its session, used once
def saml_continue():
    pending = session.pop(PENDING, None)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return _refuse("failed", 401, "SAML answer without a login started in this browser")
    route = route_for(pending.get("org"))
    if not route.saml.enabled or route.organisation_id != pending.get("org"):
        return _refuse("failed", 401, "SAML answer for a provider no longer set up")
    answer = request.form.get("SAMLResponse", "")
    try:
        result = saml_service_provider(route).read_response(
            _endpoints(route), answer, pending["id"]
        )
    except SamlRefused as refusal:
        return _refuse(refusal.why, 401, refusal.detail)
    except SamlUnavailable as error:
        return _unavailable(str(error))
    # Once only, whatever browser or app server the answer turns up at again.
    keep_until = utcnow() + timedelta(seconds=PENDING_SECONDS + route.saml.clock_skew_seconds)
    if not use_once(db.session, result.message_ids, keep_until):
        db.session.rollback()
        return _refuse("failed", 401, "SAML answer used before (replay)")
    db.session.commit()
    who = for_route(result.identity, route)
    try:
        with UnitOfWork(db.session) as uow:
            login = sign_in_as(uow, who, client_address())
    except NoAccess as refusal:
        return _refuse(refusal.why)
    from .views import open_session

    answer = open_session(login.user, how="saml")
    keep_provider_session(
        db.session, login.user.session_id, result.provider_session, route.organisation_id
    )
    db.session.commit()
    session[SESSION_ORGANISATION] = route.organisation_id
    return answer


def _unavailable(kind: str):
    return _refuse("failed", 503, f"SAML identity provider unavailable: {kind[:80]}")


def saml_logout_url() -> str | None:
    """A signed LogoutRequest to the provider for this login session, or None (no single
    logout service, nothing kept, or the provider unreachable: Doorstep's logout goes on)."""
    route = route_for(session.get(SESSION_ORGANISATION))
    if not route.saml.enabled or current_user.session_id is None:
        return None
    row = db.session.get(UserSession, current_user.session_id)
    if row is None or not row.provider_session:
        return None
    try:
        return saml_service_provider(route).logout_redirect(_endpoints(route), row.provider_session)
    except Exception as error:  # whatever it is, the person is logged out of Doorstep
        log.warning("SAML single logout request not made: %s", type(error).__name__)
        return None


def _single_logout(route: LoginRoute):
    if not route.saml.enabled:
        return redirect(url_for("auth.login"))
    if "SAMLResponse" in request.args:
        # The provider's answer to our LogoutRequest: Doorstep's session ended before it left.
        return redirect(url_for("auth.login"), code=303)
    if "SAMLRequest" not in request.args:
        return redirect(url_for("auth.login"))
    raw_query = request.query_string.decode("ascii", "replace")[:100_000]
    try:
        sp = saml_service_provider(route)
        asked = sp.logout_request_from_provider(_endpoints(route), raw_query)
    except SamlRefused as refusal:
        return _refuse(refusal.why, 400, refusal.detail)
    except SamlUnavailable as error:
        return _unavailable(str(error))
    except Exception as error:  # a malformed request pysaml2 chokes on: refused, never a 500
        return _refuse("failed", 400, f"SAML logout request refused: {type(error).__name__}")
    ended = end_provider_sessions(
        db.session, asked.issuer, route.organisation_id, asked.name_id, asked.session_indexes
    )
    record_event(
        db.session, None, "sso_logout", "user_session", "", client_address(),
        f"the provider's single logout ended {len(ended)} sessions",
    )  # fmt: skip
    db.session.commit()
    if current_user.is_authenticated and current_user.session_id in ended:
        logout_user()
        session.clear()
    return redirect(asked.answer_url, code=303)


@bp.get("/saml/slo")
def saml_slo():
    """Single logout with the installation's provider (HTTP-Redirect, both directions)."""
    return _single_logout(installation_route())


@bp.get("/saml/slo/<int:organisation_id>")
def saml_organisation_slo(organisation_id: int):
    route = route_for(organisation_id)
    if route.organisation_id != organisation_id:
        return redirect(url_for("auth.login"))
    return _single_logout(route)
