"""Web Push plumbing: the VAPID key, browsers' subscriptions, and one request to a push service.

What to send and when is services.reminders; this module only knows how to reach a device.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import PushDelivery, PushSubscription, User


class PushSetupError(Exception):
    """The VAPID key or subject is missing or unusable; the message says what to set."""


class SubscriptionError(ValueError):
    """A subscription the browser sent is unusable; `field` names the part that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# --- the VAPID key ---------------------------------------------------------------------------


def load_vapid_key(setting: str) -> Vapid02:
    """The VAPID key from a PEM file's path or PEM text; a missing file is created (0600).

    Creating is exclusive, so app servers starting together on one host share one key.
    """
    if setting.lstrip().startswith("-----BEGIN"):
        return _from_pem(setting.encode())
    path = Path(setting)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago: use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    try:
        return _from_pem(path.read_bytes())
    except OSError as error:
        raise PushSetupError(f"Cannot read the VAPID key {path}: {error.strerror}.") from None


def _from_pem(pem: bytes) -> Vapid02:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError:
        raise PushSetupError("FIELDAPP_VAPID_PRIVATE_KEY is not a PEM private key.") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise PushSetupError("The VAPID key must be an EC key on the P-256 curve.")
    return Vapid02(private_key=key)


def public_key_b64(vapid: Vapid02) -> str:
    """The public key as the browser's `applicationServerKey` wants it (base64url, no padding)."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(raw)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_subject(subject: str) -> str:
    """The VAPID `sub` claim: a mailto: or https: contact, required by push services."""
    if not subject:
        raise PushSetupError(
            "Set FIELDAPP_VAPID_SUBJECT to a contact for the push services, "
            "e.g. mailto:it-support@kommune.dk, before sending reminders."
        )
    if not (subject.startswith("mailto:") or subject.startswith("https://")):
        raise PushSetupError(
            f"FIELDAPP_VAPID_SUBJECT must start with mailto: or https:, not {subject!r}."
        )
    return subject


# --- subscriptions ---------------------------------------------------------------------------


def endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def endpoint_allowed(endpoint: str, services: str) -> bool:
    """Whether the endpoint's scheme and host match one of the configured push services."""
    parts = urlsplit(endpoint)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    patterns = [p.strip().lower() for p in services.split(",") if p.strip()]
    return any(fnmatchcase(origin, pattern) for pattern in patterns)


def parse_subscription(data: Any, services: str) -> dict[str, str]:
    """Check `PushSubscription.toJSON()`; returns endpoint, p256dh and auth, or raises."""
    if not isinstance(data, dict):
        raise SubscriptionError("subscription", "send the browser's PushSubscription as JSON")
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 2000:
        raise SubscriptionError("endpoint", "the subscription has no usable endpoint")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise SubscriptionError("endpoint", "the endpoint is not a web address")
    if not endpoint_allowed(endpoint, services):
        raise SubscriptionError(
            "endpoint", f"{parts.scheme}://{parts.netloc} is not a push service this server uses"
        )
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise SubscriptionError("keys", "the subscription has no keys")
    p256dh = _key_bytes(keys, "p256dh")
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise SubscriptionError("keys.p256dh", "not an uncompressed P-256 public key")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise SubscriptionError("keys.p256dh", "not a point on the P-256 curve") from None
    auth = _key_bytes(keys, "auth")
    if len(auth) != 16:
        raise SubscriptionError("keys.auth", "the authentication secret must be 16 bytes")
    return {"endpoint": endpoint, "p256dh": _b64url(p256dh), "auth": _b64url(auth)}


def _key_bytes(keys: dict, name: str) -> bytes:
    value = keys.get(name)
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+=*", value or ""):
        raise SubscriptionError(f"keys.{name}", "missing, or not base64url text")
    try:
        return _b64url_decode(value.rstrip("="))
    except (binascii.Error, ValueError):
        raise SubscriptionError(f"keys.{name}", "not base64url text") from None


def device_label(user_agent: str) -> str:
    """A short name for the device from its User-Agent ("Chrome on Android")."""
    agent = user_agent or ""
    if "iPhone" in agent or "iPad" in agent:
        system = "iPhone" if "iPhone" in agent else "iPad"
    elif "Android" in agent:
        system = "Android"
    elif "Windows" in agent:
        system = "Windows"
    elif "Mac OS X" in agent or "Macintosh" in agent:
        system = "Mac"
    elif "Linux" in agent:
        system = "Linux"
    else:
        system = ""
    for marker, name in (
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ):
        if marker in agent:
            browser = name
            break
    else:
        browser = ""
    return " on ".join(part for part in (browser, system) if part)[:80]


