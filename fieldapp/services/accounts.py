"""Accounts: users, Argon2 passwords, server-side sessions and failed-login limits."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.organisation import organisation_of
from ..models import (
    ROLES,
    Landlord,
    LoginFailure,
    Organisation,
    Partner,
    Team,
    User,
    UserSession,
)
from ..models.types import utcnow

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def configure_password_hashing(time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Set Argon2id's cost for this process (FIELDAPP_PASSWORD_HASH_*), to tune it to the
    hardware. A hash made with other parameters still verifies and is redone at its login."""
    global _hasher, _DUMMY_HASH
    if (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism) == (
        time_cost, memory_kib, parallelism,
    ):  # fmt: skip
        return
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    _DUMMY_HASH = _hasher.hash("not-a-real-password")


# Touch last_seen at most this often, so reading pages does not write on every request.
_TOUCH_EVERY = timedelta(minutes=1)


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message says why."""


class LockedOut(Exception):
    """Too many failed logins for this account or from this address."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("too many failed logins")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class SessionPolicy:
    """How long a login lasts when idle, and at most."""

    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class LoginLimits:
    """How many failures per account and per address within the window lock logins out."""

    per_account: int
    per_address: int
    window: timedelta


def normalise_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def is_demo_database(session: Session) -> bool:
    """True when the database was seeded by `fieldapp demo`."""
    return bool(session.scalar(select(func.count()).where(Organisation.is_demo.is_(True))))


