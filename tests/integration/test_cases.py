"""The lead's case list (filters, search, sort, bulk assignment) and the case page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Case, CaseEvent, LegalStep, UserSession
from tests.support import AuthActions, csrf_from

TODAY = date.today()


def rows(response) -> list[int]:
    """Case ids in the order the list shows them."""
    import re

    return [int(i) for i in re.findall(r'id="case-row-(\d+)"', response.get_data(as_text=True))]


def post_filters(auth, **filters):
    return auth.post("/cases", {k: str(v) for k, v in filters.items()}, page="/cases")


def test_list_shows_open_cases_of_the_team_most_urgent_first(auth, lead, make_case):
    calm = make_case(months=1.0)
    urgent = make_case(months=5.0, children=2, steps=[("hearing", TODAY + timedelta(days=3))])
    make_case(status="closed", outcome="paid_up")
    make_case(team="Team B")  # another team's case stays out
    assert rows(auth.client.get("/cases")) == [urgent, calm]


def test_filters_narrow_the_list(auth, lead, make_user, make_case):
    worker = make_user("worker", team="Team A")
    with_children = make_case(children=2, cause="behavioural", landlord="Privat ApS")
    soon = make_case(steps=[("hearing", TODAY + timedelta(days=5))], worker_id=worker.id)
    later = make_case(steps=[("hearing", TODAY + timedelta(days=40))])
    closed = make_case(status="closed", outcome="rehoused")
    assert rows(post_filters(auth, children=1)) == [with_children]
    assert rows(post_filters(auth, cause="behavioural")) == [with_children]
    assert set(rows(post_filters(auth, deadline_days=14))) == {soon}
    assert rows(post_filters(auth, worker=worker.id)) == [soon]
    assert set(rows(post_filters(auth, worker=0))) == {with_children, later}
    assert rows(post_filters(auth, status="closed")) == [closed]
    assert len(rows(post_filters(auth, status="all"))) == 4
    with auth.client.application.app_context():
        from fieldapp.models import Landlord

        private = db.session.scalar(select(Landlord.id).where(Landlord.name == "Privat ApS"))
    assert rows(post_filters(auth, landlord=private)) == [with_children]


@pytest.mark.parametrize(
    "query",
    ["bakken, lars", "LARS BAKKEN", "søndre strandvej 110", "kb-77",
     # typed on a laptop without Nordic letters, or in the old spelling
     "Sondre Strandvej", "Soendre strandvej 110", "Aabenraavej", "Grøndal", "Grondal"],
)  # fmt: skip
def test_search_by_name_address_or_tenancy_number(auth, lead, make_case, query):
    wanted = make_case(
        name="Lars Bakken Grøndal", address="Søndre Strandvej 110, 3., Åbenråvej", reference="KB-77"
    )
    make_case(name="Emma Johansen", address="Tollbugata 55", reference="KB-12")
    assert rows(post_filters(auth, q=query)) == [wanted]


def test_sort_by_deadline_and_paging(auth, lead, make_case):
    ids = [make_case(steps=[("hearing", TODAY + timedelta(days=d))]) for d in (30, 10, 20)]
    assert rows(post_filters(auth, sort="deadline")) == [ids[1], ids[2], ids[0]]
    many = [make_case() for _ in range(52)]
    first = post_filters(auth, sort="deadline")
    assert len(rows(first)) == 50 and "page 1 of 2" in first.get_data(as_text=True)
    second = post_filters(auth, sort="deadline", page=2)
    assert len(rows(second)) == 5
    assert set(rows(first)) | set(rows(second)) == set(ids) | set(many)


def test_filters_are_remembered_and_searches_stay_out_of_urls(auth, lead, make_case):
    wanted = make_case(name="Signe Hansen")
    make_case(name="Ole Olsen")
    post_filters(auth, q="signe")
    again = auth.client.get("/cases")
    assert rows(again) == [wanted]
    assert "signe" not in again.request.url.lower()


def session_cookie(app, client) -> dict:
    """What the browser's Flask session cookie holds, decoded (it is signed, not secret)."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def test_a_search_is_kept_on_the_server_not_in_the_cookie(app, auth, lead, make_case):
    wanted = make_case(name="Signe Hansen", address="Tollbugata 55")
    make_case(name="Ole Olsen")
    assert rows(post_filters(auth, q="Signe Hansen", status="all")) == [wanted]
    held = session_cookie(app, auth.client)
    assert "_user_id" in held  # the login's cookie, decoded
    assert "signe" not in repr(held).lower() and "tollbugata" not in repr(held).lower(), held
    assert rows(auth.client.get("/cases")) == [wanted]  # still remembered, for this login
    other_device = AuthActions(app.test_client())
    other_device.login(lead.email)
    assert len(rows(other_device.client.get("/cases"))) == 2  # not for another one
    auth.logout()
    with app.app_context():  # and forgotten when the login ends
        assert db.session.scalars(select(UserSession.case_filters)).all() == [None, None]


