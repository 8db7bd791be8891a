"""The XML security stack Context Handler needs: RSASSA-PSS signatures made and checked by the
xmlsec wheel's libxmlsec1 1.3 through pysaml2, and pysaml2's algorithm lists still where
enable_rsa_pss() patches them (a pysaml2 upgrade that moves them fails here first)."""

from __future__ import annotations

import base64

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from saml2 import entity, pack, sigver, xmldsig

from fieldapp.services.saml_crypto import (
    DS,
    SIG_RSA_PSS_SHA256,
    SIG_RSA_SHA256,
    RsaPssSigner,
    XmlsecWheelBackend,
    check_stack,
    decode_privileges,
    enable_rsa_pss,
)
from tests.idp.saml_idp import encode_privileges, make_key_pair

REQUEST = (
    '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="id-1" '
    'Version="2.0" IssueInstant="2026-12-01T10:00:00Z">'
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="{alg}"/><ds:Reference URI="#id-1"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/>'
    "</ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature></samlp:AuthnRequest>"
)
NODE = "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return make_key_pair(tmp_path_factory.mktemp("pss"), "pss", "PSS test")


def test_the_installed_libxmlsec_knows_rsa_pss():
    assert check_stack() >= (1, 3, 0)


def test_an_xml_signature_made_with_rsa_pss_verifies_and_is_pss(keys):
    key, cert = keys
    backend = XmlsecWheelBackend()
    signed = backend.sign_statement(REQUEST.format(alg=SIG_RSA_PSS_SHA256), NODE, str(key), "id-1")
    assert backend.validate_signature(signed, str(cert), "pem", NODE, "id-1")
    # Checked independently of libxmlsec: the SignatureValue is PSS over the SignedInfo.
    root = etree.fromstring(signed.encode())
    info = root.find(f".//{{{DS}}}SignedInfo")
    value = base64.b64decode(root.findtext(f".//{{{DS}}}SignatureValue"))
    public = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
    canonical = etree.tostring(info, method="c14n", exclusive=True)
    public.verify(value, canonical, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    # Changed after signing: refused.
    changed = signed.replace("2026-12-01T10:00:00Z", "2026-12-02T10:00:00Z")
    assert changed != signed
    with pytest.raises(sigver.SignatureError):
        backend.validate_signature(changed, str(cert), "pem", NODE, "id-1")


def test_a_second_element_with_the_signed_id_is_refused(keys):
    """Signature wrapping: libxmlsec1 would check the first element with the ID while
    pysaml2 reads another; two elements with one ID are refused before anything is checked."""
    key, cert = keys
    backend = XmlsecWheelBackend()
    signed = backend.sign_statement(REQUEST.format(alg=SIG_RSA_PSS_SHA256), NODE, str(key), "id-1")
    assert backend.validate_signature(signed, str(cert), "pem", NODE, "id-1")
    twin = signed.replace("</samlp:AuthnRequest>", '<Extra ID="id-1"/></samlp:AuthnRequest>')
    with pytest.raises(sigver.SignatureError, match="2 elements carry the signed ID"):
        backend.validate_signature(twin, str(cert), "pem", NODE, "id-1")
    xml_id = signed.replace("</samlp:AuthnRequest>", '<Extra xml:id="id-1"/></samlp:AuthnRequest>')
    with pytest.raises(sigver.SignatureError, match="xml:id"):
        backend.validate_signature(xml_id, str(cert), "pem", NODE, "id-1")


def test_a_backend_that_accepts_only_pss_refuses_rsa_sha256(keys):
    key, cert = keys
    signed = XmlsecWheelBackend().sign_statement(
        REQUEST.format(alg=SIG_RSA_SHA256), NODE, str(key), "id-1"
    )
    assert XmlsecWheelBackend().validate_signature(signed, str(cert), "pem", NODE, "id-1")
    with pytest.raises(sigver.SignatureError, match="not allowed"):
        XmlsecWheelBackend(allowed_sigalgs=(SIG_RSA_PSS_SHA256,)).validate_signature(
            signed, str(cert), "pem", NODE, "id-1"
        )


def test_a_signature_by_another_key_is_refused(keys, tmp_path):
    other_key, _ = make_key_pair(tmp_path, "other", "Other")
    signed = XmlsecWheelBackend().sign_statement(
        REQUEST.format(alg=SIG_RSA_PSS_SHA256), NODE, str(other_key), "id-1"
    )
    with pytest.raises(sigver.SignatureError):
        XmlsecWheelBackend().validate_signature(signed, str(keys[1]), "pem", NODE, "id-1")


def test_the_redirect_signer_is_pss_and_pysaml2s_lists_are_patched(keys):
    enable_rsa_pss()
    for module in (xmldsig, entity, pack):
        assert SIG_RSA_PSS_SHA256 in [uri for _, uri in module.SIG_ALLOWED_ALG], module.__name__
    signer = sigver.SIGNER_ALGS[SIG_RSA_PSS_SHA256]
    assert isinstance(signer, RsaPssSigner)
    private = serialization.load_pem_private_key(keys[0].read_bytes(), None)
    signature = signer.sign(b"SAMLRequest=x&SigAlg=y", private)
    assert signer.verify(b"SAMLRequest=x&SigAlg=y", signature, private.public_key())
    assert not signer.verify(b"SAMLRequest=x&SigAlg=z", signature, private.public_key())
    pkcs1 = private.sign(b"SAMLRequest=x&SigAlg=y", padding.PKCS1v15(), hashes.SHA256())
    assert not signer.verify(b"SAMLRequest=x&SigAlg=y", pkcs1, private.public_key())


def test_the_xmlsec_wheel_and_lxml_share_one_libxml2():
    assert xmlsec.get_libxml_version() == etree.LIBXML_VERSION[:3]


def test_privileges_decode_in_both_namespaces_and_refuse_other_xml():
    value = encode_privileges({"29189846": ["urn:a", "urn:b"], "11111111": ["urn:c"]})
    assert decode_privileges(value) == [("29189846", ["urn:a", "urn:b"]), ("11111111", ["urn:c"])]
    older = base64.b64decode(value).replace(b"digst.dk", b"itst.dk")
    assert decode_privileges(base64.b64encode(older).decode())[0][0] == "29189846"
    with pytest.raises(ValueError):
        decode_privileges(base64.b64encode(b"<Other/>").decode())
    # An entity is never expanded: a privilege spelled through one is no privilege.
    ns = b"http://digst.dk/oiosaml/basic_privilege_profile"
    sneaky = (
        b'<!DOCTYPE bpp:PrivilegeList [<!ENTITY e "urn:priv:admin">]>'
        b'<bpp:PrivilegeList xmlns:bpp="' + ns + b'">'
        b'<PrivilegeGroup Scope="urn:dk:gov:saml:cvrNumberIdentifier:29189846">'
        b"<Privilege>&e;</Privilege></PrivilegeGroup></bpp:PrivilegeList>"
    )
    assert decode_privileges(base64.b64encode(sneaky).decode()) == [("29189846", [])]


def test_only_the_transforms_saml_uses_are_run(keys):
    """An XPath (or XSLT) transform runs before the signature value is checked: an unsigned
    message could make it cost minutes. Only enveloped-signature and exclusive c14n pass."""
    key, cert = keys
    backend = XmlsecWheelBackend()
    signed = backend.sign_statement(REQUEST.format(alg=SIG_RSA_PSS_SHA256), NODE, str(key), "id-1")
    xpath = signed.replace(
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>',
        '<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">'
        "<ds:XPath>count(//. | //@* | //namespace::*)</ds:XPath></ds:Transform>",
    )
    assert xpath != signed
    with pytest.raises(sigver.SignatureError, match="transform"):
        backend.validate_signature(xpath, str(cert), "pem", NODE, "id-1")
    inclusive = signed.replace(
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>',
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>',
    )
    with pytest.raises(sigver.SignatureError, match="canonicalization"):
        backend.validate_signature(inclusive, str(cert), "pem", NODE, "id-1")
    with pytest.raises(sigver.SignatureError, match="not XML"):
        backend.validate_signature("<a>&e;</a>", str(cert), "pem", NODE, "id-1")