def create_user(
    session: Session,
    email: str,
    password: str,
    role: str,
    team_name: str | None = None,
    name: str = "",
    demo_password: str = "demo",
    password_hash: str | None = None,
    partner_name: str | None = None,
    landlord_name: str | None = None,
) -> User:
    """Add a user with an Argon2-hashed password (or the given hash: an invited account's
    placeholder that no password matches); the team is created if it is new. A partner is
    bound to an existing partner organisation and a landlord to an existing landlord, each
    with the team they work with (the only team, when there is one)."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(f"Not an e-mail address: {email!r}.")
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise AccountError(f"A user with the e-mail {email} already exists.")
    if password_hash is None and (
        len(password) < 12 and not (password == demo_password and is_demo_database(session))
    ):
        raise AccountError("The password must be at least 12 characters long (a phrase is easier).")
    team = None
    if team_name:
        team = session.scalar(select(Team).where(Team.name == team_name))
        if team is None:
            organisation = organisation_of(session)
            if organisation is None:
                organisation = Organisation(name="Doorstep")
                session.add(organisation)
            team = Team(name=team_name, organisation=organisation)
            session.add(team)
    partner, landlord = _outside_organisation(session, role, partner_name, landlord_name)
    if partner is not None or landlord is not None:
        team = team or _the_only_team(session)
        if team is None:
            raise AccountError("Choose the team this person works with (--team).")
    stored = password_hash if password_hash is not None else _hasher.hash(password)
    user = User(
        email=email, password_hash=stored, role=role, team=team, name=name,
        partner_id=partner.id if partner is not None else None,
        landlord_id=landlord.id if landlord is not None else None,
    )  # fmt: skip
    session.add(user)
    session.flush()
    return user


def _outside_organisation(
    session: Session, role: str, partner_name: str | None, landlord_name: str | None
) -> tuple[Partner | None, Landlord | None]:
    """The partner or landlord a partner or landlord account is bound to, by name; refused
    when the role needs one and it is missing or unknown, or another role names one."""
    if role == "partner" and landlord_name:
        raise AccountError(
            "A partner account names its partner organisation (--partner), not a landlord."
        )
    if role == "landlord" and partner_name:
        raise AccountError("A landlord account names its landlord (--landlord), not a partner.")
    if role == "partner":
        partner = _named(session, Partner, partner_name, "partner organisation", "--partner")
        if partner.kind == "landlord":
            raise AccountError(
                f"{partner.name} is a landlord: its people log in as role landlord "
                "(--role landlord --landlord NAME), which shows them their own tenants only."
            )
        return partner, None
    if role == "landlord":
        return None, _named(session, Landlord, landlord_name, "landlord", "--landlord")
    if partner_name or landlord_name:
        raise AccountError(f"Only a partner or landlord account names one, not a {role}.")
    return None, None


def _named(session: Session, model, name: str | None, what: str, option: str):
    """The partner or landlord of that name; AccountError listing the names there are."""
    if not name:
        raise AccountError(f"A {model.__tablename__} account needs its {what} ({option}).")
    found = session.scalar(select(model).where(model.name == name.strip()))
    if found is None:
        names = ", ".join(session.scalars(select(model.name).order_by(model.name)))
        raise AccountError(f"There is no {what} named {name!r} (known: {names or 'none'}).")
    return found


def _the_only_team(session: Session) -> Team | None:
    teams = session.scalars(select(Team).order_by(Team.id).limit(2)).all()
    return teams[0] if len(teams) == 1 else None


def hash_password(password: str) -> str:
    """The Argon2id hash of a password, at the configured cost."""
    return _hasher.hash(password)


def authenticate(
    session: Session,
    email: str,
    password: str,
    address: str,
    limits: LoginLimits,
    demo_password: str = "demo",
    now: datetime | None = None,
    code: str = "",
    totp_key: str = "",
) -> User | None:
    """Return the user for a right e-mail and password (and code, for an account with
    two-factor login, whose secret is sealed with totp_key); count a failure otherwise.

    Raises LockedOut before checking the password when the account or the address has
    failed too often within the window, so a locked account cannot be guessed at.
    """
    now = now or utcnow()
    email = normalise_email(email)
    since = now - limits.window
    _check_limit(
        session, LoginFailure.email == email, limits.per_account, since, limits.window, now
    )
    _check_limit(
        session, LoginFailure.address == address, limits.per_address, since, limits.window, now
    )
    user = session.scalar(select(User).where(User.email == email))
    ok = _verify(user.password_hash if user else _DUMMY_HASH, password)
    if ok and password == demo_password and not is_demo_database(session):
        ok = False  # the demo password opens nothing outside a demo
    if ok and user is not None and user.totp_enabled_at is not None:
        ok = totp_matches(unseal_totp(user.totp_secret, totp_key), code, now)
    if not ok or user is None or not user.active:
        session.add(LoginFailure(email=email, address=address, at=now))
        session.flush()
        return None
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    if totp_key and user.totp_secret and _BASE32.fullmatch(user.totp_secret):
        user.totp_secret = seal_totp(user.totp_secret, totp_key)  # stored before sealing
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_limit(session, condition, limit, since, window, now) -> None:
    failures = session.scalars(
        select(LoginFailure.at).where(condition, LoginFailure.at >= since).order_by(LoginFailure.at)
    ).all()
    if len(failures) >= limit:
        # Unlocks when the oldest counted failure leaves the window.
        retry = failures[len(failures) - limit] + window - now
        raise LockedOut(max(1, int(retry.total_seconds())))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, user_agent: str = "") -> str:
    """Open a server-side session for a device; return the token for the signed cookie."""
    token = secrets.token_urlsafe(32)
    row = UserSession(token_hash=_token_hash(token), user=user, user_agent=user_agent[:300])
    session.add(row)
    session.flush()
    user.session_token = token
    user.session_id = row.id
    return token


def load_session_user(
    session: Session, token: str, policy: SessionPolicy, now: datetime | None = None
) -> User | None:
    """The user behind a session token, or None when it ended or expired (and end it then)."""
    now = now or utcnow()
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if row is None or row.ended_at is not None:
        return None
    if now - row.last_seen_at > policy.idle:
        _end(row, now, "idle")
        return None
    if now - row.created_at > policy.absolute:
        _end(row, now, "expired")
        return None
    if not row.user.active:
        _end(row, now, "disabled")
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
    row.user.session_token = token
    row.user.session_id = row.id
    return row.user


def keep_provider_session(
    session: Session, session_id: int | None, provider_session: str, organisation_id: int
) -> None:
    """Keep a SAML login's NameID and SessionIndex on its login session row (on the server,
    not in the cookie), with the organisation whose way in it came through."""
    row = session.get(UserSession, session_id) if session_id is not None else None
    if row is not None and provider_session:
        row.provider_session = json.dumps({**json.loads(provider_session), "org": organisation_id})


def end_provider_sessions(
    session: Session,
    issuer: str,
    organisation_id: int,
    name_id: str,
    session_indexes: tuple[str, ...] = (),
) -> list[int]:
    """End the open login sessions that came with this SAML NameID from this provider for
    this organisation's login (and, when the provider names them, these session indexes):
    the provider's single logout. The ids ended."""
    ended = []
    rows = session.scalars(
        select(UserSession).where(
            UserSession.ended_at.is_(None), UserSession.provider_session != ""
        )
    )
    now = utcnow()
    for row in rows:
        kept = json.loads(row.provider_session)
        if not name_id or kept.get("text") != name_id:
            continue
        if kept.get("issuer") != issuer or kept.get("org", 0) != organisation_id:
            continue
        if session_indexes and kept.get("index") not in session_indexes:
            continue
        _end(row, now, "provider")
        ended.append(row.id)
    return ended