def save_subscription(
    session: Session, user: User, fields: dict[str, str], language: str, device: str
) -> tuple[PushSubscription, bool]:
    """Store the subscription for the user; (subscription, created). A device that was
    someone else's (a shared phone) now belongs to whoever turned reminders on last."""
    digest = endpoint_hash(fields["endpoint"])
    existing = session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint_hash == digest)
    )
    if existing is not None:
        if existing.user_id != user.id:
            _detach_deliveries(session, [existing.id])
            existing.user_id = user.id
        existing.p256dh, existing.auth = fields["p256dh"], fields["auth"]
        existing.language, existing.device = language, device
        return existing, False
    subscription = PushSubscription(
        user_id=user.id,
        endpoint=fields["endpoint"],
        endpoint_hash=digest,
        p256dh=fields["p256dh"],
        auth=fields["auth"],
        language=language,
        device=device,
    )
    session.add(subscription)
    session.flush()
    return subscription, True


def remove_subscriptions(session: Session, subscription_ids: list[int]) -> None:
    """Delete subscriptions; their deliveries stay as the record, the open ones marked gone."""
    if not subscription_ids:
        return
    _detach_deliveries(session, subscription_ids)
    for subscription in session.scalars(
        select(PushSubscription).where(PushSubscription.id.in_(subscription_ids))
    ):
        session.delete(subscription)
    session.flush()


def _detach_deliveries(session: Session, subscription_ids: list[int]) -> None:
    session.execute(
        update(PushDelivery)
        .where(
            PushDelivery.subscription_id.in_(subscription_ids),
            PushDelivery.state.in_(("pending", "retrying")),
        )
        .values(state="gone", claim_token=None, claimed_until=None)
    )
    session.execute(
        update(PushDelivery)
        .where(PushDelivery.subscription_id.in_(subscription_ids))
        .values(subscription_id=None)
    )


def user_subscriptions(session: Session, user_id: int) -> list[PushSubscription]:
    return list(
        session.scalars(
            select(PushSubscription)
            .where(PushSubscription.user_id == user_id)
            .order_by(PushSubscription.created_at)
        )
    )


def remove_user_subscriptions(session: Session, user_id: int) -> None:
    """A disabled account gets nothing more on any of its devices."""
    remove_subscriptions(session, [s.id for s in user_subscriptions(session, user_id)])


# --- one request to a push service -----------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    """What the push service answered: `status` None when no answer came at all."""

    status: int | None
    retry_after: float | None = None
    error: str = ""

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        return self.status in (404, 410)

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


class PushSender:
    """Sends one encrypted message per call with its own VAPID claims and a timeout."""

    def __init__(self, vapid: Vapid02, subject: str, timeout: float) -> None:
        self.vapid = vapid
        self.subject = check_subject(subject)
        self.timeout = timeout
        self.http = requests.Session()

    def send(
        self,
        subscription: PushSubscription,
        payload: bytes,
        *,
        ttl: int,
        urgency: str,
        topic: str,
    ) -> PushResult:
        info = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        try:
            response = webpush(
                info,
                data=payload.decode(),
                vapid_private_key=self.vapid,
                # A new dict every time: pywebpush writes `aud` and `exp` into the one it is
                # given, and a reused dict would carry one push service's audience to the next.
                vapid_claims={"sub": self.subject},
                content_encoding="aes128gcm",
                timeout=self.timeout,
                ttl=ttl,
                headers={"Urgency": urgency, "Topic": topic},
                requests_session=self.http,
            )
        except WebPushException as error:
            response = error.response
            if response is None:
                return PushResult(None, error=str(error)[:200])
            return PushResult(
                response.status_code,
                _retry_after(response.headers.get("Retry-After")),
                f"{response.status_code} {response.reason}"[:200],
            )
        except requests.RequestException as error:
            # Timeouts, refused connections, TLS errors: no answer, try again later.
            return PushResult(None, error=type(error).__name__)
        return PushResult(response.status_code)


def _retry_after(raw: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (dates are taken as absent)."""
    if raw and raw.strip().isdigit():
        return float(raw.strip())
    return None