def test_htmx_filter_returns_only_the_table(auth, lead, make_case):
    make_case()
    token = auth.csrf("/cases")
    response = auth.client.post(
        "/cases", data={"status": "open"}, headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="case-table"') and "<html" not in html


def test_bad_filter_values_are_named_not_a_500(auth, lead, make_case):
    make_case()
    response = post_filters(auth, deadline_days="soon", sort="shoe-size")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "deadline_days: &#39;soon&#39;" in html and "sort: &#39;shoe-size&#39;" in html


def test_bulk_assignment_keeps_history(app, auth, lead, make_user, make_case):
    worker = make_user("worker", team="Team A", name="Mette Holm")
    first, second, untouched = make_case(), make_case(), make_case()
    response = auth.post(
        "/cases/assign", {"case": [first, second], "worker": worker.id}, page="/cases"
    )
    assert response.status_code == 303
    assert "2 cases assigned to Mette Holm." in auth.client.get("/cases").get_data(as_text=True)
    again = auth.post("/cases/assign", {"case": [first], "worker": worker.id}, page="/cases")
    assert again.status_code == 303
    page = auth.client.get("/cases").get_data(as_text=True)
    assert "No case changed: the ticked cases were with Mette Holm already." in page
    assert "Myself (" in page  # the lead may take cases, and sees which one is she
    with app.app_context():
        cases = {c.id: c for c in db.session.scalars(select(Case))}
        assert cases[first].assigned_worker_id == worker.id == cases[second].assigned_worker_id
        assert cases[untouched].assigned_worker_id is None
        assert cases[first].version == 2
        events = db.session.scalars(select(CaseEvent).where(CaseEvent.kind == "assigned")).all()
        assert {(e.case_id, e.detail["to"]) for e in events} == {
            (first, worker.id),
            (second, worker.id),
        }
    # Reassigning to nobody is also kept in the history.
    auth.post("/cases/assign", {"case": [first], "worker": 0}, page="/cases")
    assert "1 case taken back: it has no worker now." in auth.client.get("/cases").get_data(
        as_text=True
    )
    with app.app_context():
        events = db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == first).order_by(CaseEvent.id)
        ).all()
        assert [e.detail for e in events] == [
            {"from": None, "to": worker.id},
            {"from": worker.id, "to": None},
        ]


def test_assignment_refuses_a_worker_of_another_team(app, auth, lead, make_user, make_case):
    stranger = make_user("worker", team="Team B")
    case = make_case()
    response = auth.post("/cases/assign", {"case": [case], "worker": stranger.id}, page="/cases")
    assert response.status_code == 400
    assert "is not in your team" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Case, case).assigned_worker_id is None


def test_assignment_without_ticks_or_worker_says_so(auth, lead, make_case):
    make_case()
    response = auth.post("/cases/assign", {"worker": ""}, page="/cases")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Tick at least one case" in html and "Choose the worker" in html


