"""The fortnightly meeting: agenda from the register, decisions as actions, need-to-know print."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import (
    Action,
    ArrearsRecord,
    Case,
    Consent,
    ConsentText,
    Meeting,
    MeetingItem,
    Partner,
)
from fieldapp.models.types import new_uuid
from tests.support import AuthActions

TODAY = date.today()


@pytest.fixture
def partners(app):
    with app.app_context():
        rows = [
            Partner(name="NAV Drammen", kind="nav"),
            Partner(name="Gjeldsrådgivning", kind="debt_counselling"),
        ]
        db.session.add_all(rows)
        db.session.commit()
        return {p.kind: p.id for p in rows}


def give_consent(app, case_id, worker_id, scopes):
    """The tenant consents (on paper) to sharing with these partner kinds."""
    with app.app_context():
        text = ConsentText(language="nb", version=1, body="Samtykke ...")
        db.session.add(text)
        db.session.flush()
        db.session.add(
            Consent(
                client_uuid=new_uuid(),
                case_id=case_id,
                worker_id=worker_id,
                state="given",
                scopes=scopes,
                method="paper",
                text_id=text.id,
                language="nb",
                recorded_at=datetime.now(UTC),
            )
        )
        db.session.commit()


def plan(auth, held_on=TODAY, partner_ids=()):
    response = auth.post(
        "/meetings",
        {
            "held_on": held_on.isoformat(),
            "title": "Uke 48",
            "partner": [str(p) for p in partner_ids],
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def reasons(app, meeting_id) -> dict[int, list[str]]:
    with app.app_context():
        items = db.session.scalars(
            select(MeetingItem)
            .where(MeetingItem.meeting_id == meeting_id)
            .order_by(MeetingItem.position)
        ).all()
        return {item.case_id: item.reasons for item in items}


def age(app, case_id, days, contacted=True):
    """Make a case older than the last meeting, and contacted, so it has no reason by default."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        case.opened_at = datetime.now(UTC) - timedelta(days=days)
        if contacted:
            case.last_contact_at = datetime.now(UTC) - timedelta(days=1)
        db.session.commit()


def test_agenda_is_built_from_the_register_with_reasons(app, auth, lead, make_case, make_user):
    quiet = make_case()
    hearing = make_case(steps=[("hearing", TODAY + timedelta(days=10))])
    far = make_case(steps=[("hearing", TODAY + timedelta(days=40))])
    grew = make_case()
    overdue = make_case()
    fresh = make_case()
    closed = make_case(status="closed", outcome="paid_up")
    other_team = make_case(team="Team B")
    for case_id in (quiet, hearing, far, grew, overdue, closed, other_team):
        age(app, case_id, 60)
    age(app, fresh, 3, contacted=False)
    with app.app_context():
        tenancy_id = db.session.get(Case, grew).tenancy_id
        db.session.add_all(
            [
                ArrearsRecord(tenancy_id=tenancy_id, as_of=TODAY - timedelta(days=20), amount=1000),
                ArrearsRecord(tenancy_id=tenancy_id, as_of=TODAY - timedelta(days=6), amount=2000),
            ]
        )
        db.session.add(
            Action(
                client_uuid=new_uuid(),
                case_id=overdue,
                worker_id=lead.id,
                description="Apply for housing benefit",
                owner="tenant",
                due_on=TODAY - timedelta(days=2),
                status="agreed",
                recorded_at=datetime.now(UTC),
            )
        )
        db.session.commit()
    found = reasons(app, plan(auth))
    assert found == {
        hearing: ["deadline_soon"],
        overdue: ["overdue_action"],
        fresh: ["new_in_arrears", "no_contact"],
        grew: ["arrears_grew"],
    }


def test_since_the_last_meeting_counts_from_that_meeting(app, auth, lead, make_case):
    case = make_case()
    age(app, case, 10)
    plan(auth, TODAY - timedelta(days=20))  # an earlier meeting: the case was not yet there
    later = plan(auth, TODAY)
    assert reasons(app, later) == {case: ["new_in_arrears"]}


