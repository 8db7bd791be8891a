"""Who a person is in Doorstep, from what the identity provider says: the role and team from
the claims, by the organisation's role map. Plain rules, no database and no web."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..models import ROLES

LOCAL_LOGIN_MODES = ("on", "admins-only", "off")
# When the claims map to several roles, the person gets the one that carries most duty:
# an administrator who also leads a team administers; a lead who is also a worker leads.
ROLE_ORDER = ("admin", "lead", "dpo", "worker")
MAX_CLOCK_SKEW_SECONDS = 300


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


def parse_role_map(raw: str) -> dict[str, str]:
    """FIELDAPP_OIDC_ROLE_MAP: a JSON object from claim values to Doorstep roles."""
    try:
        mapping = json.loads(raw or "{}")
    except json.JSONDecodeError as error:
        raise IdentitySettingsError(
            f"FIELDAPP_OIDC_ROLE_MAP is not JSON ({error.msg} at character {error.pos})"
        ) from None
    if not isinstance(mapping, dict):
        raise IdentitySettingsError("FIELDAPP_OIDC_ROLE_MAP must be a JSON object")
    for value, role in mapping.items():
        if role not in ROLES:
            raise IdentitySettingsError(
                f"FIELDAPP_OIDC_ROLE_MAP maps {value!r} to {role!r}; roles are " + ", ".join(ROLES)
            )
    return {str(value): role for value, role in mapping.items()}


def oidc_settings(config: dict) -> OidcSettings:
    """The settings from the app's configuration, checked; raises IdentitySettingsError."""
    issuer = str(config.get("OIDC_ISSUER", "")).strip().rstrip("/")
    mode = config.get("LOCAL_LOGIN", "on")
    if mode not in LOCAL_LOGIN_MODES:
        raise IdentitySettingsError(
            f"FIELDAPP_LOCAL_LOGIN is {mode!r}; use one of " + ", ".join(LOCAL_LOGIN_MODES)
        )
    skew = int(config.get("OIDC_CLOCK_SKEW_SECONDS", 60))
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
        if not settings.role_map:
            raise IdentitySettingsError(
                "FIELDAPP_OIDC_ISSUER is set but FIELDAPP_OIDC_ROLE_MAP is empty: nobody "
                "could get a role"
            )
    if mode == "off" and not settings.enabled:
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
    'overage': the claim is named in _claim_names instead); that is said, not guessed."""
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
