"""Logging in through the identity provider: the account follows the provider's claims.

The ID token has been checked by the web layer (signature, issuer, audience, expiry, nonce,
assurance level). Here the claims decide who the person is in Doorstep: an account is made at
the first login (just in time), its role and team follow the claims at every login, a person
with no mapped role gets no account and an account the provider no longer grants is disabled.
Every decision is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..domain.identity import OidcSettings, role_from_claims, team_from_claims
from ..models import Team, User
from ..services.accounts import end_user_sessions, normalise_email
from ..services.audit import record_event
from . import Refused, UnitOfWork
from .accounts import NOT_YET

TEAM_ROLES = ("worker", "lead")


class NoAccess(Refused):
    """The provider vouches for the person, but Doorstep gives them no access; `why` says
    which case it is (no role, too many groups, no team, e-mail taken, disabled)."""

    def __init__(self, why: str, message: str):
        super().__init__(message)
        self.why = why


@dataclass(frozen=True)
class ProviderLogin:
    user: User
    created: bool
    changed: tuple[str, ...]  # "role", "team", "name", "email", "active"


def _audit(uow, user, action, address, detail) -> None:
    record_event(uow.session, user, action, "user", user.id if user else "", address, detail)


def sign_in_from_provider(
    uow: UnitOfWork, settings: OidcSettings, claims: dict, address: str = ""
) -> ProviderLogin:
    subject = str(claims.get("sub") or "")
    if not subject:
        raise NoAccess("no_subject", "The identity provider did not say who you are.")
    account = uow.session.scalar(
        select(User).where(User.idp_issuer == settings.issuer, User.idp_subject == subject)
    )
    decision = role_from_claims(claims, settings)
    detail = f"{decision.reason}: {', '.join(decision.values) or '-'}"
    if decision.role is None:
        if account is not None and account.active:
            # The provider no longer grants Doorstep: the account ends here, at once.
            account.active = False
            account.disabled_by = "provider"
            end_user_sessions(uow.session, account, reason="disabled")
            _audit(uow, account, "sso_disable", address, detail)
            uow.session.commit()
        else:
            _audit(uow, None, "sso_refuse", address, detail)
            uow.session.commit()
        why = "overage" if decision.reason == "overage" else "no_role"
        raise NoAccess(why, "no role")
    if account is not None and not account.active and account.disabled_by != "provider":
        # Disabled by an administrator (not by the provider): stays disabled.
        _audit(uow, account, "sso_refuse", address, "disabled by an administrator")
        uow.session.commit()
        raise NoAccess("disabled", "disabled")
    team_id = _team_for(uow, settings, claims, decision.role, account)
    email = normalise_email(str(claims.get("email") or claims.get("preferred_username") or ""))
    name = str(claims.get("name") or "")[:200]
    created = account is None
    if created:
        if not email:
            raise NoAccess("no_email", "The identity provider did not give an e-mail address.")
        taken = uow.session.scalar(select(User).where(User.email == email))
        if taken is not None:
            # An account with a password (or of another provider) has this address: linking
            # them on the provider's word about an e-mail would hand that account over.
            _audit(uow, taken, "sso_refuse", address, "e-mail already has an account")
            uow.session.commit()
            raise NoAccess("email_taken", "email taken")
        account = User(
            email=email,
            name=name,
            password_hash=NOT_YET,  # no password: this person logs in through the provider
            role=decision.role,
            team_id=team_id,
            idp_issuer=settings.issuer,
            idp_subject=subject,
        )
        uow.session.add(account)
        uow.session.flush()
        _audit(uow, account, "sso_create", address, f"{decision.role}; {detail}")
        return ProviderLogin(account, True, ("role", "team"))
    changed = []
    if account.role != decision.role:
        changed.append("role")
        account.role = decision.role
    if team_id != account.team_id:
        changed.append("team")
        account.team_id = team_id
    if name and account.name != name:
        changed.append("name")
        account.name = name
    if email and account.email != email:
        if uow.session.scalar(select(User.id).where(User.email == email, User.id != account.id)):
            pass  # another account has the new address: keep the old one
        else:
            changed.append("email")
            account.email = email
    if not account.active:
        changed.append("active")
        account.active = True  # disabled by the provider earlier, granted again now
        account.disabled_by = None
    if changed:
        # What changed, never the values (names and addresses are personal).
        _audit(uow, account, "sso_update", address, f"{', '.join(changed)}; {detail}")
    return ProviderLogin(account, False, tuple(changed))


def _team_for(uow, settings, claims, role, account) -> int | None:
    if role not in TEAM_ROLES:
        return None
    name = team_from_claims(claims, settings)
    if name is None:
        if settings.team_claim:
            raise NoAccess("no_team", "no team")
        # No team claim configured: the administrator sets the team in Doorstep.
        if account is not None and account.team_id is not None:
            return account.team_id
        raise NoAccess("no_team", "no team")
    team = uow.session.scalar(select(Team).where(Team.name == name))
    if team is None:
        raise NoAccess("unknown_team", "unknown team")
    return team.id
