"""A Web Push service on 127.0.0.1 for the tests, speaking the real protocol.

It hands out subscriptions as a browser would (an endpoint, a P-256 key pair and an auth
secret, bound to the application server's VAPID key), and on each POST to an endpoint it:

* checks the VAPID `Authorization: vapid t=<JWT>, k=<key>` header (RFC 8292): ES256
  signature by `k`, `k` equal to the key the subscription was made with, `aud` equal to this
  service's origin, `exp` in the future and at most 24 hours ahead, `sub` a mailto: or https:;
* requires a TTL header and `Content-Encoding: aes128gcm`;
* decrypts the body with the subscription's private key and auth secret (RFC 8291 / 8188),
  written here from the RFCs with `cryptography`'s primitives, independently of pywebpush;
* answers 201, or whatever status the test scripted for that endpoint (404, 410, 429, 500).
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


@dataclass
class Device:
    """One browser's subscription: what `PushSubscription.toJSON()` gives, and its secrets."""

    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    server_key: bytes  # the applicationServerKey it subscribed with

    def to_json(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {
                "p256dh": b64url(_point(self.private_key.public_key())),
                "auth": b64url(self.auth_secret),
            },
        }

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8188 aes128gcm with the RFC 8291 key derivation, one or more records."""
        salt, record_size, id_length = body[:16], struct.unpack(">I", body[16:20])[0], body[20]
        sender_public = body[21 : 21 + id_length]
        ciphertext = body[21 + id_length :]
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_public)
        shared = self.private_key.exchange(ec.ECDH(), sender)
        receiver_public = _point(self.private_key.public_key())
        key_info = b"WebPush: info\x00" + receiver_public + sender_public
        ikm = _hkdf(self.auth_secret, shared, key_info, 32)
        cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        base_nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
        plain = b""
        for sequence, start in enumerate(range(0, len(ciphertext), record_size)):
            nonce = (int.from_bytes(base_nonce, "big") ^ sequence).to_bytes(12, "big")
            record = AESGCM(cek).decrypt(nonce, ciphertext[start : start + record_size], None)
            padding_at = len(record.rstrip(b"\x00")) - 1
            if record[padding_at] not in (1, 2):
                raise ValueError("no padding delimiter")
            plain += record[:padding_at]
        return plain


@dataclass
class Delivery:
    """A push the service accepted: its headers, VAPID claims and decrypted payload."""

    token: str
    ttl: int
    urgency: str | None
    topic: str | None
    claims: dict
    payload: dict
    at: float = field(default_factory=time.time)


class PushService(ThreadingHTTPServer):
    """The service's state: devices, what it accepted, what it refused and scripted answers."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.devices: dict[str, Device] = {}
        self.accepted: list[Delivery] = []
        self.refused: list[tuple[str, int, str]] = []  # (token, status, reason)
        self.requests = 0
        self.script: dict[str, list[int]] = {}  # token -> statuses to answer, in turn
        self.retry_after: str | None = None
        self.redirect_to: dict[str, str] = {}  # token -> Location of a 307 (never followed)
        self.delay = 0.0
        self.lock = threading.Lock()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def subscribe(self, application_server_key: str) -> Device:
        token = secrets.token_urlsafe(12)
        device = Device(
            token,
            f"{self.origin}/push/{token}",
            ec.generate_private_key(ec.SECP256R1()),
            secrets.token_bytes(16),
            b64url_decode(application_server_key),
        )
        self.devices[token] = device
        return device

    def forget(self, device: Device) -> None:
        """The browser unsubscribed: the endpoint is gone for good."""
        self.devices.pop(device.token, None)

    def for_device(self, device: Device) -> list[Delivery]:
        return [d for d in self.accepted if d.token == device.token]

    def start(self) -> PushService:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: PushService

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def _answer(self, status: int, reason: str = "", headers: dict | None = None) -> None:
        body = reason.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        service = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        token = self.path.removeprefix("/push/")
        with service.lock:
            service.requests += 1
        if service.delay:
            time.sleep(service.delay)
        device = service.devices.get(token)
        if device is None:
            return self._refuse(token, 410, "no such subscription")
        if token in service.redirect_to:
            return self._answer(307, "elsewhere", {"Location": service.redirect_to[token]})
        scripted = service.script.get(token)
        if scripted:
            status = scripted.pop(0)
            if status != 201:
                headers = {"Retry-After": service.retry_after} if service.retry_after else {}
                with service.lock:
                    service.refused.append((token, status, "scripted"))
                return self._answer(status, "scripted", headers)
        try:
            claims = self._check_vapid(device)
        except ValueError as error:
            return self._refuse(token, 401 if "signature" in str(error) else 403, str(error))
        ttl = self.headers.get("TTL", "")
        if not ttl.isdigit():
            return self._refuse(token, 400, "TTL header missing")
        if self.headers.get("Content-Encoding") != "aes128gcm":
            return self._refuse(token, 415, "not aes128gcm")
        try:
            payload = json.loads(device.decrypt(body))
        except (InvalidTag, ValueError) as error:
            return self._refuse(token, 400, f"cannot decrypt: {type(error).__name__}")
        with service.lock:
            service.accepted.append(
                Delivery(
                    token,
                    int(ttl),
                    self.headers.get("Urgency"),
                    self.headers.get("Topic"),
                    claims,
                    payload,
                )
            )
        self._answer(201, "", {"Location": f"{service.origin}/message/{secrets.token_hex(6)}"})

    def _refuse(self, token: str, status: int, reason: str) -> None:
        with self.server.lock:
            self.server.refused.append((token, status, reason))
        self._answer(status, reason)

    def _check_vapid(self, device: Device) -> dict:
        header = self.headers.get("Authorization", "")
        if not header.startswith("vapid "):
            raise ValueError("no vapid authorization")
        parts = dict(
            item.strip().split("=", 1) for item in header[len("vapid ") :].split(",") if "=" in item
        )
        jwt, key = parts.get("t", ""), b64url_decode(parts.get("k", ""))
        if key != device.server_key:
            raise ValueError("key is not the one the subscription was made with")
        head_b64, claims_b64, signature_b64 = jwt.split(".")
        head = json.loads(b64url_decode(head_b64))
        if head.get("alg") != "ES256":
            raise ValueError("signature algorithm is not ES256")
        signature = b64url_decode(signature_b64)
        if len(signature) != 64:
            raise ValueError("signature is not 64 bytes")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise ValueError("bad signature") from None
        claims = json.loads(b64url_decode(claims_b64))
        now = time.time()
        if claims.get("aud") != self.server.origin:
            raise ValueError(f"aud {claims.get('aud')!r} is not {self.server.origin}")
        if not now < int(claims.get("exp", 0)) <= now + 24 * 3600:
            raise ValueError("exp not within the next 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            raise ValueError("sub is not a mailto: or https: contact")
        return claims
