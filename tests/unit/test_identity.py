"""The rules that turn an identity provider's claims into a Doorstep role and team."""

from __future__ import annotations

import pytest

from fieldapp.domain.identity import (
    IdentitySettingsError,
    oidc_settings,
    parse_role_map,
    role_from_claims,
    team_from_claims,
)

BASE = {
    "OIDC_ISSUER": "https://login.example.dk/",
    "OIDC_CLIENT_ID": "doorstep",
    "OIDC_ROLE_CLAIM": "roles",
    "OIDC_ROLE_MAP": '{"Doorstep.Lead": "lead", "Doorstep.Worker": "worker", "IT": "admin"}',
    "OIDC_TEAM_CLAIM": "team",
    "LOCAL_LOGIN": "on",
}


def settings(**changes):
    return oidc_settings({**BASE, **changes})


def test_the_issuer_loses_its_trailing_slash_and_the_map_is_read():
    s = settings()
    assert s.issuer == "https://login.example.dk" and s.enabled
    assert s.role_map["Doorstep.Lead"] == "lead"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"OIDC_ROLE_MAP": "{nope"}, "FIELDAPP_OIDC_ROLE_MAP is not JSON"),
        ({"OIDC_ROLE_MAP": "[1]"}, "must be a JSON object"),
        ({"OIDC_ROLE_MAP": '{"x": "boss"}'}, "maps 'x' to 'boss'"),
        ({"OIDC_ROLE_MAP": ""}, "FIELDAPP_OIDC_ROLE_MAP is empty"),
        ({"OIDC_CLIENT_ID": ""}, "FIELDAPP_OIDC_CLIENT_ID is not"),
        ({"OIDC_SCOPES": "email"}, "must include openid"),
        ({"LOCAL_LOGIN": "sometimes"}, "FIELDAPP_LOCAL_LOGIN is 'sometimes'"),
        ({"OIDC_CLOCK_SKEW_SECONDS": 3600}, "0 to 300"),
        ({"OIDC_ISSUER": "", "LOCAL_LOGIN": "off"}, "nobody could log in"),
    ],
)
def test_a_setting_that_cannot_work_is_named(changes, named):
    with pytest.raises(IdentitySettingsError, match=named):
        settings(**changes)


@pytest.mark.parametrize("role", ["partner", "landlord", "boss"])
def test_a_role_map_grants_no_role_that_needs_an_organisation(role):
    # A partner or landlord is bound to its partner or landlord by an administrator.
    with pytest.raises(IdentitySettingsError, match=f"to '{role}'; roles are worker, lead"):
        parse_role_map(f'{{"Doorstep.X": "{role}"}}')


def test_no_provider_needs_no_map():
    assert not oidc_settings({"LOCAL_LOGIN": "on"}).enabled
    assert parse_role_map("") == {}


def test_the_role_that_carries_most_duty_wins_and_unknown_values_give_none():
    s = settings()
    both = role_from_claims({"roles": ["Doorstep.Worker", "Doorstep.Lead", "Other"]}, s)
    assert (both.role, both.values) == ("lead", ("Doorstep.Lead", "Doorstep.Worker"))
    assert role_from_claims({"roles": "IT"}, s).role == "admin"  # one value as a string
    assert role_from_claims({"roles": ["Other"]}, s).role is None
    assert role_from_claims({}, s).reason == "unmapped"
    assert role_from_claims({"roles": {"Doorstep.Lead": 1}}, s).role is None  # not a list


def test_entra_group_overage_is_said_not_guessed():
    s = settings(OIDC_ROLE_CLAIM="groups")
    claims = {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {}}}
    assert role_from_claims(claims, s).reason == "overage"


def test_the_team_comes_from_its_claim_when_one_is_configured():
    assert team_from_claims({"team": " Team A "}, settings()) == "Team A"
    assert team_from_claims({"team": ["Team B", "Team C"]}, settings()) == "Team B"
    assert team_from_claims({"team": ""}, settings()) is None
    assert team_from_claims({"team": "Team A"}, settings(OIDC_TEAM_CLAIM="")) is None
