"""The JSON API's OpenAPI description (fieldapp/openapi.json) and schemathesis driven by it.

The description is served as written and is a valid OpenAPI 3.1 document; it covers exactly the
app's JSON endpoints, so neither can change without the other. Schemathesis then sends every
operation its examples, its coverage cases (boundaries, missing and wrong parameters) and
Hypothesis-generated valid and invalid requests, in-process through the Flask app, as a
logged-in user with the headers and Origin the app's own pages send. No answer may be a 500,
and every answer must be one the description lists: status code, media type, headers and body.
"""

from __future__ import annotations

import inspect
import json
import re
import uuid
import zlib
from pathlib import Path

import pytest
import schemathesis

import fieldapp
from fieldapp.extensions import db
from fieldapp.models import Action, Case, ConsentText, Partner
from tests.support import PASSWORD, AuthActions

OPENAPI_FILE = Path(fieldapp.__file__).parent / "openapi.json"
DOCUMENT = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
ORIGIN = "http://localhost"  # the host the Werkzeug and schemathesis test clients send
SESSION_COOKIE = "doorstep_session"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# The example subscription in the description (a real P-256 public key; no private key kept).
EXAMPLE = DOCUMENT["paths"]["/push/subscriptions"]["post"]["requestBody"]["content"]
EXAMPLE = EXAMPLE["application/json"]["examples"]["chrome"]["value"]

# Every endpoint that answers JSON, each with who may call it and a request that succeeds
# (method, path, headers, JSON body), in an order that works. The test of part (b) checks the
# list against the app in both directions and sends each of these requests.
PUSH = {"X-Doorstep-Push": "1"}
JSON_ENDPOINTS = {
    "field.sync": ("worker", "POST", "/sync", {"X-Doorstep-Sync": "1"}, {"records": []}),
    "push.subscribe": ("worker", "POST", "/push/subscriptions", PUSH, EXAMPLE),
    "push.unsubscribe": (
        "worker", "DELETE", "/push/subscriptions", PUSH, {"endpoint": EXAMPLE["endpoint"]}
    ),
    "register.subject_access_json": ("lead", "GET", "/households/{}/record.json", {}, None),
    "audit.processing_json": ("dpo", "GET", "/records-of-processing.json", {}, None),
    "pwa.openapi": ("anonymous", "GET", "/openapi.json", {}, None),
}  # fmt: skip
# Views that write JSON but are no part of the API, and why.
NOT_API = {
    "pwa.manifest": "the web app manifest (application/manifest+json), read by browsers",
    "auth.logout": "the page's own logout (a form post; JSON only for the page's fetch)",
}
# How a view's own code answers in JSON (a JSON error page, for a request that asks for JSON,
# comes from the app-wide error handlers and makes no endpoint a JSON one).
JSON_MARKERS = re.compile(r"jsonify\(|get_json\(|json\.dumps\(|application/json")

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "max-examples": 25},  # the suite stays under 15 minutes
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "checks": {
            # 302: the login redirect, for a request without a valid session that does not
            # ask for JSON (a download opened in the browser).
            "negative_data_rejection": {
                "expected-statuses": [
                    "302", "400", "401", "403", "404", "405", "406", "409", "415", "422",
                ]
            },
        },
    }
)  # fmt: skip


def _rule_as_path(rule: str) -> str:
    """/households/<int:household_id>/record.json -> /households/{household_id}/record.json"""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _described() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in METHODS
    }


def _schema(app):
    """The description as the app serves it, to be tested against the app in-process. (Loaded
    by from_wsgi, schemathesis would leave out the operation that serves the document.)"""
    schema = schemathesis.openapi.from_dict(
        app.test_client().get("/openapi.json").get_json(), config=CONFIG
    )
    schema.app = app
    return schema


def _login(app, user) -> str:
    """A fresh session for the user; the value of its cookie."""
    client = app.test_client()
    assert AuthActions(client).login(user.email, PASSWORD).status_code in (302, 303)
    return client.get_cookie(SESSION_COOKIE).value


# --- (a) the description itself -------------------------------------------------------------


def test_the_served_description_is_the_file_and_valid_openapi(app, client):
    response = client.get("/openapi.json")  # not logged in: public, it holds no personal data
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.data == OPENAPI_FILE.read_bytes()
    assert response.get_json()["openapi"] == "3.1.0"

    schemathesis.openapi.from_wsgi("/openapi.json", app, config=CONFIG).validate()
    schema = _schema(app)
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == _described()

    # The validation is not vacuous: a response without its description is refused.
    broken = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    del broken["paths"]["/sync"]["post"]["responses"]["200"]["description"]
    with pytest.raises(ValueError, match="description"):
        schemathesis.openapi.from_dict(broken).validate()


# --- (b) the description and the app cannot drift apart ----------------------------------


