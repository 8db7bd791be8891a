"""Who a person is in Doorstep, from what the identity provider says: the role and team from
the claims, by the organisation's role map. Plain rules, no database and no web."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..models import OUTSIDE_ROLES, ROLES

LOCAL_LOGIN_MODES = ("on", "admins-only", "off")
# When the claims map to several roles, the person gets the one that carries most duty:
# an administrator who also leads a team administers; a lead who is also a worker leads.
ROLE_ORDER = ("admin", "lead", "dpo", "worker")
MAX_CLOCK_SKEW_SECONDS = 300
# The reason of a role decision when the provider gives no roles: Doorstep's own account has it.
ROLES_IN_DOORSTEP = "role set in Doorstep"
# The roles a provider's claims may grant: a partner or landlord account is bound to its
# organisation by an administrator (an account prepared for the provider keeps that binding).
PROVIDER_ROLES = tuple(role for role in ROLES if role not in OUTSIDE_ROLES)


class IdentitySettingsError(ValueError):
    """The single sign-on settings cannot be used; the message names the setting and value."""


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    role_claim: str
    role_map: dict[str, str]
    team_claim: str
    acr: tuple[str, ...]
    clock_skew_seconds: int

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)


def parse_role_map(raw: str, name: str = "FIELDAPP_OIDC_ROLE_MAP") -> dict[str, str]:
    """A role map setting: a JSON object from claim values (or SAML privileges) to roles."""
    try:
        mapping = json.loads(raw or "{}")
    except json.JSONDecodeError as error:
        raise IdentitySettingsError(
            f"{name} is not JSON ({error.msg} at character {error.pos})"
        ) from None
    if not isinstance(mapping, dict):
        raise IdentitySettingsError(f"{name} must be a JSON object")
    for value, role in mapping.items():
        if role not in PROVIDER_ROLES:
            raise IdentitySettingsError(
                f"{name} maps {value!r} to {role!r}; roles are " + ", ".join(PROVIDER_ROLES)
            )
    return {str(value): role for value, role in mapping.items()}


def _whole(config: dict, key: str, default: int) -> int:
    try:
        return int(config.get(key, default))
    except (TypeError, ValueError):
        raise IdentitySettingsError(
            f"FIELDAPP_{key} must be a whole number, not {config.get(key)!r}"
        ) from None


def oidc_settings(config: dict) -> OidcSettings:
    """The settings from the app's configuration, checked; raises IdentitySettingsError."""
    issuer = str(config.get("OIDC_ISSUER", "")).strip().rstrip("/")
    mode = config.get("LOCAL_LOGIN", "on")
    if mode not in LOCAL_LOGIN_MODES:
        raise IdentitySettingsError(
            f"FIELDAPP_LOCAL_LOGIN is {mode!r}; use one of " + ", ".join(LOCAL_LOGIN_MODES)
        )
    skew = _whole(config, "OIDC_CLOCK_SKEW_SECONDS", 60)
    if not 0 <= skew <= MAX_CLOCK_SKEW_SECONDS:
        raise IdentitySettingsError(
            f"FIELDAPP_OIDC_CLOCK_SKEW_SECONDS is {skew}; it must be 0 to {MAX_CLOCK_SKEW_SECONDS}"
        )
    settings = OidcSettings(
        issuer=issuer,
        client_id=str(config.get("OIDC_CLIENT_ID", "")),
        client_secret=str(config.get("OIDC_CLIENT_SECRET", "")),
        scopes=str(config.get("OIDC_SCOPES", "openid email profile")),
        role_claim=str(config.get("OIDC_ROLE_CLAIM", "roles")),
        role_map=parse_role_map(str(config.get("OIDC_ROLE_MAP", ""))),
        team_claim=str(config.get("OIDC_TEAM_CLAIM", "")),
        acr=tuple(v.strip() for v in str(config.get("OIDC_ACR", "")).split(",") if v.strip()),
        clock_skew_seconds=skew,
    )
    if settings.enabled:
        if not settings.client_id:
            raise IdentitySettingsError(
                "FIELDAPP_OIDC_ISSUER is set but FIELDAPP_OIDC_CLIENT_ID is not"
            )
        if "openid" not in settings.scopes.split():
            raise IdentitySettingsError("FIELDAPP_OIDC_SCOPES must include openid")
        if settings.role_claim and not settings.role_map:
            raise IdentitySettingsError(
                "FIELDAPP_OIDC_ISSUER is set but FIELDAPP_OIDC_ROLE_MAP is empty: nobody "
                "could get a role (leave FIELDAPP_OIDC_ROLE_CLAIM empty to set roles in Doorstep)"
            )
    if mode == "off" and not settings.enabled and not saml_configured(config):
        raise IdentitySettingsError(
            "FIELDAPP_LOCAL_LOGIN is off but no identity provider is set: nobody could log in"
        )
    return settings