def test_decision_becomes_an_action_the_worker_sees(
    app, auth, lead, make_case, make_user, partners
):
    worker = make_user("worker", team="Team A")
    case = make_case(worker_id=worker.id)
    give_consent(app, case, worker.id, ["nav"])
    meeting = plan(auth, partner_ids=partners.values())
    with app.app_context():
        item = db.session.scalars(select(MeetingItem.id)).one()
    data = {
        "decision": "NAV trekker husleien fra stønaden",
        "partner_id": partners["nav"],
        "responsible": "Kari Nordmann",
        "due_on": (TODAY + timedelta(days=7)).isoformat(),
    }
    page = f"/meetings/{meeting}"
    assert auth.post(f"{page}/items/{item}", data, page=page).status_code == 303
    # Correcting the decision updates the same action, it does not add a second one.
    data["decision"] = "NAV trekker husleien fra stønaden fra januar"
    assert auth.post(f"{page}/items/{item}", data, page=page).status_code == 303
    with app.app_context():
        actions = db.session.scalars(select(Action).where(Action.case_id == case)).all()
        assert len(actions) == 1
        assert actions[0].description.startswith("NAV trekker husleien fra stønaden fra januar")
        assert actions[0].partner_id == partners["nav"] and actions[0].owner == "partner"
    phone = AuthActions(app.test_client())
    phone.login(worker.email)
    card = phone.client.get(f"/field/cases/{case}").get_data(as_text=True)
    assert "fra januar" in card


def test_bad_decisions_are_refused_with_a_message(app, auth, lead, make_case):
    make_case()
    meeting = plan(auth)
    with app.app_context():
        item = db.session.scalars(select(MeetingItem.id)).one()
    page = f"/meetings/{meeting}"
    empty = auth.post(f"{page}/items/{item}", {"decision": "  "}, page=page)
    assert empty.status_code == 400 and "write what was decided" in empty.get_data(as_text=True)
    bad_date = auth.post(
        f"{page}/items/{item}", {"decision": "x", "due_on": "next week"}, page=page
    )
    assert bad_date.status_code == 400 and "next week" in bad_date.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Action)).all() == []


def test_htmx_decision_returns_the_item_only(app, auth, lead, make_case):
    make_case()
    meeting = plan(auth)
    with app.app_context():
        item = db.session.scalars(select(MeetingItem.id)).one()
    token = auth.csrf(f"/meetings/{meeting}")
    response = auth.client.post(
        f"/meetings/{meeting}/items/{item}",
        data={"decision": "Debt counselling booked"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith("<section")
    assert "Decision saved" in html and "<html" not in html


def test_print_shows_each_partner_only_what_the_tenant_consented_to(
    app, auth, lead, make_case, partners
):
    consented = make_case(name="Lars Bakken")
    not_consented = make_case(name="Emma Johansen")
    give_consent(app, consented, lead.id, ["debt_counselling"])
    meeting = plan(auth, partner_ids=partners.values())
    for_debt = auth.client.get(f"/meetings/{meeting}/print?partner={partners['debt_counselling']}")
    for_nav = auth.client.get(f"/meetings/{meeting}/print?partner={partners['nav']}")
    for_table = auth.client.get(f"/meetings/{meeting}/print")
    debt_html = for_debt.get_data(as_text=True)
    assert "Lars Bakken" in debt_html and "Emma Johansen" not in debt_html
    # Issue 22: a case the tenant has not shared is a number local to the agenda, no more.
    assert (
        f"#{not_consented}" not in debt_html and "Discussed without Gjeldsrådgivning" in debt_html
    )
    for response in (for_nav, for_table):
        html = response.get_data(as_text=True)
        assert "Lars Bakken" not in html and "Emma Johansen" not in html
        assert f"#{consented}" not in html and f"#{not_consented}" not in html
        assert "Item 1" in html and "Item 2" in html
    assert re.search(
        r"@page \{ size: A4", auth.client.get("/static/css/print.css").get_data(as_text=True)
    )


def test_only_leads_have_meetings(app, make_user, make_case):
    worker = AuthActions(app.test_client())
    worker.login(make_user("worker", team="Team A").email)
    assert worker.client.get("/meetings").status_code == 403


def test_another_teams_meeting_is_not_found(app, auth, lead, make_user, make_case):
    make_case()
    meeting = plan(auth)
    other = AuthActions(app.test_client())
    other.login(make_user("lead", team="Team B").email)
    assert other.client.get(f"/meetings/{meeting}").status_code == 404
    with app.app_context():
        assert db.session.get(Meeting, meeting) is not None


def test_pdf_minutes_keep_need_to_know(app, auth, lead, make_case, partners):
    from io import BytesIO

    from pypdf import PdfReader

    consented = make_case(name="Lars Bakken")
    make_case(name="Emma Johansen")
    give_consent(app, consented, lead.id, ["debt_counselling"])
    meeting = plan(auth, partner_ids=partners.values())
    with app.app_context():
        item = db.session.scalars(
            select(MeetingItem.id).where(MeetingItem.case_id == consented)
        ).one()
    page = f"/meetings/{meeting}"
    auth.post(f"{page}/items/{item}", {"decision": "Gjeldsrådgivning innen fredag"}, page=page)

    def pdf_text(query: str) -> str:
        response = auth.client.get(f"/meetings/{meeting}/minutes.pdf{query}")
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        reader = PdfReader(BytesIO(response.data))
        return "\n".join(p.extract_text() for p in reader.pages)

    debt = pdf_text(f"?partner={partners['debt_counselling']}")
    assert "Lars Bakken" in debt and "Emma Johansen" not in debt
    assert "Page 1 of 1" in debt  # the total, not just the number
    names = {
        auth.client.get(f"/meetings/{meeting}/minutes.pdf{query}").headers["Content-Disposition"]
        for query in ("", f"?partner={partners['debt_counselling']}")
    }
    assert len(names) == 2 and any("whole-table" in name for name in names)
    assert "Gjeldsrådgivning innen fredag" in debt
    table = pdf_text("")
    assert "Lars Bakken" not in table and f"#{consented}" not in table and "Item 1" in table
    assert "Gjeldsrådgivning innen fredag" not in table
    assert auth.client.get(f"/meetings/{meeting}/minutes.pdf?partner=x").status_code == 404


def test_the_minutes_pdf_is_never_cached(app, auth, lead, make_case):
    make_case(name="Lars Bakken")
    meeting = plan(auth)
    response = auth.client.get(f"/meetings/{meeting}/minutes.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers.get("Cache-Control") == "no-store"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1900-01-01", "3000-06-01"])
def test_a_meeting_day_far_from_today_is_refused_by_name(app, auth, lead, make_case, day):
    make_case()
    response = auth.post("/meetings", {"held_on": day, "title": "Uke 48"})
    assert response.status_code == 400
    assert day in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Meeting)).all() == []


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_due_date_far_from_today_is_refused_by_name(app, auth, lead, make_case, day):
    make_case()
    meeting = plan(auth)
    with app.app_context():
        item = db.session.scalars(select(MeetingItem.id)).one()
    page = f"/meetings/{meeting}"
    response = auth.post(
        f"{page}/items/{item}", {"decision": "Budget meeting", "due_on": day}, page=page
    )
    assert response.status_code == 400
    assert day in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Action)).all() == []


