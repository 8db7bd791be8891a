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

from ..domain.identity import (
    ROLES_IN_DOORSTEP,
    OidcSettings,
    ProviderIdentity,
    RoleDecision,
    identity_from_claims,
)
from ..models import Organisation, Team, User
from ..services.accounts import end_user_sessions, normalise_email
from ..services.audit import record_event
from . import Refused, UnitOfWork
from .accounts import NOT_YET, PENDING_PROVIDER

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
    """An OpenID Connect login: the ID token's claims, read by the organisation's settings."""
    return sign_in_as(uow, identity_from_claims(claims, settings), address)


def sign_in_as(uow: UnitOfWork, who: ProviderIdentity, address: str = "") -> ProviderLogin:
    """The account for a person the identity provider (OpenID Connect or SAML) vouches for."""
    if not who.subject:
        raise NoAccess("no_subject", "The identity provider did not say who you are.")
    account = uow.session.scalar(
        select(User).where(User.idp_issuer == who.issuer, User.idp_subject == who.subject)
    )
    email = normalise_email(who.email)
    prepared = None
    if account is None and email:
        # An account the administrator prepared for the organisation's login (a new person,
        # or a password account moved over), in an organisation that logs in this way: the
        # first login from the provider takes it, once the provider grants a role.
        prepared = uow.session.scalar(
            select(User).where(
                User.email == email,
                User.idp_issuer == PENDING_PROVIDER,
                User.idp_subject.is_(None),
            )
        )
        if prepared is not None and not _may_take(prepared, who):
            prepared = None
    decision = who.decision
    if decision.reason == ROLES_IN_DOORSTEP and (account or prepared) is not None:
        # The provider says who; the administrator said what (an account prepared for it).
        decision = RoleDecision((account or prepared).role, ROLES_IN_DOORSTEP)
    detail = f"{decision.reason}: {', '.join(decision.values) or '-'}"
    if decision.role is not None and prepared is not None:
        account = prepared
        account.idp_issuer, account.idp_subject = who.issuer, who.subject
        _audit(uow, account, "sso_link", address, "prepared account taken by its person")
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
    team_id = _team_for(uow, who, decision.role, account)
    name = who.name[:200]
    created = account is None
    if created:
        if not email:
            raise NoAccess("no_email", "The identity provider did not give an e-mail address.")
        taken = uow.session.scalar(select(User).where(User.email == email))
        if taken is not None:
            # An account with a password (or of another provider) has this address: linking
            # them on the provider's word about an e-mail would hand that account over. The
            # administrator moves it to the organisation's login instead (audited).
            _audit(uow, taken, "sso_refuse", address, "e-mail already has an account")
            uow.session.commit()
            raise NoAccess("email_taken", "email taken")
        account = User(
            email=email,
            name=name,
            password_hash=NOT_YET,  # no password: this person logs in through the provider
            role=decision.role,
            team_id=team_id,
            idp_issuer=who.issuer,
            idp_subject=who.subject,
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


def _may_take(account: User, who: ProviderIdentity) -> bool:
    """A prepared account belongs to its team's organisation: only that organisation's own
    provider takes it, or the installation's when the organisation has none of its own. An
    account without a team (an administrator, a DPO) only through the installation's."""
    organisation = account.team.organisation if account.team is not None else None
    if who.organisation_id is not None:
        return organisation is not None and organisation.id == who.organisation_id
    return organisation is None or not organisation.identity_settings


def _team_for(uow, who: ProviderIdentity, role, account) -> int | None:
    if role not in TEAM_ROLES:
        return None
    name = who.team
    if name is None:
        if who.team_expected:
            raise NoAccess("no_team", "no team")
        # No team claim configured: the administrator sets the team in Doorstep.
        if account is not None and account.team_id is not None:
            return account.team_id
        raise NoAccess("no_team", "no team")
    query = select(Team).where(Team.name == name)
    if who.organisation_id is not None:
        query = query.where(Team.organisation_id == who.organisation_id)
    else:  # the installation's provider: the organisations without one of their own
        query = query.join(Organisation, Organisation.id == Team.organisation_id).where(
            Organisation.identity_settings == ""
        )
    team = uow.session.scalar(query)
    if team is None:
        raise NoAccess("unknown_team", "unknown team")
    return team.id