@dataclass(frozen=True)
class RoleDecision:
    """What the claims give: a role (None: no role) and why, for the audit line."""

    role: str | None
    reason: str
    values: tuple[str, ...] = ()


def role_from_claims(claims: dict, settings: OidcSettings) -> RoleDecision:
    """The role the claims map to. Entra ID leaves the groups out beyond 200 groups (the
    'overage': the claim is named in _claim_names instead); that is said, not guessed. With
    no role claim configured the provider only says who the person is (Ansattporten) and the
    role is the one the administrator gave the account in Doorstep."""
    if not settings.role_claim:
        return RoleDecision(None, ROLES_IN_DOORSTEP)
    if settings.role_claim not in claims and settings.role_claim in (
        claims.get("_claim_names") or {}
    ):
        return RoleDecision(None, "overage")
    raw = claims.get(settings.role_claim)
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    values = [str(v) for v in values][:500]
    roles = {settings.role_map[v] for v in values if v in settings.role_map}
    for role in ROLE_ORDER:
        if role in roles:
            return RoleDecision(
                role, "mapped", tuple(sorted(v for v in values if v in settings.role_map))
            )
    return RoleDecision(None, "unmapped")


def team_from_claims(claims: dict, settings: OidcSettings) -> str | None:
    """The team's name the claims give, or None when no team claim is configured or sent."""
    if not settings.team_claim:
        return None
    raw = claims.get(settings.team_claim)
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    return str(raw).strip()[:100] if raw not in (None, "") else None


# --- SAML 2.0 (KOMBIT's Context Handler) ---------------------------------------------------------
SIGNATURE_METHODS = {
    "sha256-rsa-MGF1": "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
    "rsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
}
NSIS_LEVELS = ("Low", "Substantial", "High")


@dataclass(frozen=True)
class SamlSettings:
    idp_metadata_url: str
    idp_metadata_file: str
    idp_entity_id: str
    sp_entity_id: str
    key_file: str
    cert_file: str
    signing_algorithm: str  # a URI
    accepted_algorithms: tuple[str, ...]  # URIs
    want_encrypted: bool
    nsis_level: str
    cvr: str
    role_map: dict[str, str]
    privilege_attribute: str
    clock_skew_seconds: int

    @property
    def enabled(self) -> bool:
        return bool(self.idp_metadata_url or self.idp_metadata_file)


def saml_configured(config: dict) -> bool:
    return bool(config.get("SAML_IDP_METADATA_URL") or config.get("SAML_IDP_METADATA_FILE"))


def _signature_method(name: str, setting: str) -> str:
    name = name.strip()
    if name in SIGNATURE_METHODS:
        return SIGNATURE_METHODS[name]
    if name in SIGNATURE_METHODS.values():
        return name
    raise IdentitySettingsError(f"{setting} has {name!r}; use " + " or ".join(SIGNATURE_METHODS))


def _readable(path: str, setting: str) -> None:
    try:
        with open(path, "rb") as handle:
            if b"-----BEGIN" not in handle.read(1 << 16):
                raise IdentitySettingsError(f"{setting} ({path}) is not a PEM file")
    except OSError as error:
        raise IdentitySettingsError(
            f"{setting} ({path}) cannot be read: {error.strerror}"
        ) from None