def use_once(session: Session, message_ids: tuple[str, ...], keep_until: datetime) -> bool:
    """Mark SAML request/assertion IDs as used; False when one of them already was (a
    replay). Expired marks are swept on the way."""
    from ..models import SamlMessageUsed

    now = utcnow()
    session.query(SamlMessageUsed).filter(SamlMessageUsed.expires_at < now).delete()
    ids = [m[:200] for m in message_ids]
    if session.scalar(
        select(SamlMessageUsed.message_id).where(SamlMessageUsed.message_id.in_(ids))
    ):
        return False
    session.add_all(SamlMessageUsed(message_id=m, expires_at=keep_until) for m in ids)
    try:
        session.flush()  # two app servers at once: the primary key decides
    except IntegrityError:
        session.rollback()
        return False
    return True


def end_session(session: Session, token: str, reason: str = "logout") -> bool:
    """End the session behind a token (logout); True if there was one to end."""
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if row is None or row.ended_at is not None:
        return False
    _end(row, utcnow(), reason)
    return True


def end_user_sessions(session: Session, user: User, reason: str = "admin") -> int:
    """End every open session of a user (disabling an account, a lost phone)."""
    rows = session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    ).all()
    now = utcnow()
    for row in rows:
        _end(row, now, reason)
    return len(rows)


def _end(row: UserSession, now: datetime, reason: str) -> None:
    row.ended_at = now
    row.ended_reason = reason


def new_totp_secret() -> str:
    """A fresh base32 secret for an authenticator app (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, email: str) -> str:
    """The otpauth:// address an authenticator app takes (tapped on the phone, or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Doorstep")


_BASE32 = re.compile(r"[A-Z2-7]+=*")


def _totp_box(key: str) -> Fernet:
    """Authenticated encryption for two-factor secrets, keyed from the app's SECRET_KEY (kept
    outside the database), so a copy of the database alone does not give the codes away."""
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"doorstep totp secret"
    ).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


def seal_totp(secret: str, key: str) -> str:
    """The form a two-factor secret is stored in."""
    return _totp_box(key).encrypt(secret.encode()).decode()


def unseal_totp(stored: str | None, key: str) -> str:
    """The secret back from its stored form; a secret stored before sealing (plain base32) is
    read as it is. "" when it cannot be read (another SECRET_KEY): no code then matches, and an
    administrator resets the person's two-factor login."""
    if not stored:
        return ""
    if _BASE32.fullmatch(stored):
        return stored
    try:
        return _totp_box(key).decrypt(stored.encode()).decode()
    except InvalidToken:
        return ""


def reset_two_factor(session: Session, user: User) -> int:
    """Turn a person's two-factor login off (their phone is lost) and end their sessions; they
    set it up again at their next login where it is required. Returns the sessions ended."""
    user.totp_secret, user.totp_enabled_at = None, None
    return end_user_sessions(session, user, "admin")


def totp_matches(secret: str, code: str, now: datetime | None = None) -> bool:
    """A six-digit code of this 30-second step or the one before or after (clock drift)."""
    code = "".join(code.split())
    if not secret or len(code) != 6 or not code.isdigit():
        return False
    moment = now or utcnow()
    return pyotp.TOTP(secret).verify(code, for_time=moment, valid_window=1)


def totp_required(session: Session, user: User) -> bool:
    """Leads and administrators must use two-factor login when their organisation says so."""
    if user.role not in ("lead", "admin"):
        return False
    return bool(session.scalar(select(Organisation.require_totp).order_by(Organisation.id)))
