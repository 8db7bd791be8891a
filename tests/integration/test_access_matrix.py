"""Who may reach what: every registered URL rule, every method, for every kind of person,
against the policy written down below. A new endpoint without a line in POLICY fails the test,
so access is decided when an endpoint is added, not discovered later.

People: anonymous; the worker a case is assigned to; a colleague in the same team; the team's
lead; a lead and a worker of another team; the administrator; the data protection officer; a
partner of team A whose tenant consented (debt counselling); the case's landlord, for team A.
Ids in URLs are the team A case and its household (so "another team" means someone else's
case) or, for other objects, ids that do not exist (an allowed person then gets 404, a refused
one 403 before any look-up).

Outcomes: "login" (anonymous: a redirect to /login or 401), "deny" (403, or 404 for an object
the person may not know exists), "ok" (anything else: 2xx, 3xx, 400 or 422 for the empty
form, 404 for an object that does not exist, 409).
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.support import PASSWORD, csrf_from

PEOPLE = (
    "anonymous", "worker", "colleague", "lead", "other_lead", "other_worker", "admin", "dpo",
    "partner", "landlord",
)  # fmt: skip
EVERYONE = set(PEOPLE)
LOGGED_IN = EVERYONE - {"anonymous"}
TEAM_A = {"worker", "colleague", "lead"}
FIELD = {"worker", "colleague", "lead", "other_lead", "other_worker"}  # workers and leads
LEADS = {"lead", "other_lead"}

# endpoint -> who gets through ("public": everyone, anonymous included). For case URLs the
# case belongs to team A and is assigned to "worker"; a set there is about that case.
POLICY: dict[str, set[str] | str] = {
    "static": "public",
    "pwa.contract_module": "public",  # the outbox contract: names and limits, nothing personal
    "pwa.manifest": "public",
    "pwa.offline": "public",
    "pwa.openapi": "public",  # the JSON API's description: no personal data
    "pwa.service_worker": "public",
    "auth.login": "public",
    "auth.invitation": "public",  # the invited person is not logged in yet
    "auth.sso_start": "public",  # without a provider set up it sends to the login form
    "auth.sso_callback": "public",  # the provider's answer; the person is not logged in yet
    "auth.saml_start": "public",  # SAML: as sso_start
    "auth.saml_acs": "public",  # the SAML provider's cross-site answer, only handed on
    "auth.saml_continue": "public",  # checked against the request this browser made
    "auth.saml_metadata": "public",  # our SAML metadata, for registering with the provider
    "auth.saml_organisation_metadata": "public",  # an organisation's own SAML metadata
    "auth.saml_slo": "public",  # single logout: the provider's signed request or answer
    "auth.saml_organisation_slo": "public",  # the same for an organisation's own provider
    "auth.set_language": "public",
    "auth.index": LOGGED_IN,
    "auth.logout": LOGGED_IN,
    # the field app
    "field.today": FIELD,
    "field.card": {"worker", "colleague", "lead"},  # a colleague reads it, without the forms
    "field.team": {"worker", "colleague", "other_worker"},  # each their own team's open cases
    "field.sync": FIELD,  # each record is checked against its case (tests/integration/test_sync)
    # the register: the team's lead; the assigned worker reads the case and adds dates
    "register.dashboard": LEADS,
    "register.cases": LEADS,
    "register.assign": LEADS,
    "register.resolve": LEADS,
    "register.case_page": {"worker", "colleague", "lead"},  # colleague: read only; admin: 403
    "register.break_glass": {"admin"},
    "register.update": {"worker", "lead"},  # the worker follows the case to its outcome
    "register.assign_one": {"lead"},
    "register.legal_step": {"worker", "lead"},
    "register.correct": {"lead"},  # the household of the team's case (rectification)
    # payment plans and rent from benefits: whoever may change the case (services.access)
    "register.add_plan": {"worker", "lead"},
    "register.end_plan": {"worker", "lead"},
    "register.add_deduction": {"worker", "lead"},
    "register.confirm_deduction": {"worker", "lead"},
    "register.close_deduction": {"worker", "lead"},
    "register.position": {"lead"},
    "register.subject_access": {"lead"},  # the household of the team's case (404 for others)
    "register.subject_access_json": {"lead"},
    "register.erase": {"lead"},
    "imports.upload": LEADS | {"landlord"},  # a landlord: their own lists only
    "imports.stage": LEADS | {"landlord"},  # a landlord: fixed to their own landlord
    "imports.confirm": LEADS | {"landlord"},  # own staged file only (404 for others)
    "imports.repreview": LEADS | {"landlord"},
    "imports.geocode": LEADS,
    "imports.staged_rejected_rows": LEADS
    | {"landlord"},  # only the lead's own staged file (404 for others)
    "imports.batch_rejected_rows": LEADS
    | {"landlord"},  # only their own team's imports (404 for others)
    "imports.batch_report": LEADS
    | {"landlord"},  # the result of an import, at its own address (own team)
    "routes.plan_page": LEADS,
    "routes.plan": LEADS,
    "routes.publish": LEADS,
    "routes.move": LEADS,
    "routes.drop": LEADS,
    "routes.book": LEADS,
    "routes.pin": {"lead"},  # the case is team A's: another team's lead finds nothing
    "routes.forget": LEADS,
    "meetings.meetings": LEADS,
    "meetings.create": LEADS,
    "meetings.meeting": LEADS,
    "meetings.decide": LEADS,
    "meetings.add_case": LEADS,  # only the lead's own team's meeting and cases (404 else)
    "meetings.remove_item": LEADS,
    "meetings.search": LEADS,
    "meetings.minutes": LEADS,
    "meetings.print_view": LEADS,
    "reports.outcomes": LEADS,
    "reports.assumptions": LEADS,
    "reports.outcomes_csv_file": LEADS,
    "reports.agreements_csv_file": LEADS,  # aggregate figures, filtered like the page
    "reports.lists_csv_file": LEADS,
    # reminders: everyone sees their own devices; workers, leads and partners subscribe
    "push.settings": LOGGED_IN - {"dpo", "landlord"},
    "push.subscribe": FIELD | {"partner"},
    "push.unsubscribe": FIELD | {"partner"},
    "push.remove_device": LOGGED_IN - {"dpo", "landlord"},
    "push.organisation_settings": {"lead", "other_lead", "admin"},
    # the audit log: a lead their team's part, the data protection officer all of it
    "audit.search": LEADS | {"dpo"},
    "audit.export": LEADS | {"dpo"},
    "audit.grants": {"dpo"},
    "admin.legal_bases": {"admin"},
    "audit.processing": {"dpo", "admin"},
    "audit.processing_json": {"dpo", "admin"},
    # administration
    "admin.users": {"admin"},
    "admin.add_user": {"admin"},
    "admin.set_active": {"admin"},
    "admin.end_sessions": {"admin"},
    "admin.reset_two_factor_of": {"admin"},
    "admin.move_to_organisation_login": {"admin"},  # 404 without single sign-on set up
    "admin.two_factor_policy": {"admin"},
    "auth.two_factor": LOGGED_IN,
    "admin.consent_texts": {"admin"},
    "admin.add_text": {"admin"},
    # partners and landlords: their own pages only (what they see there: test_outside_access)
    "partner.cases": {"partner"},
    "partner.case": {
        "partner"
    },  # the case is shared with them (tests/integration/test_partner_access)
    "partner.update_action": {"partner"},  # only an action of their partner (404 else)
    "partner.meetings": {"partner"},
    "partner.meeting": {"partner"},  # only a meeting of their team with them at the table
    "landlord.tenants": {"landlord"},
    "landlord.answer_hold": {"landlord"},  # only a request to their own landlord (else 404)
    # hold the petition: the case's worker or the team's lead (the colleague is refused)
    "register.ask_hold": {"worker", "lead"},
    "register.withdraw_hold": {"worker", "lead"},
}

MISSING_ID = 999_999


def give_consent(app, case_id: int, worker_id: int, scopes: list[str]) -> None:
    """The tenant's consent, signed at the door, for these partner kinds."""
    import uuid

    from fieldapp.extensions import db
    from fieldapp.models import Consent
    from fieldapp.models.types import utcnow

    with app.app_context():
        db.session.add(
            Consent(
                client_uuid=str(uuid.uuid4()), case_id=case_id, worker_id=worker_id,
                state="given", scopes=scopes, method="signature", language="da",
                recorded_at=utcnow(),
            )
        )  # fmt: skip
        db.session.commit()


