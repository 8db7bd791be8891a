"""Budgets the suite can count exactly (never wall time): SQL statements per page, bytes of
JavaScript a phone downloads."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, select

from fieldapp.extensions import db
from fieldapp.models import Action, Case, User
from fieldapp.services.demo import seed_demo
from tests.support import AuthActions

ROOT = Path(__file__).parents[2]
# Every page's statements stay flat however many cases there are (no N+1).
QUERY_BUDGETS = {"/today": 8, "/cases": 9, "/dashboard": 11}
# was 16; how long the phone may keep the card adds the time zone and routes (18); a case
# with an action for a partner reads the partner's latest notes on it, and every card the
# newest request to hold a petition (the landlord's answer), one statement each; the test
# opens a case with a partner's action, the heaviest card the demo has (21; the first card
# it opened before, without one, was at 17).
CARD_BUDGET = 21
# (17); 18 was allowed while the first amount looked up the organisation's currency, which
# now comes with the person (User.organisation_currency): the card is at 17 again
# Uncompressed; htmx is half of it. Was 75,000 before the service worker sent the outbox
# itself (Background Sync) with the pages' own outbox modules and the outbox contract; was
# 110,000 before the contract gained payment plans and rent deductions (sent twice: the
# pages' copy and the service worker's, about 1,500 bytes).
JS_BUDGET_BYTES = 112_000


@contextmanager
def count_queries(app):
    """Count the SQL statements the app sends while the block runs."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def demo(app):
    with app.app_context():
        seed_demo(db.session, "demo")
        db.session.commit()
    return app


@pytest.mark.parametrize(
    ("email", "page"),
    [
        ("worker@example.org", "/today"),
        ("lead@example.org", "/cases"),
        ("lead@example.org", "/dashboard"),
    ],
)
def test_pages_stay_within_their_query_budget(demo, email, page):
    client = AuthActions(demo.test_client())
    client.login(email, "demo")
    client.client.get(page)  # warm: the session's first touch is not the page's cost
    with count_queries(demo) as statements:
        assert client.client.get(page).status_code == 200
    assert len(statements) <= QUERY_BUDGETS[page], statements


def test_case_card_stays_within_its_query_budget(demo):
    with demo.app_context():
        worker = db.session.scalar(select(User).where(User.email == "worker@example.org"))
        case_id = db.session.scalars(
            select(Case.id)
            .join(Action, Action.case_id == Case.id)
            .where(Case.assigned_worker_id == worker.id, Action.partner_id.is_not(None))
            .order_by(Case.id)
        ).first()
    client = AuthActions(demo.test_client())
    client.login("worker@example.org", "demo")
    client.client.get("/today")
    with count_queries(demo) as statements:
        assert client.client.get(f"/field/cases/{case_id}").status_code == 200
    assert len(statements) <= CARD_BUDGET, statements


def test_javascript_shipped_to_the_phone_stays_small(client):
    html = client.get("/login").get_data(as_text=True)
    import re

    sources = re.findall(r'<script src="([^"]+)"', html) + ["/service-worker.js"]
    # The modules the page scripts import.
    sources += ["/outbox-contract.js", "/static/js/outbox-core.js", "/static/js/outbox-store.js"]
    sizes = {src: len(client.get(src).data) for src in sources}
    assert sum(sizes.values()) <= JS_BUDGET_BYTES, sizes


COMPRESSED_JS_BUDGET_BYTES = 30 * 1024  # the route page's scripts as they go over the wire


def test_javascript_goes_compressed_and_within_budget_but_pages_do_not(client):
    import re

    html = client.get("/login").get_data(as_text=True)
    sources = re.findall(r'<script src="([^"]+)"', html)
    # What Chromium asks for over plain http (brotli and zstd only over https).
    encoding = {"Accept-Encoding": "gzip, deflate"}
    sent = {}
    for src in sources:
        response = client.get(src, headers=encoding)
        assert response.headers.get("Content-Encoding") in ("gzip", "deflate"), src
        sent[src] = len(response.data)
    assert sum(sent.values()) <= COMPRESSED_JS_BUDGET_BYTES, sent
    # Pages carry CSRF tokens next to text people typed: never compressed (BREACH).
    page = client.get("/login", headers=encoding)
    assert "Content-Encoding" not in page.headers


# The lead's case page: 19 before its present state; the partners the actions name, the
# case's meeting decisions and the organisation's today (overdue is by its calendar) add 3;
# 23 was allowed while the first amount looked up the currency, which now comes with the
# person (the page is at 22 again). The payment plans and the rent deductions add one
# statement each, however many there are (24); a case with actions for a partner reads the
# partners' latest notes on them in one more (services.partner_work.partner_notes: 25); the
# requests to hold a petition, however many, one more (services.holds: 26).
CASE_PAGE_BUDGET = 26


def test_the_leads_case_page_stays_within_its_query_budget(demo):
    """The present state (consent, needs, open actions, follow-up, next legal date, the last
    meeting decision) on top of the history, on a case with several of each: the count must
    not grow with them."""
    from datetime import UTC, date, datetime, timedelta

    from fieldapp.models import Action, Consent, LegalStep, Need, Partner, Visit
    from fieldapp.models.types import new_uuid
    from fieldapp.services.meetings import add_to_agenda, create_meeting, record_decision

    with demo.app_context():
        s = db.session
        lead = s.scalar(select(User).where(User.email == "lead@example.org"))
        case = s.scalar(
            select(Case)
            .where(Case.team_id == lead.team_id, Case.status != "closed")
            .order_by(Case.priority.desc())
            .limit(1)
        )
        partners = s.scalars(select(Partner).limit(2)).all()
        now = datetime.now(UTC)
        s.add(LegalStep(case_id=case.id, kind="hearing", date=date.today() + timedelta(days=9)))
        for n in range(3):
            common = dict(client_uuid=new_uuid(), case_id=case.id, worker_id=lead.id)
            s.add(Visit(**common, channel="door", result="met", occurred_at=now - timedelta(n),
                        follow_up_on=date.today() + timedelta(days=n)))  # fmt: skip
            s.add(Need(**dict(common, client_uuid=new_uuid()), need="budget", note=f"n{n}",
                       recorded_at=now))  # fmt: skip
            s.add(Action(**dict(common, client_uuid=new_uuid()), description=f"a{n}",
                         owner="partner", partner_id=partners[n % 2].id,
                         due_on=date.today() - timedelta(days=n), recorded_at=now))  # fmt: skip
        s.add(Consent(client_uuid=new_uuid(), case_id=case.id, worker_id=lead.id, state="given",
                      scopes=[p.kind for p in partners], method="paper", language="da",
                      recorded_at=now))  # fmt: skip
        s.flush()
        meeting = create_meeting(s, lead.team_id, date.today(), lead, "", [])
        item, _added = add_to_agenda(s, meeting, case)
        record_decision(s, item, lead, "Budget meeting", None, "", None)
        s.commit()
        case_id = case.id
    client = AuthActions(demo.test_client())
    client.login("lead@example.org", "demo")
    client.client.get("/dashboard")
    with count_queries(demo) as statements:
        page = client.client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "Budget meeting" in page.get_data(as_text=True)
    assert len(statements) <= CASE_PAGE_BUDGET, statements
