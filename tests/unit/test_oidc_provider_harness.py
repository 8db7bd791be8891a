"""The test identity provider (tests/oidc.py, tests/idp/oidc_provider.mjs) without the app: a
real authorization code flow with PKCE against panva's oidc-provider, its ID token checked
against its JWKS, and the misbehaviour switches."""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, UnsupportedAlgorithmError
from joserfc.jwk import KeySet

from tests.oidc import (
    ACR_HIGH,
    ACR_SUBSTANTIAL,
    CLIENT_ID,
    CLIENT_SECRET,
    SCOPES,
    OidcProvider,
    ProviderRefused,
    account,
    authorize,
    client,
    end_session,
    oidc_provider,  # noqa: F401 - the fixture
    pkce,
)

CALLBACK = "http://localhost/auth/oidc/callback"
AFTER_LOGOUT = "http://localhost/login"


@pytest.fixture
def provider(oidc_provider):  # noqa: F811 - the fixture imported above
    return oidc_provider(
        [client([CALLBACK], [AFTER_LOGOUT])],
        {
            "worker-1": account(
                "worker@example.org",
                "Wanda Worker",
                roles=["Doorstep.Worker"],
                groups=["g-field"],
                team="Team A",
            ),
            "lead-1": account("lead@example.org", roles=["Doorstep.Lead"], acr=ACR_HIGH),
        },
    )


def start_login(provider, **extra):
    """An authorization URL as a relying party makes it; returns (url, state, nonce, verifier)."""
    verifier, challenge = pkce()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": SCOPES,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    url = provider.discovery["authorization_endpoint"] + "?" + urlencode(params)
    return url, state, nonce, verifier


def callback_params(url: str) -> dict:
    assert url.startswith(CALLBACK + "?"), url
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def redeem(provider, code: str, verifier: str | None, **auth):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    if verifier is not None:
        data["code_verifier"] = verifier
    return requests.post(
        provider.discovery["token_endpoint"],
        data={**data, **auth.get("data", {})},
        auth=auth.get("basic", (CLIENT_ID, CLIENT_SECRET)),
        timeout=10,
    )


def id_token_claims(provider, id_token: str) -> dict:
    """The ID token's claims, its signature checked with the provider's JWKS (RS256 only)."""
    token = jwt.decode(id_token, KeySet.import_key_set(provider.jwks()), algorithms=["RS256"])
    return token.claims


def log_in(provider, account_id: str, session=None, **extra) -> tuple[dict, dict]:
    """A whole login; returns (the token response, the ID token's verified claims)."""
    url, state, nonce, verifier = start_login(provider, **extra)
    params = callback_params(authorize(url, account_id, session=session))
    assert params["state"] == state and params["iss"] == provider.issuer
    answer = redeem(provider, params["code"], verifier)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    claims = id_token_claims(provider, tokens["id_token"])
    assert claims["nonce"] == nonce
    return tokens, claims