def test_every_json_endpoint_is_described_and_every_description_is_an_endpoint(
    app, make_user, make_case
):
    rules = {(method, _rule_as_path(rule.rule)): rule for rule in app.url_map.iter_rules()
             for method in rule.methods - {"HEAD", "OPTIONS"}}  # fmt: skip
    missing = sorted(_described() - set(rules))
    assert not missing, f"described, but no such URL rule and method: {missing}"
    described_endpoints = {rules[key].endpoint for key in _described()}
    assert described_endpoints == set(JSON_ENDPOINTS)
    for key, rule in rules.items():
        if rule.endpoint in JSON_ENDPOINTS:
            assert key in _described(), f"{key} of a JSON endpoint is not described"

    # Every view whose own code answers JSON is described (or named in NOT_API, with why).
    writes_json = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and JSON_MARKERS.search(inspect.getsource(inspect.unwrap(view)))
    }
    assert writes_json - set(NOT_API) == set(JSON_ENDPOINTS)
    assert set(NOT_API) <= writes_json, "a NOT_API entry no longer writes JSON"

    # Each JSON endpoint answers JSON when asked as someone allowed to.
    people = {role: make_user(role) for role in ("worker", "lead", "dpo")}
    case_id = make_case(worker_id=people["worker"].id)
    with app.app_context():
        household_id = db.session.get(Case, case_id).tenancy.household_id
    for endpoint, (role, method, path, headers, body) in JSON_ENDPOINTS.items():
        client = app.test_client()
        if role != "anonymous":
            assert AuthActions(client).login(people[role].email).status_code in (302, 303)
        response = client.open(
            path.format(household_id),
            method=method,
            headers={**headers, "Origin": ORIGIN},
            json=body,
        )
        assert response.status_code in (200, 201), (endpoint, response.status_code)
        assert response.mimetype == "application/json", endpoint

    # And no other page answers JSON to a GET, whoever asks.
    for role in ("worker", "lead", "dpo"):
        client = app.test_client()
        assert AuthActions(client).login(people[role].email).status_code in (302, 303)
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint in JSON_ENDPOINTS:
                continue
            values = {"case_id": case_id, "household_id": household_id, "filename": "x.css"}
            path = _rule_as_path(rule.rule).format_map(
                {**dict.fromkeys(rule.arguments, 1), **values}
            )
            response = client.get(path)
            if response.status_code < 300 and "json" in response.mimetype:
                assert rule.endpoint in NOT_API, f"{rule.endpoint} answers JSON to {role}"


# --- (c) schemathesis against the app ------------------------------------------------------


@pytest.fixture
def world(app, make_user, make_case):
    """People and their sessions, cases of the worker's team and another's, consent texts, a
    partner, and one record of each kind already synced (so the right-of-access record has
    something in every list)."""
    worker = make_user("worker")
    lead = make_user("lead")
    dpo = make_user("dpo")
    stranger = make_user("worker", team="Team B")
    cases = [make_case(worker_id=worker.id) for _ in range(3)]
    cases.append(make_case(worker_id=stranger.id, team="Team B"))
    with app.app_context():
        texts = [
            ConsentText(language=code, version=1, body="Samtykke") for code in ("da", "nb", "en")
        ]
        partner = Partner(name="Gældsrådgivningen", kind="debt_counselling")
        db.session.add_all([*texts, partner])
        db.session.commit()
        text_ids = [text.id for text in texts]
        partner_id = partner.id
        households = [db.session.get(Case, c).tenancy.household_id for c in cases]
    sessions = {"worker": _login(app, worker), "lead": _login(app, lead), "dpo": _login(app, dpo)}

    client = app.test_client()
    client.set_cookie(SESSION_COOKIE, sessions["worker"], domain="localhost")
    first = [
        {"type": "visit", "data": {"channel": "door", "result": "met", "notes": "Mødt"}},
        {"type": "need", "data": {"need": "budget", "note": ""}},
        {"type": "consent", "data": {"state": "given", "method": "paper", "language": "da",
                                     "text_id": text_ids[0], "scopes": ["debt_counselling"]}},
        {"type": "action", "data": {"description": "Budget", "owner": "tenant",
                                    "partner_id": partner_id}},
        {"type": "case_edit", "data": {"base_version": 1, "changes": {"phone": "12345678"}}},
        {"type": "case_edit", "data": {"base_version": 1, "changes": {"children": 2}}},
    ]  # fmt: skip

    def sync(*records) -> list[str]:
        records = [{"uuid": str(uuid.uuid4()), "case_id": cases[0], **r} for r in records]
        response = client.post(
            "/sync", json={"records": records}, headers={"X-Doorstep-Sync": "1", "Origin": ORIGIN}
        )
        return [result["status"] for result in response.get_json()["results"]]

    assert sync(*first) == ["applied"] * 5 + ["conflict"]
    with app.app_context():
        action_ids = list(db.session.scalars(db.select(Action.id)))
    later = {"type": "action_status", "data": {"action_id": action_ids[0], "status": "done"}}
    assert sync(later) == ["applied"]
    return {
        "users": {"worker": worker.id, "stranger": stranger.id},
        "sessions": sessions,
        "cases": cases,
        "households": households,
        "text_ids": text_ids,
        "partner_ids": [partner_id],
        "action_ids": action_ids,
    }


MAX_ID = 2**31 - 1


