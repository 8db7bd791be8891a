"""SAML 2.0 for KOMBIT's Context Handler: the OIOSAML 3 vocabulary, RSASSA-PSS for pysaml2 and
the Basic Privilege Profile.

pysaml2 7.5.5 knows neither RSASSA-PSS (which Context Handler asks for with OCES3 certificates)
nor libxmlsec1 1.3 (its XML backend runs the `xmlsec1` binary; Debian's is 1.2, without PSS).
So every XML signature, signature check and XML encryption here goes through the `xmlsec` wheel,
which bundles libxmlsec1 1.3, and the redirect binding's signer learns the PSS URI
(docs/saml-spike.md has the findings). The test identity provider (tests/idp/saml_idp.py) uses
the same module, so both ends speak exactly this.
"""

from __future__ import annotations

import base64

import xmlsec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree
from saml2 import entity as saml2_entity
from saml2 import pack, samlp, sigver, xmldsig

LIBXMLSEC_NEEDED = (1, 3, 0)

# --- OIOSAML 3 vocabulary ---------------------------------------------------------------------
SPEC_VERSION = "https://data.gov.dk/model/core/specVersion"
LOA = "https://data.gov.dk/concept/core/nsis/loa"
EMAIL = "https://data.gov.dk/model/core/eid/email"
FULL_NAME = "https://data.gov.dk/model/core/eid/fullName"
CVR = "https://data.gov.dk/model/core/eid/professional/cvr"
ORG_NAME = "https://data.gov.dk/model/core/eid/professional/orgName"
UUID_PERSISTENT = "https://data.gov.dk/model/core/eid/professional/uuid/persistent"
PRIVILEGES_ATTRIBUTE = "https://data.gov.dk/model/core/eid/privilegesIntermediate"
PRIVILEGES_ATTRIBUTE_OIOSAML2 = "dk:gov:saml:attribute:Privileges_intermediate"
LOA_LEVELS = ("Low", "Substantial", "High")
LOA_URI = {level: f"{LOA}/{level}" for level in LOA_LEVELS}
BPP_NAMESPACES = (
    "http://digst.dk/oiosaml/basic_privilege_profile",  # OIO BPP 1.2 (OIOSAML 3)
    "http://itst.dk/oiosaml/basic_privilege_profile",  # older issuers
)
CVR_SCOPE_PREFIX = "urn:dk:gov:saml:cvrNumberIdentifier:"

# --- algorithms --------------------------------------------------------------------------------
SIG_RSA_PSS_SHA256 = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
SIG_RSA_SHA256 = xmldsig.SIG_RSA_SHA256
DIGEST_SHA256 = xmldsig.DIGEST_SHA256
ALLOWED_DIGESTS = frozenset({DIGEST_SHA256, xmldsig.DIGEST_SHA384, xmldsig.DIGEST_SHA512})
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
# What a SAML signature uses (SAML core 5.4.3-4); XPath, XSLT and the like run before the
# signature value is checked, so an unsigned message could make them cost minutes.
ALLOWED_TRANSFORMS = frozenset({ENVELOPED, EXC_C14N})
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"


# --- RSASSA-PSS for pysaml2 ----------------------------------------------------------------------
class RsaPssSigner(sigver.RSASigner):
    """RSASSA-PSS with MGF1 of the same hash and a salt as long as the digest (RFC 9231 2.3.10)."""

    def _padding(self):
        return padding.PSS(mgf=padding.MGF1(self.digest), salt_length=self.digest.digest_size)

    def sign(self, msg, key=None):
        return (key or self.key).sign(msg, self._padding(), self.digest)

    def verify(self, msg, sig, key=None):
        key = key or self.key
        if isinstance(key, rsa.RSAPrivateKey):
            key = key.public_key()
        try:
            key.verify(sig, msg, self._padding(), self.digest)
        except Exception:
            return False
        return True


