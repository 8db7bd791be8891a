"""Two-factor codes spent once: a code (and any older one) opens nothing after it was accepted.

Checking a code against the secret is services.accounts.totp_matches; this module tells which
30-second step a code belongs to and spends that step for the person, atomically, so two
requests racing with the same code cannot both win.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
from sqlalchemy import or_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..models import LoginFailure, User
from ..models.types import utcnow
from .accounts import normalise_email


def totp_step(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step whose six-digit code this is: this step, or one before or after (clock
    drift, as totp_matches allows); None when it is none of them."""
    code = "".join(code.split())
    if not secret or len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    moment = now or utcnow()
    current = totp.timecode(moment)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def spend_totp_step(session: Session, user: User, step: int | None) -> bool:
    """Mark the step used for this person; False when there is none, or when it or a later one
    was used already (the code was replayed)."""
    if step is None:
        return False
    spent = session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        return False
    set_committed_value(user, "totp_last_step", step)  # written already, by the UPDATE above
    return True


def count_replayed_code(session: Session, email: str, address: str, now: datetime) -> None:
    """A replayed code counts as a failed login, for the same lock-out as a wrong password."""
    session.add(LoginFailure(email=normalise_email(email), address=address, at=now))
    session.flush()