def test_a_partners_copy_carries_nothing_of_a_case_not_shared_with_it(
    app, auth, lead, make_case, partners
):
    """Issue 22: the copy for a partner the tenant has not consented to (print, PDF and the
    whole table's) showed the tenancy number, the reasons and the free-text decision."""
    from io import BytesIO

    from pypdf import PdfReader

    sentinel = "SENTINEL refer to psychiatric assessment"
    case = make_case(name="Emma Johansen", reference="12-277-53", children=2)
    shared = make_case(name="Lars Bakken")
    give_consent(app, shared, lead.id, ["nav", "debt_counselling"])
    meeting = plan(auth, partner_ids=partners.values())
    with app.app_context():
        item = db.session.scalars(select(MeetingItem.id).where(MeetingItem.case_id == case)).one()
    page = f"/meetings/{meeting}"
    with app.app_context():
        db.session.get(MeetingItem, item).decision = sentinel  # as if decided for the team
        db.session.get(MeetingItem, item).responsible = "Kari Nordmann"
        db.session.get(MeetingItem, item).partner_id = partners["nav"]
        db.session.commit()

    def copies(query: str) -> list[str]:
        html = auth.client.get(f"/meetings/{meeting}/print{query}").get_data(as_text=True)
        pdf = auth.client.get(f"/meetings/{meeting}/minutes.pdf{query}")
        text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(pdf.data)).pages)
        return [" ".join(html.split()), " ".join(text.split())]  # PDF text spaces words oddly

    due = (TODAY + timedelta(days=9)).isoformat()
    for query in (f"?partner={partners['nav']}", f"?partner={partners['debt_counselling']}", ""):
        for copy in copies(query):
            for leak in (sentinel, "12-277-53", f"#{case}", "Emma Johansen", "Kari Nordmann"):
                assert leak not in copy, (query, leak)
            assert "Discussed without" in copy
    # The lead's own working page still shows it all.
    assert sentinel in auth.client.get(page).get_data(as_text=True)
    assert due  # the due date is not printed either (dates identify a case)


