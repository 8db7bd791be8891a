"""The SAML 2.0 service provider (KOMBIT's Context Handler, OIOSAML 3) on pysaml2.

pysaml2 builds and signs the AuthnRequest (HTTP-Redirect, RSASSA-PSS through
services.saml_crypto), and checks the Response: the signature of the assertion against the
identity provider's certificate in its metadata (never a certificate the message carries),
InResponseTo against the one request this browser has outstanding, the audience, the
recipient and destination, and the validity window within the clock skew. What pysaml2 leaves
to its caller is here: a Response whose checks failed quietly comes back without an assertion
(docs/saml-spike.md, pitfall 1), an assertion that had to come encrypted, the NSIS level and
reading the OIOSAML 3 attributes into who the person is.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote_plus

import requests
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, sigver
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT, AuthnContextClassRef
from saml2.samlp import RequestedAuthnContext

from ..domain.identity import (
    NSIS_LEVELS,
    ProviderIdentity,
    SamlSettings,
    role_from_privileges,
)
from . import saml_crypto
from .saml_crypto import (
    CVR,
    DIGEST_SHA256,
    EMAIL,
    FULL_NAME,
    LOA,
    LOA_URI,
    SPEC_VERSION,
    UUID_PERSISTENT,
    decode_privileges,
    use_wheel_crypto,
)

FIRST_NAME = "https://data.gov.dk/model/core/eid/firstName"
LAST_NAME = "https://data.gov.dk/model/core/eid/lastName"
REQUESTED = (SPEC_VERSION, LOA, EMAIL, FULL_NAME, FIRST_NAME, LAST_NAME, CVR, UUID_PERSISTENT)
# A Response is a few kilobytes; a larger one is refused before any XML is parsed.
MAX_RESPONSE_BYTES = 256 * 1024
METADATA_MAX_BYTES = 2 * 1024 * 1024
METADATA_REFRESH_SECONDS = 6 * 3600
METADATA_RETRY_SECONDS = 60
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
XENC_NS = "http://www.w3.org/2001/04/xmlenc#"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"

# pysaml2 writes whole messages (names, CPR numbers) at DEBUG and the NameID at INFO.
logging.getLogger("saml2").setLevel(logging.WARNING)
log = logging.getLogger(__name__)


# pysaml2 raises a bare Exception for some checks; its message can hold entity IDs and
# more, so the audit line names only which check it was.
_BARE_CHECKS = (("AudienceRestriction", "audience"), ("estination", "destination"))


def _kind(error: Exception) -> str:
    kind = type(error).__name__
    if kind == "Exception":
        text = str(error)
        kind = next((label for key, label in _BARE_CHECKS if key in text), "unnamed check")
    elif kind == "VerificationError":  # fixed texts: "No valid recipient" and the like
        kind = f"{kind} ({str(error)[:40]})"
    return kind


# The one shape of an encrypted assertion taken: EncryptedData with its key inline (RSA-OAEP
# EncryptedKey in its KeyInfo) and its ciphertext inline. No references of any kind
# (RetrievalMethod, CipherReference, DataReference, a URI attribute): libxmlsec1 follows
# them within the document and to files, so one ciphertext could mean two things, or
# /dev/zero.
_ENCRYPTED_ELEMENTS = {
    (XENC_NS, "EncryptedData"), (XENC_NS, "EncryptionMethod"), (XENC_NS, "CipherData"),
    (XENC_NS, "CipherValue"), (XENC_NS, "EncryptedKey"), (XENC_NS, "OAEPparams"),
    (DS_NS, "KeyInfo"), (DS_NS, "DigestMethod"), (DS_NS, "X509Data"),
    (DS_NS, "X509Certificate"), (DS_NS, "X509IssuerSerial"), (DS_NS, "X509IssuerName"),
    (DS_NS, "X509SerialNumber"), (DS_NS, "X509SubjectName"), (DS_NS, "X509SKI"),
    ("http://www.w3.org/2009/xmlenc11#", "MGF"),
}  # fmt: skip


def _only(node, namespace: str, local: str):
    children = [c for c in node if isinstance(c.tag, str)]
    if len(children) != 1 or children[0].tag != f"{{{namespace}}}{local}":
        raise SamlRefused("failed", "SAML encrypted structure not of the plain shape")
    return children[0]


def _check_encrypted_structure(holder) -> None:
    for node in holder.iter():
        if not isinstance(node.tag, str):
            continue
        if (
            node is not holder
            and (etree.QName(node).namespace, etree.QName(node).localname)
            not in _ENCRYPTED_ELEMENTS
        ):
            raise SamlRefused("failed", "SAML encrypted structure not of the plain shape")
        if any(etree.QName(name).localname == "URI" for name in node.attrib):
            raise SamlRefused("failed", "SAML encrypted structure with a reference")
    data = _only(holder, XENC_NS, "EncryptedData")
    info = data.find(f"{{{DS_NS}}}KeyInfo")
    if info is None:
        raise SamlRefused("failed", "SAML encrypted structure without its key")
    key = _only(info, XENC_NS, "EncryptedKey")
    if next(key.iter(f"{{{XENC_NS}}}EncryptedData"), None) is not None or any(
        True for _ in key.iterdescendants(f"{{{XENC_NS}}}EncryptedKey")
    ):
        raise SamlRefused("failed", "SAML encrypted structure not of the plain shape")
    for owner in (data, key):
        cipher = owner.find(f"{{{XENC_NS}}}CipherData")
        if cipher is None:
            raise SamlRefused("failed", "SAML encrypted structure without its cipher data")
        _only(cipher, XENC_NS, "CipherValue")


def _parse_safely(xml: bytes, what: str):
    try:
        return etree.fromstring(xml, _SAFE_PARSER)
    except etree.XMLSyntaxError:
        raise SamlRefused("failed", f"{what} is not XML") from None


class SamlUnavailable(Exception):
    """The provider's metadata cannot be had or used (a 503, not the person's fault)."""


class SamlRefused(Exception):
    """The answer is not a login: `why` is one of the refusal page's reasons, `detail` the
    audit line (the kind of failure, never the message's contents)."""

    def __init__(self, why: str, detail: str):
        super().__init__(detail)
        self.why = why
        self.detail = detail


@dataclass(frozen=True)
class Endpoints:
    entity_id: str
    acs_url: str
    slo_url: str


@dataclass(frozen=True)
class SamlLogin:
    identity: ProviderIdentity
    # The NameID and SessionIndex, as JSON, kept on the login session for single logout.
    provider_session: str
    # Used once only, across all browsers and app servers (the web layer keeps them).
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogoutFromProvider:
    """The provider asks to end a person's session (another system was logged out of)."""

    name_id: str  # the NameID's text
    session_indexes: tuple[str, ...]
    answer_url: str  # our signed LogoutResponse, to redirect the browser to
    issuer: str  # the provider that asked: only sessions from its logins end


def _sp_config(settings: SamlSettings, endpoints: Endpoints, idp_metadata: str | None) -> SPConfig:
    config = {
        "entityid": endpoints.entity_id,
        "name": "Doorstep",
        "service": {
            "sp": {
                "endpoints": {
                    "assertion_consumer_service": [(endpoints.acs_url, BINDING_HTTP_POST)],
                    "single_logout_service": [(endpoints.slo_url, BINDING_HTTP_REDIRECT)],
                },
                "logout_requests_signed": True,
                "authn_requests_signed": True,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "allow_unsolicited": False,
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "signing_algorithm": settings.signing_algorithm,
                "digest_algorithm": DIGEST_SHA256,
                "optional_attributes": [*REQUESTED, settings.privilege_attribute],
            }
        },
        "key_file": settings.key_file,
        "cert_file": settings.cert_file,
        "encryption_keypairs": [{"key_file": settings.key_file, "cert_file": settings.cert_file}],
        # "XMLSecurity" constructs no xmlsec1 binary; the wheel backend replaces it.
        "crypto_backend": "XMLSecurity",
        "accepted_time_diff": settings.clock_skew_seconds,
        "allow_unknown_attributes": True,
        "delete_tmpfiles": True,
    }
    if idp_metadata is not None:
        config["metadata"] = {"inline": [idp_metadata]}
    sp = SPConfig()
    sp.load(config)
    return sp


def sp_metadata(settings: SamlSettings, endpoints: Endpoints) -> str:
    """Our metadata for the identity provider: entityID, the ACS (HTTP-POST), the signing and
    encryption certificate, persistent NameIDs and the OIOSAML 3 attributes asked for."""
    config = _sp_config(settings, endpoints, None)
    return create_metadata_string(None, config=config, valid=24 * 365, sign=False).decode()


class ServiceProvider:
    """One per app: the pysaml2 client, made when first needed from the identity provider's
    metadata (fetched again every few hours, so a rolled-over certificate is taken)."""

    def __init__(self, settings: SamlSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._metadata: str | None = None
        self._loaded_at = 0.0
        self._failed_at, self._failure = -METADATA_RETRY_SECONDS, ""
        # One client per set of our own endpoints (they follow the public origin), a few at
        # most; all of them from the one copy of the provider's metadata.
        self._clients: dict[Endpoints, Saml2Client] = {}
        saml_crypto.check_stack()

    def _fetch_metadata(self) -> str:
        if self.settings.idp_metadata_file:
            with open(self.settings.idp_metadata_file, encoding="utf-8") as handle:
                return handle.read(METADATA_MAX_BYTES)
        answer = requests.get(self.settings.idp_metadata_url, timeout=10, stream=True)
        answer.raise_for_status()
        body = answer.raw.read(METADATA_MAX_BYTES + 1, decode_content=True)
        if len(body) > METADATA_MAX_BYTES:
            raise ValueError("metadata larger than 2 MiB")
        return body.decode("utf-8")

    def _build(self, endpoints: Endpoints, metadata: str) -> Saml2Client:
        config = _sp_config(self.settings, endpoints, metadata)
        return use_wheel_crypto(
            Saml2Client(config=config), allowed_sigalgs=self.settings.accepted_algorithms
        )

    def client(self, endpoints: Endpoints) -> Saml2Client:
        """The client for these endpoints. The provider's metadata is fetched again every few
        hours (a rolled-over certificate); a failed refresh keeps the last good copy. Raises
        SamlUnavailable when there has never been a usable copy."""
        with self._lock:
            now = time.monotonic()
            stale = now - self._loaded_at >= METADATA_REFRESH_SECONDS
            if self._metadata is None and now - self._failed_at < METADATA_RETRY_SECONDS:
                # Failed a moment ago: say so at once rather than queue every login behind
                # another 10 s attempt.
                raise SamlUnavailable(self._failure)
            if self._metadata is None or stale:
                try:
                    metadata = self._fetch_metadata()
                    probe = self._build(endpoints, metadata)
                except Exception as error:  # unreachable, not XML, not SAML metadata…
                    self._failed_at, self._failure = now, type(error).__name__
                    if self._metadata is None:
                        raise SamlUnavailable(self._failure) from None
                    log.warning("SAML metadata refresh failed (%s); keeping the last copy",
                                self._failure)  # fmt: skip
                    # Try again in a few minutes, not in six hours.
                    self._loaded_at = now - METADATA_REFRESH_SECONDS + METADATA_RETRY_SECONDS
                else:
                    self._metadata, self._loaded_at = metadata, time.monotonic()
                    self._clients = {endpoints: probe}
            client = self._clients.get(endpoints)
            if client is None:
                if len(self._clients) >= 4:
                    self._clients.pop(next(iter(self._clients)))
                try:
                    client = self._build(endpoints, self._metadata)
                except Exception as error:
                    raise SamlUnavailable(type(error).__name__) from None
                self._clients[endpoints] = client
            return client

    def idp_entity_id(self, client: Saml2Client) -> str:
        known = list(client.metadata.identity_providers())
        wanted = self.settings.idp_entity_id
        if wanted:
            if wanted not in known:
                raise ValueError("the metadata does not hold FIELDAPP_SAML_IDP_ENTITY_ID")
            return wanted
        if len(known) != 1:
            raise ValueError("the metadata holds several identity providers; set the entity ID")
        return known[0]

    def login_redirect(self, endpoints: Endpoints) -> tuple[str, str]:
        """(the request's ID, the URL to send the browser to): a signed AuthnRequest asking
        for persistent NameIDs and at least the configured NSIS level."""
        client = self.client(endpoints)
        level = LOA_URI[self.settings.nsis_level]
        request_id, info = client.prepare_for_authenticate(
            entityid=self._idp_or_unavailable(client),
            binding=BINDING_HTTP_REDIRECT,
            nameid_format=NAMEID_FORMAT_PERSISTENT,
            sign=True,
            sigalg=self.settings.signing_algorithm,
            digest_alg=DIGEST_SHA256,
            requested_authn_context=RequestedAuthnContext(
                authn_context_class_ref=[AuthnContextClassRef(text=level)],
                comparison="minimum",
            ),
        )
        location = dict(info["headers"])["Location"]
        return request_id, location

    def read_response(self, endpoints: Endpoints, encoded: str, outstanding_id: str) -> SamlLogin:
        """Check the identity provider's answer to our request `outstanding_id`; raises
        SamlRefused (or SamlUnavailable). pysaml2 checks the assertion's signature,
        InResponseTo, audience, recipient and time; the signature backend refuses wrapping."""
        if len(encoded) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
            raise SamlRefused("failed", "SAML response too large")
        try:
            xml = base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            raise SamlRefused("failed", "SAML response is not base64") from None
        self._check_shape(xml)
        client = self.client(endpoints)
        idp = self._idp_or_unavailable(client)
        checked = base64.b64encode(self._decrypted_and_checked(client, idp, xml)).decode()
        try:
            answer = client.parse_authn_request_response(
                checked, BINDING_HTTP_POST, outstanding={outstanding_id: "/"}
            )
        except Exception as error:  # pysaml2 raises many kinds; each one is a refusal
            kind = _kind(error)
            if kind in ("StatusNoAuthnContext", "StatusRequestDenied"):
                raise SamlRefused("assurance", f"identity provider answered {kind}") from None
            raise SamlRefused("failed", f"SAML response refused: {kind}") from None
        if answer is None or answer.assertion is None:
            # pysaml2 logs a wrong Destination and hands back a response without assertion.
            raise SamlRefused("failed", "SAML response refused: no valid assertion")
        # The signed assertion's issuer, not the Response's unsigned one, and only the one
        # provider this organisation trusts.
        given = answer.assertion.issuer
        issuer = (given.text or "").strip() if given is not None else ""
        if issuer != idp:
            raise SamlRefused("failed", "SAML assertion from another issuer")
        identity = self._identity(idp, answer)
        statements = answer.assertion.authn_statement or []
        index = statements[0].session_index if statements else None
        name_id = str(answer.name_id) if answer.name_id is not None else ""
        text = (answer.name_id.text or "").strip() if answer.name_id is not None else ""
        kept = {"name_id": name_id, "text": text, "index": index or "", "issuer": idp}
        return SamlLogin(
            identity,
            json.dumps(kept) if name_id else "",
            message_ids=(f"request:{outstanding_id}", f"assertion:{answer.assertion.id}"),
        )

    def _decrypted_and_checked(self, client: Saml2Client, idp: str, xml: bytes) -> bytes:
        """The Response as pysaml2 may read it: the assertion decrypted here, once, from an
        encrypted structure of the plain shape only; nothing encrypted or advised left in it;
        its signature checked here against the provider's signing certificates. pysaml2 then
        reads exactly this assertion and decrypts nothing itself (its own decryption follows
        references and decrypts nested parts in a second pass, and would take a decrypted
        but unchecked Signature for a checked one)."""
        backend = client.sec.crypto
        root = _parse_safely(xml, "SAML response")
        holder = root.find(f"{{{SAML_NS}}}EncryptedAssertion")
        if holder is not None:
            _check_encrypted_structure(holder)
            try:
                plain = backend.decrypt(etree.tostring(holder), self.settings.key_file)
            except Exception:
                raise SamlRefused("failed", "SAML assertion does not decrypt") from None
            decrypted = _parse_safely(plain.encode("utf-8"), "decrypted SAML assertion")
            assertion = decrypted.find(f"{{{SAML_NS}}}Assertion")
            extra = [c for c in decrypted if c is not assertion and isinstance(c.tag, str)]
            if assertion is None or extra:
                raise SamlRefused("failed", "SAML EncryptedAssertion holds no single assertion")
        else:
            assertion = root.find(f"{{{SAML_NS}}}Assertion")
        if assertion is None:
            return xml  # an error status: pysaml2 reads it (and nobody is logged in)
        for tag in ("EncryptedData", "EncryptedKey"):
            if next(assertion.iter(f"{{{XENC_NS}}}{tag}"), None) is not None:
                raise SamlRefused("failed", "SAML assertion with encrypted parts inside")
        if next(assertion.iter(f"{{{SAML_NS}}}Advice"), None) is not None:
            raise SamlRefused("failed", "SAML assertion with an Advice")
        if assertion.find(f"{{{DS_NS}}}Signature") is None:
            raise SamlRefused("failed", "SAML assertion not signed")
        document = etree.tostring(assertion).decode("utf-8")
        node = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
        verified = False
        for _, cert in client.metadata.certs(idp, "idpsso", "signing"):
            with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
                pem.write(sigver.pem_format(cert).decode("ascii"))
                pem.flush()
                try:
                    verified = backend.validate_signature(
                        document, pem.name, "pem", node, assertion.get("ID")
                    )
                except sigver.SignatureError as error:
                    log.info("SAML assertion not verified with a certificate: %s", error)
                    continue
            if verified:
                break
        if not verified:
            raise SamlRefused("failed", "SAML assertion signature does not verify")
        # The Response's own signature (if any) covered the encrypted form; what counts is
        # the assertion's, checked above and again by pysaml2.
        for signature in root.findall(f"{{{DS_NS}}}Signature"):
            root.remove(signature)
        # pysaml2 gets the very bytes whose signature was checked, in the assertion's place
        # (text, not a moved lxml node: moving one re-declares its namespaces).
        token = f"doorstep-assertion-{secrets.token_hex(8)}"
        root.replace(holder if holder is not None else assertion, etree.Comment(token))
        return etree.tostring(root).replace(f"<!--{token}-->".encode(), document.encode())

    def _idp_or_unavailable(self, client: Saml2Client) -> str:
        try:
            return self.idp_entity_id(client)
        except ValueError as error:
            raise SamlUnavailable(str(error)) from None

    def logout_redirect(self, endpoints: Endpoints, provider_session: str) -> str | None:
        """The URL of a signed LogoutRequest to the provider's single logout service for the
        session kept at login; None when the provider has none or nothing was kept."""
        kept = json.loads(provider_session) if provider_session else {}
        if not kept.get("name_id"):
            return None
        client = self.client(endpoints)
        idp = self._idp_or_unavailable(client)
        services = client.metadata.single_logout_service(idp, BINDING_HTTP_REDIRECT, "idpsso")
        if not services:
            return None
        destination = services[0]["location"]
        _, request = client.create_logout_request(
            destination,
            idp,
            name_id=saml.name_id_from_string(kept["name_id"]),
            session_indexes=[kept["index"]] if kept.get("index") else None,
            sign=False,
        )
        info = client.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(request),
            destination,
            relay_state="",
            sign=True,
            sigalg=self.settings.signing_algorithm,
        )
        return dict(info["headers"])["Location"]

    def logout_request_from_provider(
        self, endpoints: Endpoints, raw_query: str
    ) -> LogoutFromProvider:
        """Check a LogoutRequest the provider sent by redirect and make our signed answer;
        raises SamlRefused. pysaml2 checks a redirect signature only where its IdP side wants
        signed requests, so the signature is checked here, as the bindings specification
        says (3.4.4.1): over SAMLRequest, RelayState and SigAlg exactly as they arrived, with
        the provider's signing certificate from its metadata and an accepted algorithm."""
        client = self.client(endpoints)
        idp = self._idp_or_unavailable(client)
        # Each parameter once, each value decoded from the very component that is verified.
        raw: dict[str, str] = {}
        for part in raw_query.split("&"):
            key, sep, _ = part.partition("=")
            if not sep or key in raw:
                raise SamlRefused("failed", "SAML logout request with a repeated parameter")
            raw[key] = part
        query = {key: unquote_plus(part.partition("=")[2]) for key, part in raw.items()}
        sigalg, signature = query.get("SigAlg", ""), query.get("Signature", "")
        if "SAMLRequest" not in query or not signature:
            raise SamlRefused("failed", "SAML logout request not signed")
        if sigalg not in self.settings.accepted_algorithms:
            raise SamlRefused("failed", "SAML logout request signed with an algorithm not accepted")
        signed = "&".join(raw[k] for k in ("SAMLRequest", "RelayState", "SigAlg") if k in raw)
        if not signed.isascii():
            raise SamlRefused("failed", "SAML logout request not URL-encoded")
        try:
            value = base64.b64decode(signature)
        except (binascii.Error, ValueError):
            raise SamlRefused("failed", "SAML logout request signature is not base64") from None
        signer = sigver.SIGNER_ALGS[sigalg]
        keys = [
            sigver.extract_rsa_key_from_x509_cert(sigver.pem_format(cert))
            for _, cert in client.metadata.certs(idp, "any", "signing")
        ]
        if not any(signer.verify(signed.encode("ascii"), value, key) for key in keys):
            raise SamlRefused("failed", "SAML logout request signature does not verify")
        try:
            request = client.parse_logout_request(
                query["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=query.get("RelayState")
            )
        except Exception as error:
            raise SamlRefused("failed", f"SAML logout request refused: {_kind(error)}") from None
        if request is None or request.sender() != idp:
            raise SamlRefused("failed", "SAML logout request from another issuer")
        message = request.message
        services = client.metadata.single_logout_service(idp, BINDING_HTTP_REDIRECT, "idpsso")
        if not services:
            raise SamlRefused("failed", "the provider has no single logout service")
        response = client.create_logout_response(message, [BINDING_HTTP_REDIRECT], sign=False)
        info = client.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(response),
            services[0].get("response_location") or services[0]["location"],
            relay_state=query.get("RelayState", ""),
            response=True,
            sign=True,
            sigalg=self.settings.signing_algorithm,
        )
        name_id = (message.name_id.text or "").strip() if message.name_id is not None else ""
        indexes = tuple((i.text or "").strip() for i in message.session_index or [])
        return LogoutFromProvider(name_id, indexes, dict(info["headers"])["Location"], idp)

    def _check_shape(self, xml: bytes) -> None:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
        try:
            root = etree.fromstring(xml, parser)
        except etree.XMLSyntaxError:
            raise SamlRefused("failed", "SAML response is not XML") from None
        if root.tag != f"{{{SAMLP_NS}}}Response":
            raise SamlRefused("failed", "not a SAML Response")
        if root.getroottree().docinfo.doctype:
            raise SamlRefused("failed", "SAML response with a DOCTYPE")
        for tag in ("Assertion", "EncryptedAssertion"):
            for node in root.iter(f"{{{SAML_NS}}}{tag}"):
                if node.getparent() is not root:
                    raise SamlRefused("failed", f"SAML {tag} out of place (wrapping)")
        held = root.findall(f"{{{SAML_NS}}}Assertion") + root.findall(
            f"{{{SAML_NS}}}EncryptedAssertion"
        )
        if len(held) > 1:
            raise SamlRefused("failed", "more than one SAML assertion")
        plain = root.findall(f"{{{SAML_NS}}}Assertion")
        status = root.find(f"{{{SAMLP_NS}}}Status/{{{SAMLP_NS}}}StatusCode")
        success = status is not None and status.get("Value", "").endswith(":Success")
        if success and self.settings.want_encrypted and plain:
            raise SamlRefused("failed", "SAML assertion not encrypted")

    def _identity(self, idp: str, answer) -> ProviderIdentity:
        attributes = answer.ava or {}

        def first(name: str) -> str:
            values = attributes.get(name) or []
            return str(values[0]).strip() if values else ""

        loa = first(LOA)
        if loa.startswith(f"{LOA}/"):
            loa = loa.rsplit("/", 1)[1]
        wanted = NSIS_LEVELS.index(self.settings.nsis_level)
        if loa not in NSIS_LEVELS or NSIS_LEVELS.index(loa) < wanted:
            raise SamlRefused("assurance", f"NSIS level {loa[:20] or 'none'} is not enough")
        groups: list[tuple[str, list[str]]] = []
        for value in attributes.get(self.settings.privilege_attribute) or []:
            try:
                groups.extend(decode_privileges(str(value)))
            except (ValueError, binascii.Error, etree.XMLSyntaxError):
                raise SamlRefused("failed", "privileges are not a PrivilegeList") from None
        subject = first(UUID_PERSISTENT).removeprefix("urn:uuid:")
        if not subject and answer.name_id is not None:
            subject = (answer.name_id.text or "").strip()
        name = first(FULL_NAME) or " ".join(p for p in (first(FIRST_NAME), first(LAST_NAME)) if p)
        return ProviderIdentity(
            issuer=idp,
            subject=subject[:200],
            email=first(EMAIL),
            name=name,
            decision=role_from_privileges(groups, self.settings),
        )
