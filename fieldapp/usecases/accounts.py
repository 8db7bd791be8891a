"""Accounts: an administrator invites a person (who chooses their own password), the person
accepts, and the command line's operator creates one directly (the first administrator).

An administrator must not obtain case access silently: they never choose or learn a password,
every grant of case access (a worker's or lead's account) is an audit line of its own, and the
data protection officer sees each grant beside its acceptance (when, from which address and
browser; flagged when accepted from the granting administrator's own address)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..domain.wording import N_, Wording
from ..models import Invitation, Landlord, Partner, Team, User
from ..models.types import utcnow
from ..services.accounts import (
    AccountError,
    create_user,
    hash_password,
    normalise_email,
)
from ..services.audit import record_event
from . import Actor, Refused, UnitOfWork

INVITATION_VALID = timedelta(hours=72)
CASE_ROLES = ("worker", "lead")  # roles that read tenants' cases
# Roles that read some cases, within what the tenant's consent allows (services.access).
CONSENTED_ROLES = ("partner", "landlord")
# A stored hash no password matches: the account cannot log in before it is accepted.
NOT_YET = "!invited"
# An account the administrator prepared for the organisation's login: the first login through
# the identity provider with its e-mail address takes it (and sets the provider's own key).
PENDING_PROVIDER = "*"
# Unambiguous letters and digits (no 0/O, 1/I/L), 20 of them: about 100 bits.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class NewPerson:
    email: str
    role: str
    team_name: str | None = None
    name: str = ""
    partner_name: str | None = None  # role partner: the partner organisation, by name
    landlord_name: str | None = None  # role landlord: the landlord, by name


@dataclass(frozen=True)
class IssuedInvitation:
    user: User
    code: str  # shown once to the administrator, never stored
    expires_at: datetime


def _code_hash(code: str) -> str:
    plain = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(plain.encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(20))
    return "-".join(raw[i : i + 4] for i in range(0, 20, 4))


def _grant_line(uow: UnitOfWork, actor: Actor, user: User, how: str) -> None:
    record_event(uow.session, actor.user, "create", "user", user.id, actor.address, how)
    if user.role in CASE_ROLES:
        team = user.team.name if user.team is not None else "no team"
        record_event(
            uow.session, actor.user, "grant", "user", user.id, actor.address,
            f"case access: {user.role}, {team} ({how})",
        )  # fmt: skip
    elif user.role in CONSENTED_ROLES:
        team = user.team.name if user.team is not None else "no team"
        bound = f"partner {user.partner_id}" if user.partner_id else f"landlord {user.landlord_id}"
        record_event(
            uow.session, actor.user, "grant", "user", user.id, actor.address,
            f"consented case access: {user.role} ({bound}), {team} ({how})",
        )  # fmt: skip


# The organisation a partner or landlord account is bound to, as the admin page's two
# choices name them (both are on the page; only the one of the chosen role may be set):
# (role, model, missing, set for another role, unknown name).
_BINDINGS = (
    (
        "partner",
        Partner,
        N_("Partner: choose the partner this person works for."),
        N_("Partner: %(value)s is chosen, but only a partner's account belongs to a partner."),
        N_("Partner: there is no partner named %(value)s."),
    ),
    (
        "landlord",
        Landlord,
        N_("Landlord: choose the landlord this person works for."),
        N_("Landlord: %(value)s is chosen, but only a landlord's account belongs to a landlord."),
        N_("Landlord: there is no landlord named %(value)s."),
    ),
)
CHOOSE_TEAM = N_("Team: choose the team this person works with.")


def check_binding(uow: UnitOfWork, person: NewPerson) -> None:
    """Refused, naming the field and its value: a partner account without its partner (or
    with a landlord), a landlord account without its landlord (or with a partner), any other
    role with either, a name that is not there, and a partner or landlord without a team when
    the organisation has more than one."""
    chosen = {"partner": (person.partner_name or "").strip(),
              "landlord": (person.landlord_name or "").strip()}  # fmt: skip
    for role, model, missing, other_role, unknown in _BINDINGS:
        value = chosen[role]
        if person.role == role and not value:
            raise Refused(Wording(missing))
        if person.role != role and value:
            raise Refused(Wording(other_role, value=value))
        if value and uow.session.scalar(select(model.id).where(model.name == value)) is None:
            raise Refused(Wording(unknown, value=value))
    if person.role in CONSENTED_ROLES and not person.team_name:
        if uow.session.scalar(select(func.count()).select_from(Team)) > 1:
            raise Refused(Wording(CHOOSE_TEAM))


def _account_without_password(uow: UnitOfWork, actor: Actor, person: NewPerson) -> User:
    if actor.role not in ("admin", "operator"):
        raise Refused("Only an administrator adds people.")
    check_binding(uow, person)
    try:
        return create_user(
            uow.session, person.email, "", person.role, person.team_name, person.name,
            password_hash=NOT_YET, partner_name=person.partner_name,
            landlord_name=person.landlord_name,
        )  # fmt: skip
    except AccountError as error:
        raise Refused(str(error)) from None


def invite_person(
    uow: UnitOfWork, actor: Actor, person: NewPerson, now: datetime | None = None
) -> IssuedInvitation:
    """An administrator adds an account without a password and gets a one-time code for the
    person, valid 72 hours; the person enters it at /invitation with a password of their
    own. Refused: not an administrator, a bad field (named), an address already in use."""
    now = now or utcnow()
    user = _account_without_password(uow, actor, person)
    code = _new_code()
    expires = now + INVITATION_VALID
    uow.session.add(
        Invitation(
            user_id=user.id,
            token_hash=_code_hash(code),
            created_by_id=actor.user.id if actor.user is not None else None,
            created_address=actor.address[:64],
            created_at=now,
            expires_at=expires,
        )
    )
    _grant_line(uow, actor, user, "invitation")
    uow.session.flush()
    return IssuedInvitation(user, code, expires)


def add_provider_person(uow: UnitOfWork, actor: Actor, person: NewPerson) -> User:
    """An administrator adds a person who will log in through the organisation's identity
    provider: no password and no invitation code; the role and team are set here (for a
    provider that sends no team) and follow the provider's answer from the first login."""
    user = _account_without_password(uow, actor, person)
    user.idp_issuer = PENDING_PROVIDER
    _grant_line(uow, actor, user, "organisation login")
    uow.session.flush()
    return user


