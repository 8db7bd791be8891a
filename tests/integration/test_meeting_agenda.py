"""The agenda the lead composes (issue 18): the rules propose, with their reasons; the agenda
starts with the most urgent proposals, not all of them; the lead adds (a proposal, or any
open case of the team found by name or address) and removes, before and during the meeting;
the partners' copies follow; each copy downloads under its own name."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Case, Consent, MeetingItem, Partner
from fieldapp.models.types import new_uuid
from fieldapp.services.meetings import DEFAULT_AGENDA_SIZE
from tests.support import AuthActions, csrf_from

TODAY = date.today()


def quiet(app, case_id):
    """Older than the last fortnight and contacted: no rule proposes it."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        case.opened_at = datetime.now(UTC) - timedelta(days=60)
        case.last_contact_at = datetime.now(UTC) - timedelta(days=1)
        db.session.commit()


def plan(auth, size=None, partner_ids=()) -> int:
    form = {"held_on": TODAY.isoformat(), "title": "Uke 49", "partner": list(partner_ids)}
    if size is not None:
        form["agenda_size"] = str(size)
    response = auth.post("/meetings", form)
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def agenda(app, meeting_id) -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(MeetingItem.case_id)
                .where(MeetingItem.meeting_id == meeting_id)
                .order_by(MeetingItem.position)
            )
        )


def add(auth, meeting_id, case_id):
    page = f"/meetings/{meeting_id}"
    return auth.post(f"{page}/agenda", {"case_id": str(case_id)}, page=page)


def item_of(app, meeting_id, case_id) -> int:
    with app.app_context():
        return db.session.scalar(
            select(MeetingItem.id).where(
                MeetingItem.meeting_id == meeting_id, MeetingItem.case_id == case_id
            )
        )


def test_the_rules_propose_and_the_agenda_starts_with_the_most_urgent(app, auth, lead, make_case):
    urgent = make_case(children=2, steps=[("eviction_scheduled", TODAY + timedelta(days=6))])
    hearing = make_case(steps=[("hearing", TODAY + timedelta(days=20))])
    new_ones = [make_case(arrears=100_000 * (n + 1)) for n in range(3)]
    meeting = plan(auth, size=2)
    assert agenda(app, meeting) == [urgent, hearing]
    html = auth.client.get(f"/meetings/{meeting}").get_data(as_text=True)
    proposals = re.search(r'id="proposal-list".*?</table>', html, re.S).group(0)
    assert "3 more cases proposed by the rules" in html
    assert proposals.count("Add to the agenda") == 3 and "New in arrears" in proposals
    assert "2 cases on the agenda" in html and "Item 1" in html and "Item 2" in html
    assert "the agenda starts with the 2 most urgent cases" in html  # the message after plan
    for case_id in new_ones:
        assert f'name="case_id" value="{case_id}"' in proposals
    # Without a number the agenda starts with DEFAULT_AGENDA_SIZE of them, not every one.
    assert DEFAULT_AGENDA_SIZE < 82
    assert len(agenda(app, plan(auth))) == 5


def test_a_proposal_goes_on_the_agenda_once_with_its_reasons(app, auth, lead, make_case):
    first, second = make_case(), make_case()
    meeting = plan(auth, size=0)
    assert agenda(app, meeting) == []
    response = add(auth, meeting, second)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"#item-{item_of(app, meeting, second)}")
    assert "Added to the agenda as item 1." in auth.client.get(f"/meetings/{meeting}").get_data(
        as_text=True
    )
    # The same form sent twice (a double click): once, and said so.
    assert add(auth, meeting, second).status_code == 303
    html = auth.client.get(f"/meetings/{meeting}").get_data(as_text=True)
    assert "That case is on the agenda already, as item 1." in html
    assert agenda(app, meeting) == [second]
    with app.app_context():
        item = db.session.get(MeetingItem, item_of(app, meeting, second))
        assert item.reasons == ["new_in_arrears", "no_contact"]
        line = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.object_type == "meeting", AuditEvent.action == "update"
            )
        )
        assert line.detail == f"added case {second}"
    assert add(auth, meeting, first).status_code == 303
    assert agenda(app, meeting) == [second, first]