def test_discovery_offers_what_the_app_relies_on(provider):
    found = provider.discovery
    assert found["issuer"] == provider.issuer == f"http://127.0.0.1:{provider.port}"
    assert found["response_types_supported"] == ["code"]
    assert found["code_challenge_methods_supported"] == ["S256"]
    assert found["authorization_response_iss_parameter_supported"] is True
    assert found["end_session_endpoint"] == provider.issuer + "/session/end"
    assert set(found["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert found["acr_values_supported"] == [ACR_SUBSTANTIAL, ACR_HIGH]
    assert {"email", "profile", "roles", "groups", "team"} <= set(found["scopes_supported"])
    assert {"roles", "groups", "team", "email", "name", "acr"} <= set(found["claims_supported"])
    print(f"provider started in {provider.start_seconds:.2f} s")


def test_code_flow_with_pkce_gives_a_signed_id_token_with_the_accounts_claims(provider):
    tokens, claims = log_in(provider, "worker-1")
    assert claims["iss"] == provider.issuer and claims["aud"] == CLIENT_ID
    assert claims["sub"] == "worker-1"
    assert claims["email"] == "worker@example.org" and claims["email_verified"] is True
    assert claims["name"] == "Wanda Worker"
    assert claims["roles"] == ["Doorstep.Worker"] and claims["groups"] == ["g-field"]
    assert claims["team"] == "Team A"
    assert claims["acr"] == ACR_SUBSTANTIAL
    assert claims["exp"] > time.time() > claims["iat"] - 5
    me = requests.get(
        provider.discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()
    assert me["sub"] == "worker-1" and me["roles"] == ["Doorstep.Worker"]


def test_acr_is_the_accounts_and_client_secret_post_is_accepted(provider):
    url, _, _, verifier = start_login(provider, acr_values=ACR_HIGH)
    code = callback_params(authorize(url, "lead-1"))["code"]
    answer = redeem(
        provider,
        code,
        verifier,
        basic=None,
        data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert answer.status_code == 200, answer.text
    assert id_token_claims(provider, answer.json()["id_token"])["acr"] == ACR_HIGH


def test_only_the_scopes_asked_for_are_in_the_id_token(provider):
    _, claims = log_in(provider, "worker-1", scope="openid email")
    assert claims["email"] == "worker@example.org"
    assert not {"roles", "groups", "team", "name"} & set(claims)


def test_a_role_changed_at_the_provider_shows_at_the_next_login(provider):
    assert log_in(provider, "worker-1")[1]["roles"] == ["Doorstep.Worker"]
    provider.set_account("worker-1", roles=["Doorstep.Lead"], team="Team B", acr=ACR_HIGH)
    _, claims = log_in(provider, "worker-1")
    assert claims["roles"] == ["Doorstep.Lead"] and claims["team"] == "Team B"
    assert claims["acr"] == ACR_HIGH


def test_a_second_login_in_the_same_browser_is_single_sign_on(provider):
    browser = requests.Session()
    url, _, _, verifier = start_login(provider)
    authorize(url, "worker-1", session=browser)
    url, state, _, verifier = start_login(provider)
    params = callback_params(authorize(url, "nobody", session=browser))  # no form this time
    assert params["state"] == state and redeem(provider, params["code"], verifier).ok
    url, _, _, _ = start_login(provider, prompt="login")
    with pytest.raises(ProviderRefused, match="nobody"):  # the form again
        authorize(url, "nobody", session=browser)


def test_a_code_is_good_once(provider):
    url, _, _, verifier = start_login(provider)
    code = callback_params(authorize(url, "worker-1"))["code"]
    assert redeem(provider, code, verifier).status_code == 200
    again = redeem(provider, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_code_without_its_verifier_or_with_another_is_refused(provider):
    url, _, _, verifier = start_login(provider)
    code = callback_params(authorize(url, "worker-1"))["code"]
    missing = redeem(provider, code, None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    url, _, _, verifier = start_login(provider)
    code = callback_params(authorize(url, "worker-1"))["code"]
    wrong = redeem(provider, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_pkce_is_required_and_s256_only(provider):
    url, _, _, _ = start_login(provider)
    without = url.replace("code_challenge=", "x=").replace("code_challenge_method=S256", "")
    params = callback_params(authorize(without, "worker-1"))
    assert params["error"] == "invalid_request" and "PKCE" in params["error_description"]
    plain = url.replace("code_challenge_method=S256", "code_challenge_method=plain")
    assert callback_params(authorize(plain, "worker-1"))["error"] == "invalid_request"


def test_wrong_secret_and_unknown_account_and_cancel(provider):
    url, _, _, verifier = start_login(provider)
    code = callback_params(authorize(url, "worker-1"))["code"]
    answer = redeem(provider, code, verifier, basic=(CLIENT_ID, "wrong"))
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    with pytest.raises(ProviderRefused, match="nobody"):
        authorize(start_login(provider)[0], "nobody")
    url, state, _, _ = start_login(provider)
    params = callback_params(authorize(url, None))
    assert params["error"] == "access_denied" and params["state"] == state
    assert params["iss"] == provider.issuer


def test_an_unregistered_redirect_uri_is_an_error_page_not_a_redirect(provider):
    url = start_login(provider)[0].replace("localhost", "evil.example")
    with pytest.raises(ProviderRefused, match="redirect_uri"):
        authorize(url, "worker-1")


def test_rp_initiated_logout_returns_to_the_registered_uri_and_ends_the_session(provider):
    browser = requests.Session()
    tokens, _ = log_in(provider, "worker-1", session=browser)

    def logout_url(**extra):
        return provider.discovery["end_session_endpoint"] + "?" + urlencode({
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": AFTER_LOGOUT,
            "state": "bye",
            **extra,
        })  # fmt: skip

    with pytest.raises(ProviderRefused, match="post_logout_redirect_uri"):
        end_session(logout_url(post_logout_redirect_uri="http://evil.example/"), session=browser)
    assert end_session(logout_url(), session=browser) == AFTER_LOGOUT + "?state=bye"
    with pytest.raises(ProviderRefused, match="nobody"):  # no single sign-on any more
        authorize(start_login(provider)[0], "nobody", session=browser)
    # Without a provider session (another browser) it is the same redirect.
    assert end_session(logout_url()) == AFTER_LOGOUT + "?state=bye"


@pytest.mark.parametrize(
    ("tamper", "claim", "expected"),
    [
        ({"id_token_nonce": "wrong"}, "nonce", "wrong"),
        ({"iss": "http://evil.example"}, "iss", "http://evil.example"),
        ({"aud": "someone-else"}, "aud", "someone-else"),
        ({"acr": "urn:doorstep:loa:low"}, "acr", "urn:doorstep:loa:low"),
        ({"id_token_claims": {"roles": ["Doorstep.Admin"]}}, "roles", ["Doorstep.Admin"]),
    ],
)
def test_tampered_id_tokens_are_still_signed_by_the_provider(provider, tamper, claim, expected):
    provider.set_tamper(**tamper)
    url, _, _, verifier = start_login(provider)
    code = callback_params(authorize(url, "worker-1"))["code"]
    claims = id_token_claims(provider, redeem(provider, code, verifier).json()["id_token"])
    assert claims[claim] == expected
    provider.set_tamper()
    assert log_in(provider, "worker-1")[1]["iss"] == provider.issuer


def test_tampered_times_and_signatures(provider):
    provider.set_tamper(exp_seconds=-120)
    url, _, _, verifier = start_login(provider)
    code = callback_params(authorize(url, "worker-1"))["code"]
    claims = id_token_claims(provider, redeem(provider, code, verifier).json()["id_token"])
    assert claims["exp"] < time.time() - 100 and claims["iat"] < claims["exp"]
    for signature, error in [
        ("foreign_key", BadSignatureError),
        ("corrupt", BadSignatureError),
        ("unknown_kid", InvalidKeyIdError),
        ("none", UnsupportedAlgorithmError),
    ]:
        provider.set_tamper(signature=signature)
        url, _, _, verifier = start_login(provider)
        code = callback_params(authorize(url, "worker-1"))["code"]
        id_token = redeem(provider, code, verifier).json()["id_token"]
        with pytest.raises(error):
            id_token_claims(provider, id_token)


def test_tampered_authorization_response(provider):
    provider.set_tamper(auth_iss="http://evil.example", auth_state="not-yours")
    url, state, _, _ = start_login(provider)
    params = callback_params(authorize(url, "worker-1"))
    assert params["iss"] == "http://evil.example" and params["state"] == "not-yours"
    provider.set_tamper(auth_iss=None)
    params = callback_params(authorize(start_login(provider)[0], "worker-1"))
    assert "iss" not in params and "code" in params


def test_a_second_provider_is_another_issuer_with_other_keys(provider, oidc_provider):  # noqa: F811
    other = oidc_provider([client([CALLBACK])], {"worker-1": account("worker@example.org")})
    assert other.issuer != provider.issuer
    assert {k["kid"] for k in other.jwks()["keys"]} != {k["kid"] for k in provider.jwks()["keys"]}
    url, _, _, verifier = start_login(other)
    params = callback_params(authorize(url, "worker-1"))
    assert params["iss"] == other.issuer
    # Its code means nothing to the first provider.
    assert redeem(provider, params["code"], verifier).json()["error"] == "invalid_grant"


def test_an_id_token_lifetime_set_at_the_provider(provider):
    provider.set_options(id_token_ttl=1)
    _, claims = log_in(provider, "worker-1")
    assert claims["exp"] - claims["iat"] == 1


def test_prompt_none_without_a_session_is_login_required(provider):
    url, state, _, _ = start_login(provider, prompt="none")
    params = callback_params(authorize(url, "worker-1"))
    assert params["error"] == "login_required" and params["state"] == state


def test_an_essential_acr_the_account_lacks_is_unmet(provider):
    def asking(*levels):
        claims = {"id_token": {"acr": {"essential": True, "values": list(levels)}}}
        return start_login(provider, claims=json.dumps(claims))

    url, _, _, _ = asking(ACR_HIGH)
    params = callback_params(authorize(url, "worker-1"))  # substantial
    assert params["error"] == "unmet_authentication_requirements"
    url, _, _, verifier = asking(ACR_SUBSTANTIAL, ACR_HIGH)
    code = callback_params(authorize(url, "worker-1"))["code"]
    claims = id_token_claims(provider, redeem(provider, code, verifier).json()["id_token"])
    assert claims["acr"] == ACR_SUBSTANTIAL


def test_a_clock_offset_moves_the_times(provider):
    provider.set_tamper(clock_offset_seconds=600)
    url, _, _, verifier = start_login(provider)
    code = callback_params(authorize(url, "worker-1"))["code"]
    claims = id_token_claims(provider, redeem(provider, code, verifier).json()["id_token"])
    assert claims["iat"] > time.time() + 590 and claims["auth_time"] > time.time() + 590


def test_a_restart_on_the_same_port_is_the_same_issuer_with_new_keys(provider, tmp_path):
    kids = {key["kid"] for key in provider.jwks()["keys"]}
    provider.stop()
    again = OidcProvider.start(tmp_path / "again", [client([CALLBACK])], {}, port=provider.port)
    try:
        assert again.issuer == provider.issuer
        assert {key["kid"] for key in again.jwks()["keys"]}.isdisjoint(kids)
    finally:
        again.stop()