def move_to_provider_login(uow: UnitOfWork, actor: Actor, user_id: int) -> User:
    """A person with a password moves to the organisation's login: the password stops
    working at once (every session ends), and their next login through the identity provider
    with the same e-mail address takes this account, with its history. Refused for one's own
    account (an administrator keeps a way in) and for an account already on the provider."""
    from ..services.accounts import end_user_sessions

    _admin(actor)
    user = _person(uow, user_id)
    if user.id == actor.user.id:
        raise Refused("You cannot move your own account; another administrator can.")
    if user.idp_issuer is not None:
        raise Refused("This person already logs in through the organisation.")
    user.idp_issuer = PENDING_PROVIDER
    user.password_hash = NOT_YET
    user.totp_secret = None
    ended = end_user_sessions(uow.session, user, "admin")
    uow.session.query(Invitation).filter(Invitation.user_id == user.id).delete()
    record_event(
        uow.session, actor.user, "update", "user", user.id, actor.address,
        f"moved to the organisation's login, password removed, ended {ended} sessions",
    )  # fmt: skip
    return user


def accept_invitation(
    uow: UnitOfWork,
    email: str,
    code: str,
    password: str,
    *,
    address: str = "",
    agent: str = "",
    now: datetime | None = None,
) -> User:
    """The invited person sets their password with the code. One answer for every wrong
    combination, so the page tells nobody which addresses have invitations."""
    now = now or utcnow()
    wrong = Refused("This code does not open an invitation for that e-mail address (or it has "
                    "expired or been used). Ask your administrator for a new one.")  # fmt: skip
    invitation = uow.session.scalar(
        select(Invitation).where(Invitation.token_hash == _code_hash(code))
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.expires_at <= now
        or invitation.user.email != normalise_email(email)
        or invitation.user.password_hash != NOT_YET
        or not invitation.user.active
    ):
        raise wrong
    if len(password) < 12:
        raise Refused("The password must be at least 12 characters long (a phrase is easier).")
    user = invitation.user
    user.password_hash = hash_password(password)
    invitation.accepted_at = now
    invitation.accepted_address = address[:64]
    invitation.accepted_agent = agent[:300]
    record_event(uow.session, user, "accept", "invitation", invitation.id, address)
    return user


def create_person_with_password(
    uow: UnitOfWork, actor: Actor, person: NewPerson, password: str, demo_password: str
) -> User:
    """The command line's operator (who runs the server) creates an account with the password
    typed at the prompt: the first administrator, an emergency account. Audited."""
    if actor.role != "operator":
        raise Refused("Accounts with a password are made at the command line only.")
    try:
        user = create_user(
            uow.session, person.email, password, person.role, person.team_name, person.name,
            demo_password=demo_password, partner_name=person.partner_name,
            landlord_name=person.landlord_name,
        )  # fmt: skip
    except AccountError as error:
        raise Refused(str(error)) from None
    _grant_line(uow, actor, user, "command line")
    return user