def test_case_page_shows_everything_and_is_audited(app, auth, lead, make_case):
    case = make_case(
        name="Signe Hansen",
        children=1,
        steps=[("petition", TODAY - timedelta(days=10)), ("hearing", TODAY + timedelta(days=6))],
    )
    response = auth.client.get(f"/cases/{case}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Signe Hansen" in html and "court (fogedretsmøde) in 6 days" in html
    assert 'id="legal-steps"' in html and html.count("deadline-petition") >= 1
    with app.app_context():
        audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view")).all()
        assert [(a.object_type, a.object_id) for a in audit] == [("case", str(case))]


def test_who_may_open_a_case(app, make_user, make_case):
    assigned = make_user("worker", team="Team A")
    other_worker = make_user("worker", team="Team A")
    other_lead = make_user("lead", team="Team B")
    stranger = make_user("worker", team="Team B")
    admin = make_user("admin")
    case = make_case(worker_id=assigned.id, team="Team A")
    expected = {
        assigned.email: 200,
        other_worker.email: 200,  # read only: a colleague in the team
        stranger.email: 403,
        other_lead.email: 403,
        admin.email: 403,
    }
    for email, status in expected.items():
        client = AuthActions(app.test_client())
        client.login(email)
        page = client.client.get(f"/cases/{case}")
        assert page.status_code == status, email
        if status == 200:
            text = page.get_data(as_text=True)
            editable = email == assigned.email
            assert ('id="read-only"' in text) is not editable, email
            assert (f'action="/cases/{case}"' in text) is editable, email
    assert AuthActions(app.test_client()).client.get(f"/cases/{case}").status_code == 302


def test_entering_a_hearing_sets_the_deadline_and_raises_priority(app, auth, lead, make_case):
    case = make_case()
    with app.app_context():
        before = db.session.get(Case, case).priority
    when = TODAY + timedelta(days=4)
    response = auth.post(
        f"/cases/{case}/legal-steps",
        {"kind": "hearing", "date": when.isoformat(), "note": "Fogedretten"},
        page=f"/cases/{case}",
    )
    assert response.status_code == 303
    with app.app_context():
        row = db.session.get(Case, case)
        assert row.next_deadline == when and row.next_deadline_kind == "hearing"
        assert row.priority > before
    listed = auth.client.get("/cases").get_data(as_text=True)
    assert when.isoformat() in listed


def test_legal_step_bad_date_or_duplicate_is_refused_with_a_message(app, auth, lead, make_case):
    case = make_case(steps=[("petition", TODAY)])
    bad = auth.post(
        f"/cases/{case}/legal-steps",
        {"kind": "hearing", "date": "31-02-2026"},
        page=f"/cases/{case}",
    )
    assert bad.status_code == 400 and "31-02-2026" in bad.get_data(as_text=True)
    # The very same step again (a double click on "Add to timeline"): it is there, once,
    # and the lead is told so, not shown an error.
    again = auth.post(
        f"/cases/{case}/legal-steps",
        {"kind": "petition", "date": TODAY.isoformat()},
        page=f"/cases/{case}",
    )
    assert again.status_code == 303
    assert "added to the timeline" in auth.client.get(f"/cases/{case}").get_data(as_text=True)
    dup = auth.post(
        f"/cases/{case}/legal-steps",
        {"kind": "petition", "date": TODAY.isoformat(), "note": "another note"},
        page=f"/cases/{case}",
    )
    assert dup.status_code == 400 and "already on the case" in dup.get_data(as_text=True)
    with app.app_context():
        assert len(db.session.scalars(select(LegalStep)).all()) == 1


def test_a_legal_step_dated_in_the_past_is_taken_with_a_word(app, auth, lead, make_case):
    case = make_case()
    last_year = TODAY - timedelta(days=300)
    response = auth.post(
        f"/cases/{case}/legal-steps",
        {"kind": "hearing", "date": last_year.isoformat()},
        page=f"/cases/{case}",
    )
    assert response.status_code == 303
    page = auth.client.get(f"/cases/{case}").get_data(as_text=True)
    assert "That date has passed: check that it is right." in page
    auth.post(
        f"/cases/{case}/legal-steps",
        {"kind": "hearing", "date": (TODAY + timedelta(days=9)).isoformat()},
        page=f"/cases/{case}",
    )
    assert "That date has passed" not in auth.client.get(f"/cases/{case}").get_data(as_text=True)


def test_executed_eviction_closes_the_case(app, auth, lead, make_case):
    case = make_case()
    auth.post(
        f"/cases/{case}/legal-steps",
        {"kind": "executed", "date": TODAY.isoformat()},
        page=f"/cases/{case}",
    )
    with app.app_context():
        row = db.session.get(Case, case)
        assert (row.status, row.outcome) == ("closed", "evicted")


def test_a_stale_form_is_refused_not_applied(app, auth, lead, make_case):
    case = make_case()
    page = auth.client.get(f"/cases/{case}").get_data(as_text=True)
    token = csrf_from(page)
    first = auth.client.post(
        f"/cases/{case}",
        data={
            "csrf_token": token,
            "version": "1",
            "status": "attempting_contact",
            "cause": "economic",
        },
    )
    assert first.status_code == 303
    stale = auth.client.post(
        f"/cases/{case}",
        data={"csrf_token": token, "version": "1", "status": "in_contact", "cause": "other"},
    )
    assert stale.status_code == 409
    assert "Someone changed this case" in stale.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(Case, case)
        assert (row.status, row.cause, row.version) == ("attempting_contact", "economic", 2)


def test_closing_needs_an_outcome(app, auth, lead, make_case):
    case = make_case()
    missing = auth.post(
        f"/cases/{case}", {"version": "1", "status": "closed"}, page=f"/cases/{case}"
    )
    assert missing.status_code == 400 and "Choose the outcome" in missing.get_data(as_text=True)
    done = auth.post(
        f"/cases/{case}",
        {"version": "1", "status": "closed", "outcome": "payment_plan"},
        page=f"/cases/{case}",
    )
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(Case, case).outcome == "payment_plan"


def test_months_of_rent_are_written_the_readers_way(auth, lead, make_case):
    case = make_case(months=2.5)
    english = auth.client.get(f"/cases/{case}").get_data(as_text=True)
    token = auth.csrf(f"/cases/{case}")
    auth.client.post("/language", data={"lang": "da", "csrf_token": token})
    danish = auth.client.get(f"/cases/{case}").get_data(as_text=True)
    assert "2.5 months" in english and "2,5 måneders" in danish


def test_lead_places_a_pin_by_hand_and_it_wins(app, auth, lead, make_case):
    from fieldapp.models import Household

    case = make_case()
    bad = auth.post(
        f"/cases/{case}/position", {"lat": "north", "lon": "12.6"}, page=f"/cases/{case}"
    )
    assert bad.status_code == 400 and "north" in bad.get_data(as_text=True)
    ok = auth.post(
        f"/cases/{case}/position", {"lat": "56.0402", "lon": "12.6011"}, page=f"/cases/{case}"
    )
    assert ok.status_code == 303
    with app.app_context():
        household = db.session.get(Case, case).tenancy.household
        assert (household.lat, household.lon, household.geo_source) == (56.0402, 12.6011, "manual")
        assert db.session.get(Household, household.id).geo_source == "manual"


def test_the_dashboard_figures_open_the_cases_behind_them(auth, lead, make_user, make_case):
    import re

    worker = make_user("worker", team="Team A", name="Mette Holm")
    unassigned = make_case()
    assigned = make_case(worker_id=worker.id, steps=[("hearing", TODAY + timedelta(days=3))])
    page = auth.client.get("/dashboard").get_data(as_text=True)
    assert f'href="/cases/{assigned}"' in page  # a deadline row opens its case
    forms = dict(
        re.findall(r'<form method="post" action="/cases"[^>]*>(.*?)id="([a-z-]+)"', page, re.S)[i][
            ::-1
        ]
        for i in range(4)
    )
    assert set(forms) == {"open-cases", "unassigned", "deadlines-soon", "no-contact"}

    def filters_of(key):
        return dict(re.findall(r'name="(\w+)" value="([^"]*)"', forms[key]))

    assert rows(post_filters(auth, **{k: v for k, v in filters_of("unassigned").items()
                                      if k != "csrf_token"})) == [unassigned]  # fmt: skip
    soon = {k: v for k, v in filters_of("deadlines-soon").items() if k != "csrf_token"}
    assert rows(post_filters(auth, **soon)) == [assigned]