@pytest.fixture
def town(app, make_user, make_case):
    """Two teams with a lead and workers each, an administrator, and a case per team."""
    people = {
        "worker": make_user("worker", team="Team A"),
        "colleague": make_user("worker", team="Team A"),
        "lead": make_user("lead", team="Team A"),
        "other_lead": make_user("lead", team="Team B"),
        "other_worker": make_user("worker", team="Team B"),
        "admin": make_user("admin"),
        "dpo": make_user("dpo"),
        "partner": make_user("partner", team="Team A", partner="Gældsrådgivningen"),
        "landlord": make_user("landlord", team="Team A", landlord="Boligselskabet Nord"),
    }
    case_a = make_case(
        worker_id=people["worker"].id, team="Team A", steps=[("hearing", date(2026, 12, 10))]
    )
    give_consent(app, case_a, people["worker"].id, ["debt_counselling", "landlord"])
    make_case(worker_id=people["other_worker"].id, team="Team B")
    return people, case_a


def _url(rule, case_id: int, household_id: int) -> str:
    values = {}
    for name in rule.arguments:
        if name == "case_id":
            values[name] = case_id
        elif name == "household_id":
            values[name] = household_id
        elif name == "filename":
            values[name] = "css/app.css"
        elif name == "staged_id":
            values[name] = "0" * 32
        else:
            values[name] = MISSING_ID
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), path)
    return path