@dataclass(frozen=True)
class Grant:
    """One grant of case access, as the data protection officer sees it."""

    at: datetime
    user: User
    granted_by: str
    granted_from: str
    how: str
    accepted_at: datetime | None
    accepted_from: str
    same_address: bool


def access_grants(uow: UnitOfWork, actor: Actor, limit: int = 200) -> list[Grant]:
    """The latest grants of case access with their acceptance; for the DPO only."""
    from ..models import AuditEvent

    if actor.role != "dpo":
        raise Refused("Only the data protection officer reads the grants of case access.")
    events = uow.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "grant", AuditEvent.object_type == "user")
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ).all()
    # Three queries in all, whatever the number of grants: the people, then their newest
    # invitations (an account has one, unless it was invited again).
    ids = {int(e.object_id) for e in events} | {e.user_id for e in events if e.user_id}
    people = {u.id: u for u in uow.session.scalars(select(User).where(User.id.in_(ids)))}
    invitations: dict[int, Invitation] = {}
    for invitation in uow.session.scalars(
        select(Invitation).where(Invitation.user_id.in_(ids)).order_by(Invitation.id)
    ):
        invitations[invitation.user_id] = invitation
    grants = []
    for event in events:
        user = people.get(int(event.object_id))
        if user is None:
            continue
        by = people.get(event.user_id) if event.user_id else None
        invitation = invitations.get(user.id)
        accepted_at = invitation.accepted_at if invitation else None
        accepted_from = invitation.accepted_address if invitation else ""
        grants.append(
            Grant(
                at=event.at,
                user=user,
                granted_by=by.email if by else event.address,
                granted_from=event.address,
                how=event.detail,
                accepted_at=accepted_at,
                accepted_from=accepted_from,
                same_address=bool(accepted_from) and accepted_from == event.address,
            )
        )
    return grants


def _admin(actor: Actor) -> None:
    if actor.role != "admin" or actor.user is None:
        raise Refused("Only an administrator manages accounts.")


def _person(uow: UnitOfWork, user_id: int) -> User:
    from . import NotFound

    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound("No such person.")
    return user


def set_account_active(uow: UnitOfWork, actor: Actor, user_id: int, active: bool) -> User:
    """Disable (ending every session and removing the push devices at once) or re-enable an
    account; re-enabling a worker's or lead's account is a grant of case access again."""
    from ..services.accounts import end_user_sessions
    from ..services.push import remove_user_subscriptions

    _admin(actor)
    user = _person(uow, user_id)
    if user.id == actor.user.id:
        raise Refused("You cannot disable your own account.")
    user.active = active
    # An administrator's "off" holds even when the identity provider still grants access.
    user.disabled_by = None if active else "admin"
    if not active:
        end_user_sessions(uow.session, user, "disabled")
        remove_user_subscriptions(uow.session, user.id)
    record_event(
        uow.session, actor.user, "update", "user", user.id, actor.address,
        "enabled" if active else "disabled",
    )  # fmt: skip
    if active and user.role in CASE_ROLES:
        team = user.team.name if user.team is not None else "no team"
        record_event(
            uow.session, actor.user, "grant", "user", user.id, actor.address,
            f"case access: {user.role}, {team} (enabled again)",
        )  # fmt: skip
    return user


def log_out_everywhere(uow: UnitOfWork, actor: Actor, user_id: int) -> tuple[User, int]:
    """End every session of a person (a lost phone); (the person, sessions ended)."""
    from ..services.accounts import end_user_sessions

    _admin(actor)
    user = _person(uow, user_id)
    ended = end_user_sessions(uow.session, user, "admin")
    record_event(
        uow.session, actor.user, "update", "user", user.id, actor.address,
        f"ended {ended} sessions",
    )  # fmt: skip
    return user, ended


def reset_second_factor(uow: UnitOfWork, actor: Actor, user_id: int) -> User:
    """A lost authenticator: two-factor login off, and the person logged out everywhere."""
    from ..services.accounts import reset_two_factor

    _admin(actor)
    user = _person(uow, user_id)
    ended = reset_two_factor(uow.session, user)
    record_event(
        uow.session, actor.user, "update", "user", user.id, actor.address,
        f"two-factor login reset, ended {ended} sessions",
    )  # fmt: skip
    return user
