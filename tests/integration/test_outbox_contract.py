"""The outbox contract (fieldapp/domain/outbox.py) is the one source: the case card's forms,
the register's sync handlers, openapi.json and the scripts the phone runs agree with it."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import pytest

from fieldapp.domain import outbox as contract
from fieldapp.extensions import db
from fieldapp.services import sync
from fieldapp.services.fieldwork import ensure_consent_texts

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"X-Doorstep-Sync": "1", "Origin": "http://localhost"}
OPENAPI = json.loads(files("fieldapp").joinpath("openapi.json").read_text(encoding="utf-8"))
SCHEMAS = OPENAPI["components"]["schemas"]
SCHEMA_NAMES = {
    "visit": "VisitRecord",
    "consent": "ConsentRecord",
    "need": "NeedRecord",
    "action": "ActionRecord",
    "case_edit": "CaseEditRecord",
    "action_status": "ActionStatusRecord",
    "payment_plan": "PaymentPlanRecord",
    "benefit_deduction": "BenefitDeductionRecord",
}


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def enum_of(schema: dict) -> set[str]:
    schema = resolve(schema)
    if "enum" in schema:
        return set(schema["enum"])
    if "items" in schema:
        return enum_of(schema["items"])
    found: set[str] = set()
    for option in schema.get("anyOf", []):
        found |= enum_of(option)
    return found


def max_length_of(schema: dict) -> int | None:
    schema = resolve(schema)
    if "maxLength" in schema:
        return schema["maxLength"]
    lengths = [max_length_of(option) for option in schema.get("anyOf", [])]
    return max((n for n in lengths if n), default=None)


def test_every_record_type_has_a_handler_a_model_and_a_schema():
    assert set(contract.RECORD_TYPES) == set(sync._HANDLERS) == set(sync.RECORD_MODELS)
    mapping = SCHEMAS["OutboxRecord"]["discriminator"]["mapping"]
    assert set(mapping) == set(contract.RECORD_TYPES) == set(SCHEMA_NAMES)


@pytest.mark.parametrize("kind", sorted(contract.RECORD_TYPES))
def test_openapi_describes_each_record_as_the_contract_does(kind):
    data = SCHEMAS[SCHEMA_NAMES[kind]]["properties"]["data"]
    spec = contract.RECORD_TYPES[kind]
    assert set(data["properties"]) == set(spec.fields), kind
    assert set(data.get("required", [])) == set(spec.required), kind
    for name, field in spec.fields.items():
        described = data["properties"][name]
        if field.kind in ("choice", "choices"):
            assert enum_of(described) == set(field.choices), (kind, name)
        if field.kind == "changes":
            assert set(described["properties"]) == set(field.choices)
        if field.max_length:
            assert max_length_of(described) == field.max_length, (kind, name)


def test_openapi_has_the_contracts_limits_statuses_and_headers():
    request = SCHEMAS["SyncRequest"]["properties"]["records"]
    assert request["maxItems"] == contract.MAX_RECORDS_PER_REQUEST
    assert set(SCHEMAS["SyncResult"]["properties"]["status"]["enum"]) == set(contract.STATUSES)
    parameters = OPENAPI["components"]["parameters"]
    assert parameters["SyncHeader"]["name"] == contract.HEADERS["sync"]
    assert parameters["PushHeader"]["name"] == contract.HEADERS["push"]


def test_the_phone_gets_the_contract_as_a_module_and_in_the_service_worker(client):
    module = client.get("/outbox-contract.js")
    assert module.status_code == 200 and module.mimetype == "text/javascript"
    body = module.get_data(as_text=True)
    sent = json.loads(re.fullmatch(r"export const CONTRACT = Object.freeze\((.*)\);\n", body)[1])
    assert sent == json.loads(contract.as_json())
    worker = client.get("/service-worker.js").get_data(as_text=True)
    assert f"const CONTRACT = Object.freeze({contract.as_json()});" in worker
    # The shared modules are in the worker without their `export` words, and nothing it
    # runs is an ES module statement.
    assert "function sendOutbox(" in worker and "function outboxDatabase(" in worker
    assert not re.search(r"^\s*(export|import)\b", worker, re.MULTILINE)
    # One script: a second top-level function or constant of the same name would silently
    # replace the first (the shared modules and the worker's own files share one scope).
    names = re.findall(r"^(?:async )?function (\w+)|^(?:const|let|class) (\w+)", worker, re.M)
    declared = [a or b for a, b in names]
    assert sorted({n for n in declared if declared.count(n) > 1}) == []


def test_no_script_writes_a_header_cache_or_database_name_of_its_own():
    names = [*contract.HEADERS.values(), contract.STORAGE["pages_cache"]]
    names += [contract.STORAGE["shell_cache_prefix"], contract.STORAGE["session_cache"]]
    scripts = [*(ROOT / "static" / "js").glob("*.js"), *(ROOT / "service-worker").glob("*.js")]
    for path in scripts:
        code = "\n".join(
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if not line.strip().startswith(("//", "/*", "*"))
        )
        for name in names:
            assert name not in code, f"{path.name} writes {name!r}: take it from CONTRACT"


class _Forms(HTMLParser):
    """The outbox forms of a page: for each, its type and its controls."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, list[dict]]] = []
        self._select: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and attributes.get("data-outbox"):
            self.forms.append((attributes["data-outbox"], []))
        elif tag == "form":
            self.forms.append(("", []))
        elif self.forms and tag in ("input", "textarea", "select"):
            control = {"tag": tag, **attributes, "options": []}
            self.forms[-1][1].append(control)
            if tag == "select":
                self._select = control
        elif tag == "option" and self._select is not None:
            self._select["options"].append(attributes.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


@pytest.fixture
def card(app, make_user, make_case, auth, client):
    worker = make_user("worker", team="Team A")
    auth.login(worker.email)
    with app.app_context():
        ensure_consent_texts(db.session)
        db.session.commit()
    case_id = make_case(worker_id=worker.id)
    # An action on the case, so its status form is on the card too.
    answer = client.post(
        "/sync",
        json={
            "records": [
                {
                    "uuid": str(uuid.uuid4()),
                    "type": "action",
                    "case_id": case_id,
                    "data": {"description": "Call the landlord", "owner": "worker"},
                }
            ]
        },
        headers=HEADERS,
    )
    assert answer.get_json()["results"][0]["status"] == "applied"
    page = client.get(f"/field/cases/{case_id}")
    assert page.status_code == 200
    parser = _Forms()
    parser.feed(page.get_data(as_text=True))
    return [(kind, controls) for kind, controls in parser.forms if kind]


def test_the_case_cards_forms_send_only_what_the_contract_has(card):
    kinds = {kind for kind, _ in card}
    assert kinds == set(contract.RECORD_TYPES), kinds
    for kind, controls in card:
        spec = contract.RECORD_TYPES[kind]
        allowed = set(spec.fields)
        if kind == "case_edit":
            allowed = {"base_version", *contract.CASE_EDIT_FIELDS}
        for control in controls:
            name = control.get("name")
            if not name or name == "csrf_token":
                continue
            if kind == "need" and name.startswith("note_"):
                # Each need ticked has its own note, sent as that need's record's note.
                assert name.removeprefix("note_") in spec.fields["need"].choices, name
                name = "note"
            assert name in allowed, (kind, name)
            field = spec.fields.get(name)
            if field is None:
                continue
            if field.max_length and control["tag"] != "select" and control.get("type") != "hidden":
                assert int(control.get("maxlength", 0)) == field.max_length, (kind, name)
            values = set(control["options"]) if control["tag"] == "select" else set()
            if control.get("type") in ("radio", "checkbox"):
                values = {control.get("value", "")}
            if field.kind in ("choice", "choices") and control.get("type") != "hidden":
                assert values - {""} <= set(field.choices), (kind, name, values)


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (kind, name)
        for kind, spec in sorted(contract.RECORD_TYPES.items())
        for name, field in spec.fields.items()
        if field.kind == "text" and field.max_length
    ],
)
def test_the_register_refuses_a_text_one_longer_than_the_contract_allows(
    app, make_user, make_case, auth, client, kind, name
):
    worker = make_user("worker", team="Team A")
    auth.login(worker.email)
    with app.app_context():
        ensure_consent_texts(db.session)
        db.session.commit()
        from fieldapp.models import ConsentText

        text_id = db.session.query(ConsentText.id).filter_by(language="en").scalar()
    case_id = make_case(worker_id=worker.id)
    valid = {
        "visit": {"channel": "door", "result": "met"},
        "consent": {
            "state": "given",
            "method": "verbal_witness",
            "language": "en",
            "text_id": text_id,
            "scopes": ["landlord"],
            "witness": "A. Witness",
        },
        "need": {"need": contract.RECORD_TYPES["need"].fields["need"].choices[0]},
        "action": {"description": "Call", "owner": "worker"},
        "payment_plan": {
            "arrears_at_start": "3.000",
            "instalment_amount": "1.000",
            "first_due_on": date.today().isoformat(),
            "instalment_count": 3,
        },
        "benefit_deduction": {
            "benefit": "other",
            "amount": "2.500",
            "starts_on": date.today().isoformat(),
        },
    }[kind]
    limit = contract.RECORD_TYPES[kind].fields[name].max_length

    def send(length):
        record = {
            "uuid": str(uuid.uuid4()),
            "type": kind,
            "case_id": case_id,
            "data": {**valid, name: "x" * length},
        }
        answer = client.post("/sync", json={"records": [record]}, headers=HEADERS)
        return answer.get_json()["results"][0]

    assert send(limit)["status"] == "applied"
    refused = send(limit + 1)
    assert (refused["status"], refused["field"]) == ("rejected", name)