def _outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code == 401 or (response.status_code in (302, 303) and "/login" in location):
        return "login"
    if response.status_code in (403, 404):
        return "deny_or_missing"
    return "ok"


def test_every_endpoint_has_a_rule_and_keeps_to_it(app, town):
    people, case_a = town
    with app.app_context():
        from fieldapp.extensions import db
        from fieldapp.models import Case

        household_a = db.session.get(Case, case_a).tenancy.household_id
    rules = [r for r in app.url_map.iter_rules()]
    unruled = sorted({r.endpoint for r in rules} - set(POLICY))
    assert not unruled, f"endpoints without an access rule in POLICY: {unruled}"
    stale = sorted(set(POLICY) - {r.endpoint for r in rules})
    assert not stale, f"rules for endpoints that no longer exist: {stale}"

    wrong: list[str] = []
    for person in PEOPLE:
        client = app.test_client()
        if person != "anonymous":
            token = csrf_from(client.get("/login").get_data(as_text=True))
            answer = client.post(
                "/login",
                data={"email": people[person].email, "password": PASSWORD, "csrf_token": token},
            )
            assert answer.status_code in (302, 303), person
        token = csrf_from(client.get("/offline").get_data(as_text=True))
        headers = {"X-CSRFToken": token, "X-Doorstep-Sync": "1", "X-Doorstep-Push": "1"}
        for rule in rules:
            if rule.endpoint == "auth.logout":
                continue  # would end this person's session for the rest of the walk
            policy = POLICY[rule.endpoint]
            allowed = policy == "public" or person in policy
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                url = _url(rule, case_a, household_a)
                response = client.open(url, method=method, headers=headers, json=None)
                got = _outcome(response)
                object_missing = response.status_code == 404 and any(
                    a not in ("case_id", "household_id", "filename") for a in rule.arguments
                )
                if policy == "public":
                    # a wrong login is a 401, a bad form a 400: never refused for who one is
                    ok = response.status_code != 403 and response.status_code < 500
                elif allowed:
                    ok = got == "ok" or object_missing
                elif person == "anonymous":
                    ok = got == "login"
                else:
                    ok = got == "deny_or_missing"
                if not ok:
                    wrong.append(f"{person:<12} {method:<6} {url} -> {response.status_code}")
    assert not wrong, "access differs from POLICY:\n" + "\n".join(wrong)


def test_an_id_too_large_for_the_database_is_no_page_not_an_error(app, town):
    """Every `<int:…>` in every URL, with 2**31 and a 30-digit number, as the team's lead and
    the administrator: 404 (or the refusal the person gets anyway), never a 500."""
    from werkzeug.routing import IntegerConverter

    people, _ = town
    for person in ("lead", "admin"):
        client = app.test_client()
        token = csrf_from(client.get("/login").get_data(as_text=True))
        client.post(
            "/login",
            data={"email": people[person].email, "password": PASSWORD, "csrf_token": token},
        )
        token = csrf_from(client.get("/offline").get_data(as_text=True))
        headers = {"X-CSRFToken": token, "X-Doorstep-Sync": "1", "X-Doorstep-Push": "1"}
        walked = 0
        for rule in app.url_map.iter_rules():
            ints = [n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)]
            if not ints:
                continue
            for huge in (2**31, 10**30):
                path = rule.rule
                for name in rule.arguments:
                    value = huge if name in ints else "x"
                    path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", str(value), path)
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    response = client.open(path, method=method, headers=headers)
                    assert response.status_code in (403, 404, 405), (person, method, path)
                    walked += 1
        assert walked > 40, walked