def saml_settings(config: dict) -> SamlSettings:
    """The SAML settings from the app's configuration, checked; raises IdentitySettingsError
    naming the setting and the value it cannot use."""
    skew = _whole(config, "SAML_CLOCK_SKEW_SECONDS", 60)
    if not 0 <= skew <= MAX_CLOCK_SKEW_SECONDS:
        raise IdentitySettingsError(
            f"FIELDAPP_SAML_CLOCK_SKEW_SECONDS is {skew}; it must be 0 to {MAX_CLOCK_SKEW_SECONDS}"
        )
    accepted = tuple(
        _signature_method(name, "FIELDAPP_SAML_ACCEPTED_ALGORITHMS")
        for name in str(config.get("SAML_ACCEPTED_ALGORITHMS", "")).split(",")
        if name.strip()
    )
    settings = SamlSettings(
        idp_metadata_url=str(config.get("SAML_IDP_METADATA_URL", "")).strip(),
        idp_metadata_file=str(config.get("SAML_IDP_METADATA_FILE", "")).strip(),
        idp_entity_id=str(config.get("SAML_IDP_ENTITY_ID", "")).strip(),
        sp_entity_id=str(config.get("SAML_SP_ENTITY_ID", "")).strip(),
        key_file=str(config.get("SAML_KEY_FILE", "")).strip(),
        cert_file=str(config.get("SAML_CERT_FILE", "")).strip(),
        signing_algorithm=_signature_method(
            str(config.get("SAML_SIGNING_ALGORITHM", "sha256-rsa-MGF1")),
            "FIELDAPP_SAML_SIGNING_ALGORITHM",
        ),
        accepted_algorithms=accepted,
        want_encrypted=bool(config.get("SAML_WANT_ENCRYPTED", True)),
        nsis_level=str(config.get("SAML_NSIS_LEVEL", "Substantial")).strip(),
        cvr=str(config.get("SAML_CVR", "")).strip(),
        role_map=parse_role_map(str(config.get("SAML_ROLE_MAP", "")), "FIELDAPP_SAML_ROLE_MAP"),
        privilege_attribute=str(config.get("SAML_PRIVILEGE_ATTRIBUTE", "")).strip(),
        clock_skew_seconds=skew,
    )
    if not settings.enabled:
        return settings
    if settings.idp_metadata_url and settings.idp_metadata_file:
        raise IdentitySettingsError(
            "set FIELDAPP_SAML_IDP_METADATA_URL or FIELDAPP_SAML_IDP_METADATA_FILE, not both"
        )
    if settings.idp_metadata_file:
        try:
            with open(settings.idp_metadata_file, "rb"):
                pass
        except OSError as error:
            raise IdentitySettingsError(
                f"FIELDAPP_SAML_IDP_METADATA_FILE ({settings.idp_metadata_file}) cannot be "
                f"read: {error.strerror}"
            ) from None
    for value, setting in (
        (settings.key_file, "FIELDAPP_SAML_KEY_FILE"),
        (settings.cert_file, "FIELDAPP_SAML_CERT_FILE"),
    ):
        if not value:
            raise IdentitySettingsError(f"SAML is set up but {setting} is not")
        _readable(value, setting)
    if not accepted:
        raise IdentitySettingsError("FIELDAPP_SAML_ACCEPTED_ALGORITHMS is empty")
    if settings.nsis_level not in NSIS_LEVELS:
        raise IdentitySettingsError(
            f"FIELDAPP_SAML_NSIS_LEVEL is {settings.nsis_level!r}; use one of "
            + ", ".join(NSIS_LEVELS)
        )
    if not (len(settings.cvr) == 8 and settings.cvr.isdigit()):
        raise IdentitySettingsError(
            f"FIELDAPP_SAML_CVR is {settings.cvr!r}; it must be the organisation's 8-digit CVR"
        )
    if not settings.role_map:
        raise IdentitySettingsError(
            "SAML is set up but FIELDAPP_SAML_ROLE_MAP is empty: nobody could get a role"
        )
    if not settings.privilege_attribute:
        raise IdentitySettingsError("FIELDAPP_SAML_PRIVILEGE_ATTRIBUTE is empty")
    return settings


def role_from_privileges(
    groups: list[tuple[str, list[str]]], settings: SamlSettings
) -> RoleDecision:
    """The role the Basic Privilege Profile gives for the organisation's own CVR: privileges
    another organisation granted (a person who works for two municipalities) do not count."""
    values = sorted({p for cvr, privileges in groups if cvr == settings.cvr for p in privileges})
    mapped = tuple(v for v in values if v in settings.role_map)
    roles = {settings.role_map[v] for v in mapped}
    for role in ROLE_ORDER:
        if role in roles:
            return RoleDecision(role, "mapped", mapped)
    other = any(cvr != settings.cvr for cvr, _ in groups)
    return RoleDecision(None, "other organisation" if other and not values else "unmapped")


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the identity provider says the person is, whatever the protocol: the account key
    (issuer and subject), the e-mail and name, the role decision and the team's name."""

    issuer: str
    subject: str
    email: str
    name: str
    decision: RoleDecision
    team: str | None = None
    # The provider is set up to name the team: a login without one is refused, not guessed.
    team_expected: bool = False
    # The organisation whose own provider this is (None: the installation's): a team it
    # names is looked for in that organisation only.
    organisation_id: int | None = None


def identity_from_claims(claims: dict, settings: OidcSettings) -> ProviderIdentity:
    return ProviderIdentity(
        issuer=settings.issuer,
        subject=str(claims.get("sub") or ""),
        email=str(claims.get("email") or claims.get("preferred_username") or ""),
        name=str(claims.get("name") or ""),
        decision=role_from_claims(claims, settings),
        team=team_from_claims(claims, settings),
        team_expected=bool(settings.team_claim),
    )