def test_any_open_case_of_the_team_can_be_found_and_added(app, auth, lead, make_case):
    wanted = make_case(name="Åse Ødegård", address="Søndre Strandvej 4")
    closed = make_case(name="Åse Ødegård", address="Søndre Strandvej 6", status="closed")
    theirs = make_case(name="Åse Ødegård", address="Søndre Strandvej 8", team="Team B")
    for case_id in (wanted, closed, theirs):
        quiet(app, case_id)
    meeting = plan(auth)
    assert agenda(app, meeting) == []
    page = f"/meetings/{meeting}"
    for query in ("sondre strandvej", "Aase Odegaard", "ØDEGÅRD"):
        found = auth.post(f"{page}/search", {"q": query}, page=page)
        html = found.get_data(as_text=True)
        assert found.status_code == 200 and "Søndre Strandvej 4" in html, query
        assert "Søndre Strandvej 6" not in html and "Søndre Strandvej 8" not in html
    token = csrf_from(auth.client.get(page).get_data(as_text=True))
    fragment = auth.client.post(
        f"{page}/search",
        data={"q": "strandvej"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    ).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="agenda-search">') and "<html" not in fragment
    assert add(auth, meeting, wanted).status_code == 303
    with app.app_context():
        assert db.session.get(MeetingItem, item_of(app, meeting, wanted)).reasons == [
            "added_by_lead"
        ]
    assert "Added by the team lead" in auth.client.get(page).get_data(as_text=True)
    # On the agenda now: no longer offered by the search.
    again = auth.post(f"{page}/search", {"q": "strandvej"}, page=page).get_data(as_text=True)
    assert "No open case of the team off the agenda matches that." in again
    # A closed case is refused with a message; another team's case is not found.
    assert add(auth, meeting, closed).status_code == 303
    assert "Only an open case can go on the agenda." in auth.client.get(page).get_data(as_text=True)
    assert add(auth, meeting, theirs).status_code == 404
    assert agenda(app, meeting) == [wanted]


def test_an_item_comes_off_the_agenda_unless_it_is_decided(app, auth, lead, make_case):
    decided, undecided, third = make_case(), make_case(), make_case()
    meeting = plan(auth)
    page = f"/meetings/{meeting}"
    decided_item = item_of(app, meeting, decided)
    saved = auth.post(f"{page}/items/{decided_item}", {"decision": "Budget meeting"}, page=page)
    assert saved.status_code == 303
    assert "Decision saved for item 1; it is an action on the case." in auth.client.get(
        page
    ).get_data(as_text=True)
    number = agenda(app, meeting).index(undecided) + 1
    removed = auth.post(f"{page}/items/{item_of(app, meeting, undecided)}/remove", {}, page=page)
    assert removed.status_code == 303
    html = auth.client.get(page).get_data(as_text=True)
    assert f"Item {number} is off the agenda" in html
    assert undecided not in agenda(app, meeting)
    # Back among the proposals, to add again if the lead changes their mind.
    proposals = re.search(r'id="proposal-list".*?</table>', html, re.S).group(0)
    assert f'name="case_id" value="{undecided}"' in proposals
    refused = auth.post(f"{page}/items/{decided_item}/remove", {}, page=page)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "stays on the agenda: a decision is recorded for it" in text
    assert "Correct the decision instead." in text
    assert decided in agenda(app, meeting) and third in agenda(app, meeting)
    assert auth.post(f"{page}/items/999999/remove", {}, page=page).status_code == 404


def test_the_partners_copies_follow_the_composed_agenda(app, auth, lead, make_case):
    from io import BytesIO

    from pypdf import PdfReader

    with app.app_context():
        debt = Partner(name="Gældsrådgivningen", kind="debt_counselling")
        db.session.add(debt)
        db.session.commit()
        debt_id = debt.id
    kept = make_case(name="Lars Bakken")
    dropped = make_case(name="Emma Johansen")
    added = make_case(name="Åse Ødegård")
    quiet(app, added)
    with app.app_context():
        for case_id in (kept, dropped, added):
            db.session.add(
                Consent(
                    client_uuid=new_uuid(), case_id=case_id, worker_id=lead.id, state="given",
                    scopes=["debt_counselling"], method="paper", language="da",
                    recorded_at=datetime.now(UTC),
                )
            )  # fmt: skip
        db.session.commit()
    meeting = plan(auth, partner_ids=[debt_id])
    page = f"/meetings/{meeting}"
    auth.post(f"{page}/items/{item_of(app, meeting, dropped)}/remove", {}, page=page)
    add(auth, meeting, added)
    for query in ("", f"?partner={debt_id}"):
        html = auth.client.get(f"{page}/print{query}").get_data(as_text=True)
        pdf = auth.client.get(f"{page}/minutes.pdf{query}")
        text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(pdf.data)).pages)
        for copy in (html, text) if query else (html,):
            assert "Emma Johansen" not in copy, query
        assert "Item 2" in html and "Item 3" not in html
        if query:
            assert "Lars Bakken" in html and "Åse Ødegård" in html
            assert "Lars Bakken" in text and "Åse Ødegård" in text