def test_a_withdrawn_consent_takes_effect_on_the_next_copy(app, auth, lead, make_case, partners):
    case = make_case(name="Lars Bakken")
    give_consent(app, case, lead.id, ["debt_counselling"])
    meeting = plan(auth, partner_ids=[partners["debt_counselling"]])
    url = f"/meetings/{meeting}/print?partner={partners['debt_counselling']}"
    assert "Lars Bakken" in auth.client.get(url).get_data(as_text=True)
    with app.app_context():
        latest = db.session.scalars(select(Consent).where(Consent.case_id == case)).one()
        db.session.add(
            Consent(
                client_uuid=new_uuid(), case_id=case, worker_id=lead.id, state="withdrawn",
                scopes=[], method="paper", text_id=latest.text_id, language="nb",
                recorded_at=datetime.now(UTC) + timedelta(seconds=1),
            )
        )  # fmt: skip
        db.session.commit()
    html = auth.client.get(url).get_data(as_text=True)
    assert "Lars Bakken" not in html and f"#{case}" not in html and "Item 1" in html


def test_a_partner_without_consent_is_refused_unless_a_legal_basis_is_chosen(
    app, auth, lead, make_case, partners, make_user
):
    """Issue 22, point 2: the meeting page let the lead give a decision to a partner the
    tenant had not consented to, with only "(no consent)" in the list as a hint."""
    from fieldapp.models import AuditEvent, Organisation

    case = make_case(name="Emma Johansen")
    meeting = plan(auth, partner_ids=partners.values())
    with app.app_context():
        item = db.session.scalars(select(MeetingItem.id)).one()
    page = f"/meetings/{meeting}"
    data = {"decision": "Henvis til vurdering", "partner_id": partners["nav"]}
    refused = auth.post(f"{page}/items/{item}", data, page=page)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "has not consented to sharing with NAV Drammen" in html
    assert "Ask for consent at the next visit" in html
    with app.app_context():
        assert db.session.scalars(select(Action).where(Action.case_id == case)).all() == []
        assert db.session.get(MeetingItem, item).decision in ("", None)
    # A basis the organisation has not written down is refused the same way.
    made_up = auth.post(f"{page}/items/{item}", {**data, "legal_basis": "§ 1"}, page=page)
    assert made_up.status_code == 400
    # The administrator writes the list; the lead chooses from it; it is audited.
    admin = AuthActions(app.test_client())
    admin.login(make_user("admin").email)
    bases = "Forvaltningsloven § 13 b nr. 5\nSosialtjenesteloven § 44"
    saved = admin.post("/admin/legal-bases", {"bases": bases}, page="/admin/consent-texts")
    assert saved.status_code == 303
    form = admin.client.get("/admin/consent-texts").get_data(as_text=True)
    assert 'id="legal-bases"' in form and "Sosialtjenesteloven § 44</textarea>" in form
    assert "Forvaltningsloven § 13 b nr. 5" in auth.client.get(page).get_data(as_text=True)
    basis = "Forvaltningsloven § 13 b nr. 5"
    done = auth.post(f"{page}/items/{item}", {**data, "legal_basis": basis}, page=page)
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(MeetingItem, item).legal_basis == basis
        line = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "share_without_consent")
        )
        assert line.object_id == str(item) and basis in line.detail
        assert db.session.scalar(select(Organisation)).sharing_legal_bases.splitlines() == [
            "Forvaltningsloven § 13 b nr. 5",
            "Sosialtjenesteloven § 44",
        ]
    # NAV's own copy now shows the case it was given; the debt counsellor's still does not.
    nav = auth.client.get(f"{page}/print?partner={partners['nav']}").get_data(as_text=True)
    debt = auth.client.get(f"{page}/print?partner={partners['debt_counselling']}").get_data(
        as_text=True
    )
    assert "Emma Johansen" in nav and "Emma Johansen" not in debt
    # The records of processing list the bases configured.
    dpo = AuthActions(app.test_client())
    dpo.login(make_user("dpo").email)
    record = dpo.client.get("/records-of-processing.json").get_json()
    assert record["legal_bases_for_sharing_without_consent"] == [
        "Forvaltningsloven § 13 b nr. 5",
        "Sosialtjenesteloven § 44",
    ]


def test_the_legal_bases_list_is_checked_by_line(app, make_user):
    make_user("lead", team="Team A")  # the organisation comes with the first team
    admin = AuthActions(app.test_client())
    admin.login(make_user("admin").email)
    long = admin.post("/admin/legal-bases", {"bases": "x" * 300}, page="/admin/consent-texts")
    assert long.status_code == 422 and "Line 1: at most 200 characters" in long.get_data(
        as_text=True
    )