def enable_rsa_pss() -> None:
    """Teach pysaml2 7.5 the PSS URI: redirect-binding signer and the allowed-algorithm lists.

    pysaml2 copies SIG_ALLOWED_ALG into saml2.entity and saml2.pack at import, so all three
    module attributes are replaced. Idempotent.
    """
    sigver.SIGNER_ALGS[SIG_RSA_PSS_SHA256] = RsaPssSigner(hashes.SHA256())
    allowed = xmldsig.SIG_ALLOWED_ALG
    if all(uri != SIG_RSA_PSS_SHA256 for _, uri in allowed):
        allowed = allowed + (("SIG_RSA_PSS_SHA256", SIG_RSA_PSS_SHA256),)
    for module in (xmldsig, saml2_entity, pack):
        module.SIG_ALLOWED_ALG = allowed


class XmlsecWheelBackend(sigver.CryptoBackend):
    """pysaml2 crypto backend on the `xmlsec` wheel (libxmlsec1 1.3, RSASSA-PSS and AES-GCM).

    Takes the place of CryptoBackendXmlSec1 (which runs Debian's xmlsec1 1.2 binary). The key
    that checks a signature is always the one pysaml2 hands over (from metadata); KeyInfo in the
    document is never used. Only the algorithms in `allowed_sigalgs` are accepted.
    """

    def __init__(
        self,
        allowed_sigalgs=(SIG_RSA_PSS_SHA256, SIG_RSA_SHA256),
        data_cipher=xmlsec.constants.TransformAes256Gcm,
        key_transport=xmlsec.constants.TransformRsaOaep,
    ):
        super().__init__()
        self.allowed_sigalgs = frozenset(allowed_sigalgs)
        self.data_cipher = data_cipher
        self.key_transport = key_transport

    @property
    def version(self):
        return ".".join(str(part) for part in xmlsec.get_libxmlsec_version())

    @staticmethod
    def _parse(text):
        if not isinstance(text, (str, bytes)):
            text = str(text)  # a pysaml2 SamlBase instance
        if isinstance(text, str):
            text = text.encode("utf-8")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        return etree.fromstring(text, parser)

    @staticmethod
    def _signed_node(root, node_name, node_id):
        namespace, _, local = node_name.rpartition(":")
        tag = f"{{{namespace}}}{local}"
        for node in root.iter(tag):
            if node_id is None or node.get("ID") == node_id:
                return node
        raise sigver.SignatureError(f"no {local} with ID {node_id}")

    def sign_statement(self, statement, node_name, key_file, node_id):
        root = self._parse(statement)
        xmlsec.tree.add_ids(root, ["ID"])
        node = self._signed_node(root, node_name, node_id)
        signature = node.find(f"{{{DS}}}Signature")
        if signature is None:
            raise sigver.SignatureError(f"no signature template in {node_name}")
        context = xmlsec.SignatureContext()
        context.key = xmlsec.Key.from_file(key_file, xmlsec.constants.KeyDataFormatPem)
        try:
            context.sign(signature)
        except xmlsec.Error as exc:
            raise sigver.SignatureError(str(exc)) from exc
        return etree.tostring(root, encoding="unicode")

    @staticmethod
    def _refuse_wrapping(root, node_id) -> None:
        """Signature wrapping: the checked element must be the only one with its ID in the
        whole document (libxmlsec1's add_ids accepts duplicates and would check the first,
        while pysaml2 reads another), and no xml:id may stand in for it."""
        if node_id is None:
            raise sigver.SignatureError("no ID to check the signature of")
        # Any attribute named ID, in any namespace: libxmlsec1 registers p:ID too.
        same = root.xpath("//*[@*[local-name()='ID'][.=$id]]", id=node_id)
        if len(same) != 1:
            raise sigver.SignatureError(f"{len(same)} elements carry the signed ID")
        if root.xpath("//@xml:id"):
            raise sigver.SignatureError("xml:id in a SAML message")

    @staticmethod
    def _refuse_costly_transforms(signature) -> None:
        method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}CanonicalizationMethod")
        if method is None or method.get("Algorithm") != EXC_C14N:
            raise sigver.SignatureError("canonicalization other than exclusive c14n")
        transforms = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}Transforms/*")
        for transform in transforms:
            if transform.get("Algorithm") not in ALLOWED_TRANSFORMS:
                raise sigver.SignatureError("a transform SAML signatures do not use")
            for child in transform:
                if (
                    isinstance(child.tag, str)
                    and etree.QName(child).localname != "InclusiveNamespaces"
                ):
                    raise sigver.SignatureError("a transform with unexpected content")

    def validate_signature(self, signedtext, cert_file, cert_type, node_name, node_id):
        try:
            root = self._parse(signedtext)
        except etree.XMLSyntaxError as exc:
            raise sigver.SignatureError(f"not XML: {exc.__class__.__name__}") from None
        self._refuse_wrapping(root, node_id)
        xmlsec.tree.add_ids(root, ["ID"])
        node = self._signed_node(root, node_name, node_id)
        signature = node.find(f"{{{DS}}}Signature")
        if signature is None:
            raise sigver.SignatureError(f"{node_name} {node_id} is not signed")
        references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
        if len(references) != 1 or references[0].get("URI") != f"#{node_id}":
            raise sigver.SignatureError("the signature does not cover the element it sits in")
        self._refuse_costly_transforms(signature)
        method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
        algorithm = None if method is None else method.get("Algorithm")
        if algorithm not in self.allowed_sigalgs:
            raise sigver.SignatureError(f"signature algorithm not allowed: {algorithm}")
        digests = {d.get("Algorithm") for d in signature.iter(f"{{{DS}}}DigestMethod")}
        if not digests or not digests <= ALLOWED_DIGESTS:
            raise sigver.SignatureError(f"digest algorithm not allowed: {sorted(digests)}")
        key_format = (
            xmlsec.constants.KeyDataFormatCertPem
            if cert_type == "pem"
            else xmlsec.constants.KeyDataFormatCertDer
        )
        context = xmlsec.SignatureContext()
        context.key = xmlsec.Key.from_file(cert_file, key_format)
        try:
            context.verify(signature)
        except xmlsec.Error as exc:
            raise sigver.SignatureError(f"{node_name} {node_id}: {exc}") from exc
        return True

    def encrypt_assertion(self, statement, enc_key, template, key_type=None, node_xpath=None):
        """Replace the Response's Assertion by EncryptedAssertion/EncryptedData (AES-256-GCM,
        the key wrapped with RSA-OAEP for `enc_key`, a PEM certificate file)."""
        if isinstance(statement, samlp.Response):
            statement = sigver.pre_encrypt_assertion(statement)
        root = self._parse(statement)
        holder = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}EncryptedAssertion")
        assertion = (
            None
            if holder is None
            else holder.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
        )
        if assertion is None:
            raise sigver.EncryptError("no assertion to encrypt")
        manager = xmlsec.KeysManager()
        manager.add_key(xmlsec.Key.from_file(enc_key, xmlsec.constants.KeyDataFormatCertPem))
        data = xmlsec.template.encrypted_data_create(
            root, self.data_cipher, type=xmlsec.constants.TypeEncElement, ns="xenc"
        )
        xmlsec.template.encrypted_data_ensure_cipher_value(data)
        key_info = xmlsec.template.encrypted_data_ensure_key_info(data, ns="ds")
        wrapped = xmlsec.template.add_encrypted_key(key_info, self.key_transport)
        xmlsec.template.encrypted_data_ensure_cipher_value(wrapped)
        context = xmlsec.EncryptionContext(manager)
        bits = {
            xmlsec.constants.TransformAes128Gcm: 128,
            xmlsec.constants.TransformAes128Cbc: 128,
        }.get(self.data_cipher, 256)
        context.key = xmlsec.Key.generate(
            xmlsec.constants.KeyDataAes, bits, xmlsec.constants.KeyDataTypeSession
        )
        try:
            context.encrypt_xml(data, assertion)
        except xmlsec.Error as exc:
            raise sigver.EncryptError(str(exc)) from exc
        return etree.tostring(root, encoding="unicode")

    def decrypt(self, enctext, key_file):
        """Decrypt the first EncryptedData of the document (as `xmlsec1 --decrypt` does)."""
        root = self._parse(enctext)
        data = next(root.iter(f"{{{XENC}}}EncryptedData"), None)
        if data is None:
            return etree.tostring(root, encoding="unicode")
        # Never follow a reference: libxmlsec1 would read RetrievalMethod and CipherReference
        # targets within the document and from files (file:///dev/zero).
        for node in data.iter():
            if isinstance(node.tag, str) and any(
                etree.QName(name).localname == "URI" for name in node.attrib
            ):
                raise sigver.XmlsecError("a reference in encrypted data")
        manager = xmlsec.KeysManager()
        manager.add_key(xmlsec.Key.from_file(key_file, xmlsec.constants.KeyDataFormatPem))
        context = xmlsec.EncryptionContext(manager)
        try:
            context.decrypt(data)
        except xmlsec.Error as exc:
            raise sigver.XmlsecError(str(exc)) from exc
        return etree.tostring(root, encoding="unicode")


def use_wheel_crypto(entity, **backend_options):
    """Point a pysaml2 Server or Saml2Client at XmlsecWheelBackend (config crypto_backend must be
    "XMLSecurity", which needs no xmlsec1 binary) and give it the redirect-binding signer."""
    enable_rsa_pss()
    entity.sec.crypto = XmlsecWheelBackend(**backend_options)
    key_file = entity.config.key_file
    if key_file:
        entity.sec.sec_backend = sigver.RSACrypto(sigver.import_rsa_key_from_file(key_file))
    return entity


# --- Basic Privilege Profile -----------------------------------------------------------------
def decode_privileges(value: str) -> list[tuple[str, list[str]]]:
    """base64 OIO BPP PrivilegeList -> [(CVR, [privilege URI, ...])]; groups whose Scope is not a
    CVR number are left out. Raises ValueError on anything that is not a PrivilegeList."""
    xml = base64.b64decode(value.strip(), validate=True)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(xml, parser)
    if (
        etree.QName(root).localname != "PrivilegeList"
        or etree.QName(root).namespace not in BPP_NAMESPACES
    ):
        raise ValueError(f"not a PrivilegeList: {root.tag}")
    groups = []
    for group in root:
        if not isinstance(group.tag, str) or etree.QName(group).localname != "PrivilegeGroup":
            continue
        scope = group.get("Scope", "")
        if not scope.startswith(CVR_SCOPE_PREFIX):
            continue
        cvr = scope[len(CVR_SCOPE_PREFIX) :]
        privileges = [
            (child.text or "").strip()
            for child in group
            if isinstance(child.tag, str) and etree.QName(child).localname == "Privilege"
        ]
        groups.append((cvr, [p for p in privileges if p]))
    return groups


class SamlStackError(RuntimeError):
    """The installed XML security library cannot do what Context Handler needs."""


def check_stack() -> tuple[int, ...]:
    """libxmlsec1 must be 1.3 or newer (RSASSA-PSS); a source build of the xmlsec package links
    the system's 1.2 and would silently lose it. Returns the version; raises SamlStackError."""
    version = tuple(xmlsec.get_libxmlsec_version())
    if version < LIBXMLSEC_NEEDED:
        raise SamlStackError(
            "the xmlsec package is linked to libxmlsec1 "
            + ".".join(map(str, version))
            + "; SAML needs 1.3 or newer (install the binary wheel from the lock)"
        )
    return version
