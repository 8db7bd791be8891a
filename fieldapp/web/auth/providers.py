"""Which identity providers a login goes through: an organisation's own settings (set with
`fieldapp identity-provider set`), or the installation's from the environment, the embedded
default. Read from the database when a login starts or returns (one small query); each
distinct set of settings is parsed and checked once, and has its own OpenID Connect client and
SAML service provider."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from sqlalchemy import select

from ...domain.identity import (
    IdentitySettingsError,
    OidcSettings,
    ProviderIdentity,
    SamlSettings,
    identity_defaults,
    oidc_settings,
    organisation_identity_config,
    saml_settings,
    stored_identity_settings,
)
from ...extensions import db
from ...models import Organisation
from ...services.saml import ServiceProvider
from ...services.saml_crypto import check_stack

INSTALLATION = 0  # the organisation id of the environment's providers
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginRoute:
    organisation_id: int  # INSTALLATION: the environment's providers
    organisation_name: str  # "" for the installation's
    oidc: OidcSettings
    saml: SamlSettings

    @property
    def enabled(self) -> bool:
        return self.oidc.enabled or self.saml.enabled


def init_providers(app: Flask) -> None:
    """The installation's settings are checked at start: a wrong one stops the app with its
    name. An organisation's own were checked when they were set."""
    app.extensions["doorstep_login_routes"] = {}
    app.extensions["doorstep_saml_sps"] = {}
    app.extensions["doorstep_oauth"] = OAuth(app)
    app.extensions["doorstep_oauth_names"] = set()
    route = LoginRoute(INSTALLATION, "", oidc_settings(app.config), saml_settings(app.config))
    app.extensions["doorstep_installation_route"] = route
    if route.saml.enabled:
        check_stack()  # a libxmlsec1 without RSASSA-PSS stops the app here, not at a login


def installation_route() -> LoginRoute:
    return current_app.extensions["doorstep_installation_route"]


def _organisation_route(organisation: Organisation) -> LoginRoute | None:
    cache = current_app.extensions["doorstep_login_routes"]
    key = (organisation.id, organisation.identity_settings)
    if key not in cache:
        for old in [k for k in cache if k[0] == organisation.id]:
            del cache[old]  # settings changed: the old ones go
        stored = stored_identity_settings(organisation.identity_settings)
        config = organisation_identity_config(identity_defaults(), current_app.config, stored)
        cache[key] = LoginRoute(
            organisation.id, organisation.name, oidc_settings(config), saml_settings(config)
        )
    return cache[key]


def _unusable(organisation_id: int, error: Exception) -> None:
    log.warning("organisation %s: identity settings unusable: %s", organisation_id, error)


def route_for(organisation_id) -> LoginRoute:
    """The providers of that organisation; the installation's when it has none of its own
    (or the id is not one)."""
    try:
        organisation_id = int(organisation_id or 0)
    except (TypeError, ValueError):
        organisation_id = 0
    if organisation_id:
        organisation = db.session.get(Organisation, organisation_id)
        if organisation is not None and organisation.identity_settings:
            try:
                return _organisation_route(organisation)
            except IdentitySettingsError as error:
                _unusable(organisation_id, error)
    return installation_route()


def login_routes() -> list[LoginRoute]:
    """Every way in through an identity provider, for the login page."""
    routes = [installation_route()] if installation_route().enabled else []
    own = db.session.scalars(
        select(Organisation).where(Organisation.identity_settings != "").order_by(Organisation.name)
    )
    for organisation in own:
        try:
            route = _organisation_route(organisation)
        except IdentitySettingsError as error:
            _unusable(organisation.id, error)
            continue
        if route.enabled:
            routes.append(route)
    return routes


def for_route(who: ProviderIdentity, route: LoginRoute) -> ProviderIdentity:
    """The identity as this route's: through an organisation's own provider the account key
    names the organisation too (several municipalities share Context Handler, one issuer),
    and teams are looked for in that organisation only."""
    if not route.organisation_id:
        return who
    return replace(
        who,
        issuer=f"{who.issuer}#organisation-{route.organisation_id}",
        organisation_id=route.organisation_id,
    )


def oidc_client(route: LoginRoute):
    """Authlib's client for the route's OpenID Connect provider (registered once per set of
    settings: discovery, PKCE S256 and the request timeout as for every provider)."""
    oauth: OAuth = current_app.extensions["doorstep_oauth"]
    settings = route.oidc
    name = f"provider-{route.organisation_id}-{abs(hash(repr(settings))) % 10**12}"
    registered = current_app.extensions["doorstep_oauth_names"]
    if name not in registered:
        registered.add(name)
        oauth.register(
            name,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.scopes,
                "code_challenge_method": "S256",
                "timeout": 10,
            },
        )
    return oauth.create_client(name)


def saml_service_provider(route: LoginRoute) -> ServiceProvider:
    services = current_app.extensions["doorstep_saml_sps"]
    key = (route.organisation_id, repr(route.saml))
    if key not in services:
        for old in [k for k in services if k[0] == route.organisation_id]:
            del services[old]
        services[key] = ServiceProvider(route.saml)
    return services[key]
