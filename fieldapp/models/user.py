"""People who log in, their server-side sessions and failed login attempts."""

from __future__ import annotations

from datetime import datetime, time

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from ..extensions import db
from .organisation import Organisation, Team
from .types import UTCDateTime, utcnow

# dpo: the data protection officer, who reads the audit log and the records of processing.
# partner: a person of one partner organisation (User.partner_id), who sees the cases of
# their team whose tenant's current consent covers that partner's kind; landlord: a person
# of one landlord (User.landlord_id), who sends that landlord's lists to their team and sees
# status flags of the tenants who consented (services.access).
ROLES = ("worker", "lead", "admin", "dpo", "partner", "landlord")
# The roles bound to an outside organisation (a partner or a landlord), not to the team's work.
OUTSIDE_ROLES = ("partner", "landlord")


class User(UserMixin, db.Model):
    """An outreach worker, team lead or administrator."""

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("idp_issuer", "idp_subject", name="uq_user_account_idp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    # Set for role partner (the partner organisation they work for) and role landlord (the
    # landlord they work for); None for everyone else. Their team is the municipality's
    # team they work with: its cases are the only ones they can be shown.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    landlord_id: Mapped[int | None] = mapped_column(ForeignKey("landlord.id"))
    # The country of the person's organisation (DK, NO; None without a team), read in the same
    # query as the person: every page words partners and legal steps by it
    # (web.labels.current_country) without a query of its own.
    organisation_country: Mapped[str | None] = column_property(
        select(Organisation.country)
        .join(Team, Team.organisation_id == Organisation.id)
        .where(Team.id == team_id)
        .scalar_subquery()
    )
    # And its currency, for every amount on the page (web.labels' money filter), the same way.
    organisation_currency: Mapped[str | None] = column_property(
        select(Organisation.currency)
        .join(Team, Team.organisation_id == Organisation.id)
        .where(Team.id == team_id)
        .scalar_subquery()
    )
    # Comma-separated language codes the person speaks (matters for route planning).
    languages: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    # Route planning: how the person gets around (walk, bike, car), their working hours in the
    # organisation's zone, and where their day starts and ends (empty: the office).
    travel_mode: Mapped[str] = mapped_column(String(10), default="bike", server_default="bike")
    work_start: Mapped[time] = mapped_column(Time, default=time(8), server_default="08:00:00")
    work_end: Mapped[time] = mapped_column(Time, default=time(15, 30), server_default="15:30:00")
    start_lat: Mapped[float | None] = mapped_column(Float)
    start_lon: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Two-factor login (RFC 6238 TOTP): the base32 secret, and when it was confirmed.
    # sealed with a key derived from SECRET_KEY (services/accounts.seal_totp), never plain
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The 30-second step (Unix time // 30) of the last code accepted: a code works once, and
    # no older one after it (RFC 6238 section 5.2), so a code seen over a shoulder is spent.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Set for a person who logs in through the identity provider: its issuer and the
    # person's subject there (never the e-mail, which the provider may let people change).
    idp_issuer: Mapped[str | None] = mapped_column(String(300))
    idp_subject: Mapped[str | None] = mapped_column(String(255))
    # Who turned the account off: "admin" or "provider" (the provider grants it again).
    disabled_by: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team | None] = relationship()

    # flask-login: the "id" in the cookie is the server-side session, set in services.accounts.
    session_token = None  # type: str | None
    session_id = None  # type: int | None  (the login session of this request: the device)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def get_id(self) -> str | None:
        return self.session_token


class UserSession(db.Model):
    """A login on one device; ending it (logout, expiry, admin) logs that device out."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the random token kept in the signed cookie; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str] = mapped_column(String(20), default="")
    # A SAML login: the provider's NameID and SessionIndex (JSON), for single logout both ways.
    provider_session: Mapped[str] = mapped_column(Text, default="", server_default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    # The lead's last case-list filters on this device, search text included: here, not in
    # the signed cookie, which anyone holding it can read. Forgotten when the session ends.
    case_filters: Mapped[dict | None] = mapped_column(JSON)

    user: Mapped[User] = relationship()


@event.listens_for(UserSession.ended_at, "set")
def _forget_case_filters(row: UserSession, ended_at, _old, _initiator) -> None:
    # Every way a session ends (logout, idle, expiry, an administrator) sets ended_at.
    if ended_at is not None:
        row.case_filters = None


class Invitation(db.Model):
    """An account an administrator created, waiting for its person to choose a password.

    The administrator never knows the password; the link is shown once, works once, and its
    acceptance (when, from which address and browser) is kept for the data protection officer,
    who sees every grant of case access beside it."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # SHA-256 of the link's random token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_address: Mapped[str] = mapped_column(String(64), default="")
    accepted_agent: Mapped[str] = mapped_column(String(300), default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class LoginFailure(db.Model):
    """One failed login, counted per account and per address to slow down guessing."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SamlMessageUsed(db.Model):
    """A SAML request or assertion ID already used for a login: an answer works once, in
    whatever browser and on whatever app server it turns up. Kept until it could no longer
    be accepted anyway, then deleted."""

    __tablename__ = "saml_message_used"

    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
