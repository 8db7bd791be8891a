"""SAML settings are checked at start and name what is wrong; the Basic Privilege Profile gives
a role only for the organisation's own CVR."""

from __future__ import annotations

import json

import pytest

from fieldapp.domain.identity import (
    IdentitySettingsError,
    oidc_settings,
    role_from_privileges,
    saml_settings,
)

ROLE_MAP = {"urn:priv:lead": "lead", "urn:priv:worker": "worker", "urn:priv:it": "admin"}


@pytest.fixture
def base(tmp_path):
    pem = tmp_path / "sp.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n")
    return {
        "SAML_IDP_METADATA_URL": "https://n2adgangsstyring.eksterntest-stoettesystemerne.dk/runtime/saml2/metadata.idp",
        "SAML_KEY_FILE": str(pem),
        "SAML_CERT_FILE": str(pem),
        "SAML_CVR": "29189846",
        "SAML_ROLE_MAP": json.dumps(ROLE_MAP),
        "SAML_SIGNING_ALGORITHM": "sha256-rsa-MGF1",
        "SAML_ACCEPTED_ALGORITHMS": "sha256-rsa-MGF1, rsa-sha256",
        "SAML_NSIS_LEVEL": "Substantial",
        "SAML_PRIVILEGE_ATTRIBUTE": "https://data.gov.dk/model/core/eid/privilegesIntermediate",
    }


def test_the_defaults_read(base):
    s = saml_settings(base)
    assert s.enabled and s.want_encrypted is True
    assert s.signing_algorithm == "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
    assert s.accepted_algorithms[1] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def test_without_metadata_saml_is_off_and_nothing_else_is_checked():
    assert not saml_settings({"SAML_CVR": "no"}).enabled


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"SAML_CVR": "1234"}, "FIELDAPP_SAML_CVR is '1234'"),
        ({"SAML_CVR": ""}, "8-digit CVR"),
        ({"SAML_ROLE_MAP": "{"}, "FIELDAPP_SAML_ROLE_MAP is not JSON"),
        ({"SAML_ROLE_MAP": '{"x": "chief"}'}, "FIELDAPP_SAML_ROLE_MAP maps 'x' to 'chief'"),
        ({"SAML_ROLE_MAP": ""}, "FIELDAPP_SAML_ROLE_MAP is empty"),
        ({"SAML_KEY_FILE": ""}, "FIELDAPP_SAML_KEY_FILE is not"),
        ({"SAML_CERT_FILE": "/nowhere/cert.pem"}, "FIELDAPP_SAML_CERT_FILE (/nowhere/cert.pem)"),
        ({"SAML_NSIS_LEVEL": "Medium"}, "FIELDAPP_SAML_NSIS_LEVEL is 'Medium'"),
        ({"SAML_SIGNING_ALGORITHM": "rsa-sha1"}, "FIELDAPP_SAML_SIGNING_ALGORITHM has 'rsa-sha1'"),
        ({"SAML_ACCEPTED_ALGORITHMS": "md5"}, "FIELDAPP_SAML_ACCEPTED_ALGORITHMS has 'md5'"),
        ({"SAML_CLOCK_SKEW_SECONDS": 900}, "FIELDAPP_SAML_CLOCK_SKEW_SECONDS is 900"),
        ({"SAML_CLOCK_SKEW_SECONDS": "soon"}, "must be a whole number, not 'soon'"),
        ({"SAML_IDP_METADATA_FILE": "/x.xml"}, "not both"),
    ],
)
def test_a_setting_that_cannot_be_used_is_named(base, changes, named):
    with pytest.raises(IdentitySettingsError) as refused:
        saml_settings({**base, **changes})
    assert named in str(refused.value)


def test_a_key_file_that_is_not_pem_is_named(base, tmp_path):
    der = tmp_path / "key.der"
    der.write_bytes(b"\x30\x82\x01\x0a")
    with pytest.raises(IdentitySettingsError, match="FIELDAPP_SAML_KEY_FILE .* is not a PEM"):
        saml_settings({**base, "SAML_KEY_FILE": str(der)})


def test_local_login_off_is_allowed_with_saml_alone(base):
    oidc_settings({**base, "LOCAL_LOGIN": "off"})  # no error: SAML is a way in
    with pytest.raises(IdentitySettingsError, match="nobody could log in"):
        oidc_settings({"LOCAL_LOGIN": "off"})


def test_privileges_count_only_for_the_organisations_cvr(base):
    s = saml_settings(base)
    own, other = "29189846", "11111111"
    decision = role_from_privileges([(own, ["urn:priv:worker", "urn:priv:lead"])], s)
    assert (decision.role, decision.values) == ("lead", ("urn:priv:lead", "urn:priv:worker"))
    assert role_from_privileges([(other, ["urn:priv:it"])], s).role is None
    assert role_from_privileges([(other, ["urn:priv:it"])], s).reason == "other organisation"
    mixed = role_from_privileges([(other, ["urn:priv:it"]), (own, ["urn:priv:worker"])], s)
    assert mixed.role == "worker"  # an administrator elsewhere is a worker here
    assert role_from_privileges([(own, ["urn:priv:payroll"])], s).reason == "unmapped"
    assert role_from_privileges([], s).role is None