def test_each_copy_downloads_under_its_own_descriptive_name(app, auth, lead, make_case):
    with app.app_context():
        rows = [
            Partner(name="Gældsrådgivningen", kind="debt_counselling"),
            Partner(name="NAV Drammen", kind="nav"),
            Partner(name="NAV Lier", kind="nav"),
        ]
        db.session.add_all(rows)
        db.session.commit()
        debt, nav, lier = (p.id for p in rows)
    make_case(name="Lars Bakken")
    meeting = plan(auth, partner_ids=[debt, nav, lier])
    day = TODAY.isoformat()

    def name(query: str) -> str:
        header = auth.client.get(f"/meetings/{meeting}/minutes.pdf{query}").headers
        return re.fullmatch(r'attachment; filename="([^"]+)"', header["Content-Disposition"])[1]

    names = {
        "": name(""),
        "debt": name(f"?partner={debt}"),
        "nav": name(f"?partner={nav}"),
        "lier": name(f"?partner={lier}"),
    }
    assert names[""] == f"meeting-{day}-agenda-whole-table.pdf"
    assert names["debt"] == f"meeting-{day}-agenda-debt-counselling.pdf"
    assert names["nav"] == f"meeting-{day}-agenda-nav-{nav}.pdf"
    assert len(set(names.values())) == 4
    for value in names.values():
        assert re.fullmatch(r"[a-z0-9.-]+", value) and "bakken" not in value
    # The print copies' titles (what a browser offers when saving as PDF) differ too.
    titles = {
        re.search(r"<title>(.*?)</title>", auth.client.get(url).get_data(as_text=True))[1]
        for url in (f"/meetings/{meeting}/print", f"/meetings/{meeting}/print?partner={debt}")
    }
    assert len(titles) == 2 and any("Gældsrådgivningen" in title for title in titles)


def test_the_meeting_page_and_the_copies_have_a_print_button(app, auth, lead, make_case):
    make_case()
    meeting = plan(auth)
    for url in (f"/meetings/{meeting}", f"/meetings/{meeting}/print"):
        html = auth.client.get(url).get_data(as_text=True)
        assert '<button type="button" class="button secondary" data-print>' in html, url
        assert "onclick" not in html and "<script>" not in html


def test_a_starting_size_that_is_no_number_is_refused_by_name(app, auth, lead, make_case):
    make_case()
    response = auth.post("/meetings", {"held_on": TODAY.isoformat(), "agenda_size": "all of them"})
    assert response.status_code == 400 and "all of them" in response.get_data(as_text=True)


def test_another_teams_lead_can_neither_add_nor_remove(app, auth, lead, make_user, make_case):
    ours = make_case()
    meeting = plan(auth)
    item = item_of(app, meeting, ours)
    other = AuthActions(app.test_client())
    other.login(make_user("lead", team="Team B").email)
    theirs = make_case(team="Team B")
    page = "/dashboard"
    assert (
        other.post(f"/meetings/{meeting}/agenda", {"case_id": theirs}, page=page).status_code == 404
    )
    assert other.post(f"/meetings/{meeting}/items/{item}/remove", {}, page=page).status_code == 404
    assert (
        other.post(f"/meetings/{meeting}/search", {"q": "Stengade"}, page=page).status_code == 404
    )
    assert agenda(app, meeting) == [ours]
