"""Web Push plumbing: the VAPID key, browsers' subscriptions, and one request to a push service.

What to send and when is services.reminders; this module only knows how to reach a device.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
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
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from ..domain.numbers import whole_number
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


# What RFC 3986 allows in a URI; a backslash, a space or a control character is refused,
# since HTTP clients and URL parsers disagree about them (WHATWG turns "\" into "/").
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_INTERNAL_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home", ".localdomain")


def endpoint_origin(endpoint: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) as the HTTP client will connect, or None when the URL is not
    plain: odd characters, a user name or password, or parsers disagreeing on the host."""
    if not _URI_CHARS.fullmatch(endpoint or ""):
        return None
    try:
        parts = urlsplit(endpoint)
        port = parts.port
        client = parse_url(endpoint)  # urllib3's parser, the one requests connects with
    except (ValueError, LocationParseError):
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname.lower()
    if (client.host or "").lower().strip("[]") != host or client.port != port:
        return None
    return parts.scheme, host, port


def _internal(host: str) -> bool:
    """An address literal or a name that only means something inside a network."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return "." not in host or host == "localhost" or host.endswith(_INTERNAL_SUFFIXES)


def endpoint_allowed(endpoint: str, services: str) -> bool:
    """Whether the endpoint, parsed as the HTTP client will use it, matches one of the
    configured push services (scheme://host, * wildcards). A host matched through a wildcard
    must be a public name: an address literal or an internal name passes only when it is
    written out in the setting (the tests' own push service on 127.0.0.1)."""
    origin = endpoint_origin(endpoint)
    if origin is None:
        return False
    scheme, host, port = origin
    text = f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    for pattern in (p.strip().lower() for p in services.split(",") if p.strip()):
        if not fnmatchcase(text, pattern):
            continue
        pattern_host = pattern.split("://", 1)[-1].rsplit(":", 1)[0] if "://" in pattern else ""
        if "*" in pattern_host and _internal(host):
            continue
        return True
    return False


def parse_subscription(data: Any, services: str) -> dict[str, str]:
    """Check `PushSubscription.toJSON()`; returns endpoint, p256dh and auth, or raises."""
    if not isinstance(data, dict):
        raise SubscriptionError("subscription", "send the browser's PushSubscription as JSON")
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 2000:
        raise SubscriptionError("endpoint", "the subscription has no usable endpoint")
    origin = endpoint_origin(endpoint)
    if origin is None:
        raise SubscriptionError("endpoint", "the endpoint is not a plain web address")
    if not endpoint_allowed(endpoint, services):
        raise SubscriptionError(
            "endpoint", f"{origin[0]}://{origin[1]} is not a push service this server uses"
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

    permanent: bool = False  # the subscription itself cannot be sent to (never retried)

    @property
    def retryable(self) -> bool:
        if self.permanent:
            return False
        return self.status is None or self.status == 429 or self.status >= 500


class _NoRedirects(requests.Session):
    """A push service answers; it never sends us elsewhere. A 3xx is the answer."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        return super().request(*args, **kwargs)


class PushSender:
    """Sends one encrypted message per call with its own VAPID claims and a timeout."""

    def __init__(
        self, vapid: Vapid02, subject: str, timeout: float, services: str | None = None
    ) -> None:
        self.vapid = vapid
        self.subject = check_subject(subject)
        self.timeout = timeout
        # Checked again at sending: a subscription stored under an older, laxer rule.
        self.services = services
        self.http = _NoRedirects()

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
        if self.services is not None and not endpoint_allowed(subscription.endpoint, self.services):
            return PushResult(None, error="endpoint not allowed", permanent=True)
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
                # Raised before anything was sent: the subscription's own data is unusable
                # (network trouble is a RequestException, below).
                return PushResult(None, error=type(error).__name__, permanent=True)
            return PushResult(
                response.status_code,
                _retry_after(response.headers.get("Retry-After")),
                f"{response.status_code} {response.reason}"[:200],
            )
        except requests.RequestException as error:
            # Timeouts, refused connections, TLS errors: no answer, try again later.
            return PushResult(None, error=type(error).__name__)
        except Exception as error:  # noqa: BLE001 - one device's bad data stops no other
            # A malformed endpoint or key (VapidException, ValueError from the encryption):
            # this subscription can never be sent to.
            return PushResult(None, error=type(error).__name__, permanent=True)
        return PushResult(response.status_code)


def _retry_after(raw: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (dates are taken as absent)."""
    seconds = whole_number(raw or "", 0, 10_000_000)  # "²" is a digit to str.isdigit
    return float(seconds) if seconds is not None else None
