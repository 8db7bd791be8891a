"""Requests no page expects, found by the security review: each is refused with a 4xx that says
what was wrong, never a 500 (JSON nested a thousand deep, url_for's reserved `_method`,
`_scheme` and `_external` in a query string)."""

from __future__ import annotations

import re

import pytest

from tests.support import AuthActions

SENDERS = {"X-Doorstep-Sync": "1", "X-Doorstep-Push": "1"}
DEEP = (
    "[" * 1000 + "]" * 1000,
    '{"records": ' + '{"a": ' * 1000 + "1" + "}" * 1001,
    '{"records": [' + "[" * 990 + "]" * 990 + "]}",  # parses in Python; no code walks it
)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/sync"), ("POST", "/push/subscriptions"), ("DELETE", "/push/subscriptions")],
)
def test_json_nested_a_thousand_deep_is_a_bad_request(app, auth, make_user, method, path):
    worker = make_user("worker")
    auth.login(worker.email)
    for body in DEEP:
        response = auth.client.open(
            path, method=method, data=body, content_type="application/json", headers=SENDERS
        )
        assert response.status_code == 400, (path, body[:20])
        assert response.is_json and response.get_json()["message"]


def _walk(app):
    """Every GET rule, its arguments filled with 1."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = re.sub(r"<[^>]+>", "1", rule.rule)
        yield path


@pytest.mark.parametrize(
    "query",
    ["_method=POST", "_scheme=https&_external=", "_external=1&_anchor=x"],
)
def test_url_fors_reserved_names_in_a_query_are_refused_on_every_page(app, make_user, query):
    people = [None] + [make_user(role) for role in ("worker", "lead", "admin", "dpo")]
    for person in people:
        client = app.test_client()
        if person is not None:
            assert AuthActions(client).login(person.email).status_code == 303
        for path in _walk(app):
            response = client.get(f"{path}?{query}")
            assert response.status_code == 400, (person and person.role, path, query)
            name = query.split("=")[0]
            assert name in response.get_data(as_text=True), (path, query)


def test_the_audit_pages_own_links_carry_only_its_filters(app, make_user):
    dpo = make_user("dpo")
    client = app.test_client()
    AuthActions(client).login(dpo.email)
    page = client.get("/audit?action=view&colour=red").get_data(as_text=True)
    link = re.search(r'id="audit-csv" href="([^"]+)"', page).group(1)
    assert "action=view" in link and "colour" not in link