def _pick(value, pool: list, salt):
    """`value` or one of `pool`, chosen by a hash of `salt`; `value` when it is not an id."""
    if type(value) is not int or not 1 <= value <= MAX_ID:
        return value
    options = [value, *pool]
    return options[zlib.crc32(repr(salt).encode()) % len(options)]


def _with_real_ids(record: dict, world: dict) -> dict:
    salt = json.dumps(record, sort_keys=True, default=str)
    fixed = dict(record)
    if "case_id" in record:
        fixed["case_id"] = _pick(record["case_id"], world["cases"], salt)
    if type(record.get("user")) is int:
        worker = world["users"]["worker"]
        fixed["user"] = [record["user"], worker, worker][zlib.crc32(salt.encode()) % 3]
    try:
        uuid.UUID(str(record.get("uuid")))
    except ValueError:
        pass
    else:  # a fresh UUID for each different record: the same one again is a duplicate
        fixed["uuid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, salt))
    data = record.get("data")
    if isinstance(data, dict):
        pools = {
            "text_id": world["text_ids"],
            "partner_id": world["partner_ids"],
            "action_id": world["action_ids"],
            "base_version": [1, 2, 3],
        }
        fixed["data"] = {
            name: _pick(value, pools[name], salt) if name in pools else value
            for name, value in data.items()
        }
    return fixed


# Who calls each operation (the description's security names the session cookie).
CALLER = {
    "/sync": "worker",
    "/push/subscriptions": "worker",
    "/households/{household_id}/record.json": "lead",
    "/records-of-processing.json": "dpo",
}


@pytest.fixture
def api_schema(app, world):
    """The description as the app serves it, with the session of the operation's caller as
    its cookie and real ids mixed into what schemathesis generates."""
    schema = _schema(app)
    sessions = world["sessions"]

    class SessionCookie:
        def get(self, case, context):
            role = CALLER.get(case.operation.path)
            return sessions[role] if role else None

        def set(self, case, data, context):
            case.cookies = {**(case.cookies or {}), SESSION_COOKIE: data}

    schema.auth(refresh_interval=None)(SessionCookie)

    @schema.hook
    def map_case(context, case):
        # Mix real ids into what was generated, in every phase, so that records reach the
        # handlers and the database instead of stopping at "case not found". The choice is a
        # function of the generated value (reproducible, shrinkable); a value that is not a
        # valid id stays as it is, as it was made invalid on purpose.
        if case.operation.path == "/sync" and isinstance(case.body, dict):
            records = case.body.get("records")
            if isinstance(records, list):
                records = [_with_real_ids(r, world) if isinstance(r, dict) else r for r in records]
                case.body = {**case.body, "records": records}
        elif "household_id" in (case.path_parameters or {}):
            value = case.path_parameters["household_id"]
            case.path_parameters = {
                **case.path_parameters,
                "household_id": _pick(value, world["households"], value),
            }
        return case

    return schema


def _sync_answers_as_described(ctx, response, case):
    """A JSON object with a `records` array of at most 50 gets 200 and one result per record;
    anything else 400. (Which records are applied depends on the database, not on the shape.)
    Judged on the request as sent: the coverage phase also probes other media types."""
    sent = response.request
    if sent.method != "POST" or case.operation.path != "/sync":
        return None
    if response.status_code not in (200, 400):
        return None  # refused before the body is read (401, 403, 413)
    mimetype = (sent.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    try:
        body = json.loads(sent.body or b"")
    except ValueError:
        body = None
    is_json = mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )
    records = body.get("records") if is_json and isinstance(body, dict) else None
    well_formed = isinstance(records, list) and len(records) <= 50
    assert response.status_code == (200 if well_formed else 400), "200 iff well-formed"
    if well_formed:
        assert len(json.loads(response.content)["results"]) == len(records)
    return None


BASE_CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.missing_required_header,
    schemathesis.checks.unsupported_method,  # an undescribed method gets 405 with Allow
    schemathesis.checks.allow_header_conformance,
    schemathesis.checks.ignored_auth,  # without the session, or a forged one: refused
    _sync_answers_as_described,
]
# The sync endpoint answers a well-formed batch with 200 and refuses bad records one by one,
# so a record that breaks its schema gets "rejected" in a 200, not a 4xx. A subscription that
# matches the schema is still refused unless its endpoint belongs to a configured push service
# and its key is a point on the curve, which no JSON Schema can say.
SKIPPED_CHECKS = {
    ("POST", "/sync"): {"negative_data_rejection"},
    ("POST", "/push/subscriptions"): {"positive_data_acceptance"},
}

api = schemathesis.pytest.from_fixture("api_schema")


@api.parametrize()
def test_schemathesis_finds_no_500_and_every_answer_is_described(case):
    skipped = SKIPPED_CHECKS.get((case.method.upper(), case.operation.path), set())
    checks = BASE_CHECKS + [
        getattr(schemathesis.checks, name)
        for name in ("negative_data_rejection", "positive_data_acceptance")
        if name not in skipped
    ]
    case.call_and_validate(headers={"Origin": ORIGIN}, checks=checks)
