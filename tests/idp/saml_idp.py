"""A SAML 2.0 identity provider for the tests, shaped like KOMBIT's Context Handler (OIOSAML 3).

Used by tests/saml.py (docs/saml-spike.md has the background). Built on pysaml2's own IdP
(`saml2.server.Server`); every XML signature, signature check and XML encryption goes through
the `xmlsec` wheel (its bundled libxmlsec1 1.3.x knows RSASSA-PSS), not through Debian's
`xmlsec1` 1.2.x binary, which does not; the crypto is the app's own, fieldapp.services.saml_crypto.

    idp = SamlIdp.start(folder, sp_metadata=[sp_metadata_xml], accounts={...})
    idp.metadata_url        # http://127.0.0.1:<port>/metadata (the IdP's entityID too)
    idp.stop()

- GET  /metadata  the IdP's metadata (signing certificate, SSO endpoint, HTTP-Redirect).
- GET  /sso       HTTP-Redirect binding: SAMLRequest, RelayState, SigAlg, Signature. The
                  AuthnRequest must be signed (detached redirect signature, checked against the
                  signing certificate in the SP's metadata, SigAlg one of `allowed_sigalgs`);
                  else 403. Shows a login form: field `login` labelled "Account", buttons
                  "Sign in" and "Cancel".
- POST /login     answers with an auto-submitting HTTP-POST form to the SP's AssertionConsumer
                  Service: a signed Response holding a signed Assertion (encrypted to the SP's
                  encryption certificate when the options say so) with the account's OIOSAML 3
                  attributes; "Cancel", or an account below the requested NSIS level, gets a
                  signed error Response (AuthnFailed / NoAuthnContext).

Accounts and options are JSON files in `folder`, read on every request (`set_account`,
`set_options` between two logins change what the next login gets). An account:

    {"email": "anna@example.dk", "fullName": "Anna Berg", "loa": "Substantial",
     "cvr": "29189846", "orgName": "Testkommune", "uuid": "ec6ec845-...",
     "privileges": {"29189846": ["http://doorstep.test/roles/usersystemrole/fieldworker/1"]}}

Options: `sign_alg` (default RSASSA-PSS SHA-256), `encrypt_assertion` (default false),
`lifetime_minutes` (assertion validity, default 5; negative: already expired),
`privilege_attribute` (default the OIOSAML 3 name; the OIOSAML 2 name is
PRIVILEGES_ATTRIBUTE_OIOSAML2), and for misbehaving: `audience` (another SP's entityID) and
`destination` (another recipient URL); `sign_response: false` signs only the assertion.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import secrets
import threading
import traceback
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
from saml2.assertion import Policy
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

from fieldapp.services.saml_crypto import (  # noqa: E402
    BPP_NAMESPACES,
    CVR,
    CVR_SCOPE_PREFIX,
    DIGEST_SHA256,
    EMAIL,
    FULL_NAME,
    LOA,
    LOA_LEVELS,
    LOA_URI,
    ORG_NAME,
    PRIVILEGES_ATTRIBUTE,
    PRIVILEGES_ATTRIBUTE_OIOSAML2,
    SIG_RSA_PSS_SHA256,
    SIG_RSA_SHA256,
    SPEC_VERSION,
    UUID_PERSISTENT,
    RsaPssSigner,
    XmlsecWheelBackend,
    decode_privileges,
    enable_rsa_pss,
    use_wheel_crypto,
)

__all__ = [
    "PRIVILEGES_ATTRIBUTE_OIOSAML2",
    "SIG_RSA_SHA256",
    "RsaPssSigner",
    "XmlsecWheelBackend",
    "decode_privileges",
    "enable_rsa_pss",
]


# --- Basic Privilege Profile ---------------------------------------------------------------------
def encode_privileges(groups: dict[str, list[str]]) -> str:
    """{cvr: [privilege URI, ...]} -> base64 of an OIO BPP PrivilegeList (model 2: CVR scope)."""
    ns = BPP_NAMESPACES[0]
    root = etree.Element(f"{{{ns}}}PrivilegeList", nsmap={"bpp": ns})
    for cvr, privileges in groups.items():
        group = etree.SubElement(root, "PrivilegeGroup", Scope=f"{CVR_SCOPE_PREFIX}{cvr}")
        for privilege in privileges:
            etree.SubElement(group, "Privilege").text = privilege
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return base64.b64encode(xml).decode("ascii")


# --- keys ----------------------------------------------------------------------------------------
def make_key_pair(folder: Path, name: str, common_name: str) -> tuple[Path, Path]:
    """A 3072-bit RSA key and a self-signed certificate, as {name}.key / {name}.crt (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DK"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Doorstep tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / f"{name}.key", folder / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


# --- the identity provider -----------------------------------------------------------------------
class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


DEFAULT_OPTIONS = {
    "sign_alg": SIG_RSA_PSS_SHA256,
    "encrypt_assertion": False,
    "lifetime_minutes": 5,
    "privilege_attribute": PRIVILEGES_ATTRIBUTE,
}


class SamlIdp:
    def __init__(self, folder: Path, sp_metadata: list[str], allowed_sigalgs, host="127.0.0.1"):
        self.folder = Path(folder)
        self.sp_metadata = list(sp_metadata)
        self.allowed_sigalgs = frozenset(allowed_sigalgs)
        self.accounts_file = self.folder / "saml-accounts.json"
        self.options_file = self.folder / "saml-options.json"
        self.key_file, self.cert_file = make_key_pair(
            self.folder, "saml-idp", "Test Context Handler"
        )
        self._pending: dict[str, tuple[object, str | None]] = {}
        self.logouts: list[dict] = []  # the LogoutRequests service providers sent
        self._lock = threading.Lock()
        self._httpd = make_server(
            "127.0.0.1",
            0,
            self._app,
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        # `host` names this server in its URLs: "localhost" makes it another site than an app
        # on 127.0.0.1 (so a browser sends the app's SameSite cookies as it would in reality).
        self.base_url = f"http://{host}:{self._httpd.server_port}"
        self.metadata_url = f"{self.base_url}/metadata"
        self.entity_id = self.metadata_url
        self.server = self._build_server()
        self.metadata = create_metadata_string(
            None, config=self.server.config, valid=1, sign=False
        ).decode("utf-8")
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @classmethod
    def start(
        cls,
        folder,
        sp_metadata,
        accounts=None,
        options=None,
        allowed_sigalgs=(SIG_RSA_PSS_SHA256,),
        host="127.0.0.1",
    ) -> SamlIdp:
        idp = cls(folder, sp_metadata, allowed_sigalgs, host)
        idp.set_accounts(accounts or {})
        idp.set_options(**(options or {}))
        idp._thread.start()
        return idp

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def trust(self, sp_metadata: str) -> None:
        """Register one more service provider (its metadata), e.g. an app started after us."""
        self.sp_metadata.append(sp_metadata)
        self.server = self._build_server()

    # -- state in files, read per request
    def set_accounts(self, accounts: dict) -> None:
        self.accounts_file.write_text(json.dumps(accounts, indent=1))

    def set_account(self, account_id: str, **claims) -> None:
        accounts = json.loads(self.accounts_file.read_text())
        accounts[account_id] = claims
        self.set_accounts(accounts)

    def set_options(self, **options) -> None:
        self.options_file.write_text(json.dumps({**DEFAULT_OPTIONS, **options}))

    def _options(self) -> dict:
        return json.loads(self.options_file.read_text())

    def _build_server(self) -> Server:
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (f"{self.base_url}/sso", BINDING_HTTP_REDIRECT)
                            ],
                            "single_logout_service": [
                                (f"{self.base_url}/slo", BINDING_HTTP_REDIRECT)
                            ],
                        },
                        "want_authn_requests_signed": True,
                        "sign_response": True,
                        "sign_assertion": True,
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                        "signing_algorithm": SIG_RSA_PSS_SHA256,
                        "digest_algorithm": DIGEST_SHA256,
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 5},
                                "attribute_restrictions": None,
                                "name_form": NAME_FORMAT_URI,
                            }
                        },
                    }
                },
                "key_file": str(self.key_file),
                "cert_file": str(self.cert_file),
                "metadata": {"inline": self.sp_metadata},
                "crypto_backend": "XMLSecurity",
                "accepted_time_diff": 60,
                "delete_tmpfiles": True,
            }
        )
        return use_wheel_crypto(Server(config=config), allowed_sigalgs=self.allowed_sigalgs)

    # -- WSGI
    def _app(self, environ, start_response):
        path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
        try:
            if path == "/metadata" and method == "GET":
                return self._reply(
                    start_response, "200 OK", self.metadata, "application/samlmetadata+xml"
                )
            if path == "/sso" and method == "GET":
                return self._sso(environ, start_response)
            if path == "/login" and method == "POST":
                return self._login(environ, start_response)
            if path == "/slo" and method == "GET":
                return self._slo(environ, start_response)
            return self._reply(start_response, "404 Not Found", "not found")
        except Exception as exc:  # a test IdP: say what went wrong
            traceback.print_exc()
            return self._reply(
                start_response, "500 Internal Server Error", f"{type(exc).__name__}: {exc}"
            )

    @staticmethod
    def _reply(start_response, status, body, content_type="text/plain; charset=utf-8"):
        data = body.encode("utf-8")
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
        return [data]

    def _sso(self, environ, start_response):
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if "SAMLRequest" not in query:
            return self._reply(start_response, "400 Bad Request", "no SAMLRequest")
        sigalg = query.get("SigAlg")
        if sigalg not in self.allowed_sigalgs:
            return self._reply(start_response, "403 Forbidden", f"SigAlg not allowed: {sigalg}")
        try:
            request = self.server.parse_authn_request(
                query["SAMLRequest"],
                BINDING_HTTP_REDIRECT,
                relay_state=query.get("RelayState"),
                sigalg=sigalg,
                signature=query.get("Signature"),
            )
        except Exception as exc:
            return self._reply(
                start_response, "403 Forbidden", f"AuthnRequest refused: {type(exc).__name__}"
            )
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[key] = (request.message, query.get("RelayState"))
        page = (
            "<!doctype html><title>Test Context Handler</title>"
            f'<form method="post" action="/login"><input type="hidden" name="key" value="{key}">'
            '<label>Account <input name="login" autofocus></label>'
            '<button name="action" value="sign-in">Sign in</button>'
            '<button name="action" value="cancel">Cancel</button></form>'
        )
        return self._reply(start_response, "200 OK", page, "text/html; charset=utf-8")

    def _login(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(length).decode()).items()}
        with self._lock:
            pending = self._pending.pop(form.get("key", ""), None)
        if pending is None:
            return self._reply(start_response, "400 Bad Request", "unknown or used login")
        request, relay_state = pending
        options = self._options()
        sp_entity_id = request.issuer.text.strip()
        acs = self.server.config.metadata.assertion_consumer_service(
            sp_entity_id, BINDING_HTTP_POST
        )
        destination = request.assertion_consumer_service_url or acs[0]["location"]
        if destination not in [service["location"] for service in acs]:
            return self._reply(
                start_response, "400 Bad Request", "AssertionConsumerServiceURL not in SP metadata"
            )
        accounts = json.loads(self.accounts_file.read_text())
        account = accounts.get(form.get("login", ""))
        if form.get("action") == "cancel" or account is None:
            response = self.server.create_error_response(
                request.id,
                destination,
                (samlp.STATUS_AUTHN_FAILED, "login cancelled or unknown"),
                sign=True,
                sign_alg=options["sign_alg"],
                digest_alg=DIGEST_SHA256,
            )
        elif not self._loa_enough(request, account.get("loa", "Low")):
            response = self.server.create_error_response(
                request.id,
                destination,
                (samlp.STATUS_NO_AUTHN_CONTEXT, "NSIS level too low"),
                sign=True,
                sign_alg=options["sign_alg"],
                digest_alg=DIGEST_SHA256,
            )
        else:
            # Misbehaviour for the tests: an assertion for another audience or another recipient.
            response = self._authn_response(
                request, account, options.get("destination") or destination, sp_entity_id, options
            )
        binding = self.server.apply_binding(
            BINDING_HTTP_POST, str(response), destination, relay_state or "", response=True
        )
        return self._reply(start_response, "200 OK", binding["data"], "text/html; charset=utf-8")

    def _slo(self, environ, start_response):
        """A service provider's LogoutRequest (HTTP-Redirect, signature checked against its
        metadata; recorded in `self.logouts`), answered by a signed LogoutResponse."""
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if "SAMLRequest" not in query or query.get("SigAlg") not in self.allowed_sigalgs:
            return self._reply(start_response, "403 Forbidden", "unsigned or unknown SigAlg")
        try:
            request = self.server.parse_logout_request(
                query["SAMLRequest"],
                BINDING_HTTP_REDIRECT,
                relay_state=query.get("RelayState"),
                sigalg=query.get("SigAlg"),
                signature=query.get("Signature"),
            )
        except Exception as exc:
            return self._reply(
                start_response, "403 Forbidden", f"LogoutRequest refused: {type(exc).__name__}"
            )
        message = request.message
        self.logouts.append(
            {
                "issuer": message.issuer.text.strip(),
                "name_id": (message.name_id.text or "").strip(),
                "session_index": [(i.text or "").strip() for i in message.session_index or []],
            }
        )
        sp = message.issuer.text.strip()
        location = self.server.metadata.single_logout_service(sp, BINDING_HTTP_REDIRECT, "spsso")
        response = self.server.create_logout_response(message, [BINDING_HTTP_REDIRECT], sign=False)
        binding = self.server.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(response),
            location[0]["location"],
            relay_state=query.get("RelayState") or "",
            response=True,
            sign=True,
            sigalg=SIG_RSA_PSS_SHA256,
        )
        target = dict(binding["headers"])["Location"]
        start_response("303 See Other", [("Location", target), ("Content-Length", "0")])
        return [b""]

    def logout_request_url(self, sp_entity_id: str, name_id: str, session_index: str = "") -> str:
        """An identity-provider-initiated LogoutRequest to the SP's single logout service:
        the URL to send the SP's browser to (signed with PSS, HTTP-Redirect)."""
        location = self.server.metadata.single_logout_service(
            sp_entity_id, BINDING_HTTP_REDIRECT, "spsso"
        )[0]["location"]
        _, request = self.server.create_logout_request(
            location,
            self.entity_id,
            name_id=NameID(
                format=NAMEID_FORMAT_PERSISTENT,
                text=name_id,
                name_qualifier=self.entity_id,
                sp_name_qualifier=sp_entity_id,
            ),
            session_indexes=[session_index] if session_index else None,
            sign=False,
        )
        binding = self.server.apply_binding(
            BINDING_HTTP_REDIRECT, str(request), location, relay_state="", sign=True,
            sigalg=SIG_RSA_PSS_SHA256,
        )  # fmt: skip
        return dict(binding["headers"])["Location"]

    @staticmethod
    def _loa_enough(request, loa: str) -> bool:
        context = request.requested_authn_context
        wanted = [ref.text.strip() for ref in (context.authn_context_class_ref if context else [])]
        levels = [LOA_LEVELS.index(lvl) for lvl, uri in LOA_URI.items() if uri in wanted]
        return not levels or LOA_LEVELS.index(loa) >= min(levels)

    def _authn_response(self, request, account, destination, sp_entity_id, options):
        identity = {
            SPEC_VERSION: ["OIO-SAML-3.0"],
            LOA: [account.get("loa", "Substantial")],
        }
        for attribute, field in (
            (EMAIL, "email"),
            (FULL_NAME, "fullName"),
            (CVR, "cvr"),
            (ORG_NAME, "orgName"),
        ):
            if account.get(field):
                identity[attribute] = [account[field]]
        if account.get("uuid"):
            identity[UUID_PERSISTENT] = [f"urn:uuid:{account['uuid']}"]
        if account.get("privileges"):
            identity[options["privilege_attribute"]] = [encode_privileges(account["privileges"])]
        policy = _AudiencePolicy(
            options.get("audience"),
            {
                "default": {
                    "lifetime": {"minutes": options["lifetime_minutes"]},
                    "attribute_restrictions": None,
                    "name_form": NAME_FORMAT_URI,
                }
            },
            mds=self.server.metadata,
        )
        name_id = NameID(
            format=NAMEID_FORMAT_PERSISTENT,
            text=account.get("uuid") or secrets.token_hex(16),
            name_qualifier=self.entity_id,
            sp_name_qualifier=sp_entity_id,
        )
        return self.server.create_authn_response(
            identity,
            in_response_to=request.id,
            destination=destination,
            sp_entity_id=sp_entity_id,
            name_id=name_id,
            authn={
                "class_ref": LOA_URI.get(account.get("loa", "Substantial")),
                "authn_auth": self.entity_id,
            },
            sign_response=options.get("sign_response", True),
            sign_assertion=True,
            encrypt_assertion=bool(options["encrypt_assertion"]),
            encrypt_assertion_self_contained=True,
            sign_alg=options["sign_alg"],
            digest_alg=DIGEST_SHA256,
            release_policy=policy,
        )


class _AudiencePolicy(Policy):
    """The release policy, with the audience of the assertion's conditions replaceable."""

    def __init__(self, audience, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.audience = audience

    def conditions(self, sp_entity_id):
        return super().conditions(self.audience or sp_entity_id)


def auto_post_fields(page: str) -> dict[str, str]:
    """The hidden fields (SAMLResponse, RelayState) and the action of an HTTP-POST binding page."""
    root = etree.HTML(page)
    form = root.find(".//form")
    fields = {
        field.get("name"): field.get("value") for field in form.iter("input") if field.get("name")
    }
    fields["_action"] = html.unescape(form.get("action"))
    return fields