# --- per organisation ----------------------------------------------------------------------------
# The settings an organisation may hold of its own (the FIELDAPP_ names without the prefix).
# LOCAL_LOGIN stays the installation's: it decides the one login form.
OIDC_KEYS = (
    "OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_SCOPES", "OIDC_ROLE_CLAIM",
    "OIDC_ROLE_MAP", "OIDC_TEAM_CLAIM", "OIDC_ACR", "OIDC_CLOCK_SKEW_SECONDS",
)  # fmt: skip
SAML_KEYS = (
    "SAML_IDP_METADATA_URL", "SAML_IDP_METADATA_FILE", "SAML_IDP_ENTITY_ID",
    "SAML_SP_ENTITY_ID", "SAML_KEY_FILE", "SAML_CERT_FILE", "SAML_SIGNING_ALGORITHM",
    "SAML_ACCEPTED_ALGORITHMS", "SAML_WANT_ENCRYPTED", "SAML_NSIS_LEVEL", "SAML_CVR",
    "SAML_ROLE_MAP", "SAML_PRIVILEGE_ATTRIBUTE", "SAML_CLOCK_SKEW_SECONDS",
)  # fmt: skip
IDENTITY_KEYS = OIDC_KEYS + SAML_KEYS
INSTALLATION_ROLES = ("admin", "dpo")
SECRET_KEYS = frozenset({"OIDC_CLIENT_SECRET"})


def identity_defaults() -> dict:
    """The embedded defaults of the identity settings (config.Config), before any
    environment: what an organisation's own settings start from."""
    from ..config import Config

    return {key: getattr(Config, key) for key in IDENTITY_KEYS}


def stored_identity_settings(raw: str) -> dict:
    """An organisation's stored settings (the JSON column), {} when it has none."""
    if not raw:
        return {}
    try:
        stored = json.loads(raw)
    except json.JSONDecodeError:
        raise IdentitySettingsError(
            "the organisation's stored identity settings are not JSON"
        ) from None
    if not isinstance(stored, dict):
        raise IdentitySettingsError("the organisation's stored identity settings are not an object")
    return {key: value for key, value in stored.items() if key in IDENTITY_KEYS}


def organisation_identity_config(defaults: dict, installation: dict, stored: dict) -> dict:
    """The configuration an organisation's logins are read from: its own settings over the
    embedded defaults, or, when it has none, the installation's (the environment)."""
    if not stored:
        return installation
    merged = {key: defaults.get(key) for key in IDENTITY_KEYS}
    merged.update(stored)
    merged["LOCAL_LOGIN"] = installation.get("LOCAL_LOGIN", "on")
    return merged


def parse_identity_assignments(pairs: list[str], current: dict, defaults: dict) -> dict:
    """KEY=VALUE lines (FIELDAPP_ prefix optional; an empty value removes the key) applied to
    an organisation's stored settings, then checked as a whole; returns the new settings or
    raises IdentitySettingsError naming the line or setting."""
    updated = dict(current)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().removeprefix("FIELDAPP_")
        if not sep or key not in IDENTITY_KEYS:
            raise IdentitySettingsError(
                f"{pair.split('=', 1)[0]!r} is not an identity provider setting; use one of "
                + ", ".join(f"FIELDAPP_{k}" for k in IDENTITY_KEYS)
            )
        if value == "":
            updated.pop(key, None)
        else:
            default = defaults.get(key)
            if isinstance(default, bool):
                updated[key] = value.strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                try:
                    updated[key] = int(value)
                except ValueError:
                    raise IdentitySettingsError(
                        f"FIELDAPP_{key} must be a whole number, not {value!r}"
                    ) from None
            else:
                updated[key] = value
    config = organisation_identity_config(defaults, {"LOCAL_LOGIN": "on"}, updated)
    if updated:
        oidc = oidc_settings(config)
        saml = saml_settings(config)
        # An administrator or a DPO acts for the whole installation: one organisation's
        # provider may not make them.
        for setting, role_map in (
            ("OIDC_ROLE_MAP", oidc.role_map),
            ("SAML_ROLE_MAP", saml.role_map),
        ):
            wide = sorted({role for role in role_map.values() if role in INSTALLATION_ROLES})
            if wide:
                raise IdentitySettingsError(
                    f"FIELDAPP_{setting} of one organisation may not give "
                    + " or ".join(wide)
                    + ": those roles act for the whole installation"
                )
    return updated
