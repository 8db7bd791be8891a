"""The lead's case page (issue 18): the present state above the history, the meeting
decision in words, a message after each form, and a double click that changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import Action, Consent, LegalStep, Need, Partner, Visit
from fieldapp.models.types import new_uuid
from tests.support import csrf_from

TODAY = date.today()


@pytest.fixture
def lead(make_user, auth):
    user = make_user("lead", team="Team A", name="Lise Lead")
    auth.login(user.email)
    return user


def section(html: str, element_id: str) -> str:
    """The text of one element of the page, tags dropped and spaces folded."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(dd|section|ol)>', html, re.S)
    assert match, element_id
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def test_the_present_state_stands_above_the_history(app, auth, lead, make_user, make_case):
    worker = make_user("worker", team="Team A", name="Ali Hassan")
    hearing_on = TODAY + timedelta(days=12)
    case = make_case(worker_id=worker.id, steps=[("hearing", hearing_on)])
    now = datetime.now(UTC)
    with app.app_context():
        s = db.session
        s.get(LegalStep, s.scalar(select(LegalStep.id))).note = "kl. 10.00, Retten i Helsingør"
        nav = Partner(name="NAV Drammen", kind="nav")
        debt = Partner(name="Gældsrådgivningen", kind="debt_counselling")
        s.add_all([nav, debt])
        s.flush()

        def record(model, **fields):
            s.add(model(client_uuid=new_uuid(), case_id=case, worker_id=worker.id, **fields))

        record(Consent, state="given", scopes=["debt_counselling"], method="paper",
               language="da", recorded_at=now - timedelta(days=3))  # fmt: skip
        record(Need, need="budget", note="Wants a monthly budget", recorded_at=now)
        record(Action, description="Book debt counselling", owner="partner",
               partner_id=debt.id, due_on=TODAY - timedelta(days=2), recorded_at=now)  # fmt: skip
        record(Action, description="Apply for housing benefit", owner="tenant",
               due_on=TODAY + timedelta(days=5), recorded_at=now)  # fmt: skip
        record(Action, description="Call the landlord", owner="worker", status="done",
               recorded_at=now)  # fmt: skip
        record(Action, description="Ask NAV", owner="partner", partner_id=nav.id,
               recorded_at=now)  # fmt: skip
        record(Visit, channel="door", result="met", occurred_at=now - timedelta(days=1),
               follow_up_on=TODAY + timedelta(days=7))  # fmt: skip
        s.commit()
    html = auth.client.get(f"/cases/{case}").get_data(as_text=True)
    assert html.index('id="present-state"') < html.index('id="timeline"')
    consent = section(html, "state-consent")
    assert consent.startswith("Given on") and "(On paper)" in consent
    assert "It covers: Debt counselling (gældsrådgivning)." in consent
    assert "Budget — Wants a monthly budget" in section(html, "state-needs")
    actions = section(html, "state-actions")
    assert "Book debt counselling · Partner: Gældsrådgivningen" in actions
    assert actions.index("Book debt counselling") < actions.index("Apply for housing benefit")
    assert "overdue" in actions.split("Apply for housing benefit")[0]
    assert "overdue" not in actions.split("Apply for housing benefit")[1].split("Ask NAV")[0]
    assert "Call the landlord" not in actions  # done: not open
    assert "No consent for this partner" in actions.split("Ask NAV")[1]
    follow_up = section(html, "state-follow-up")
    assert follow_up and "overdue" not in follow_up and "None set" not in follow_up
    legal = section(html, "state-legal")
    assert legal.startswith("Meeting in the bailiff's court (fogedretsmøde)")
    assert "Retten i Helsingør" in legal
    assert "Not discussed at a meeting yet." in section(html, "state-decision")


def test_a_withdrawn_or_missing_consent_says_nothing_may_be_shared(app, auth, lead, make_case):
    case = make_case()
    html = auth.client.get(f"/cases/{case}").get_data(as_text=True)
    assert "No consent recorded yet" in section(html, "state-consent")
    with app.app_context():
        db.session.add(
            Consent(client_uuid=new_uuid(), case_id=case, worker_id=lead.id, state="withdrawn",
                    scopes=[], method="paper", language="da", recorded_at=datetime.now(UTC))
        )  # fmt: skip
        db.session.commit()
    html = auth.client.get(f"/cases/{case}").get_data(as_text=True)
    assert "Withdrawn on" in section(html, "state-consent")
    assert "No open actions." in section(html, "state-actions")
    assert "None set" in section(html, "state-follow-up")


def test_the_meeting_decision_is_written_out_on_the_case(app, auth, lead, make_case):
    """Issue 18: the history said "Decision at the meeting · Lise Lead" and no more: the case
    event names only the meeting, and the page never looked the decision up."""
    case = make_case(name="Lars Bakken")
    planned = auth.post("/meetings", {"held_on": TODAY.isoformat(), "title": "Uke 48"})
    meeting = int(planned.headers["Location"].rsplit("/", 1)[1])
    page = auth.client.get(f"/meetings/{meeting}").get_data(as_text=True)
    item = re.search(r'id="item-(\d+)"', page).group(1)
    due = TODAY + timedelta(days=7)
    saved = auth.post(
        f"/meetings/{meeting}/items/{item}",
        {"decision": "Refer to debt counselling", "responsible": "Kari", "due_on": due.isoformat()},
        page=f"/meetings/{meeting}",
    )
    assert saved.status_code == 303
    html = auth.client.get(f"/cases/{case}").get_data(as_text=True)
    line = next(
        " ".join(re.sub(r"<[^>]+>", " ", li).split())
        for li in re.findall(r"<li>(.*?)</li>", section_html(html, "timeline"), re.S)
        if "Decision at the meeting" in li
    )
    assert "Refer to debt counselling" in line and "Kari" in line and "due" in line
    assert "Refer to debt counselling · Kari · due" in section(html, "state-decision")


def section_html(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}"[^>]*>(.*?)</ol>', html, re.S).group(1)


def test_each_form_says_what_it_did_after_a_redirect(app, auth, lead, make_user, make_case):
    worker = make_user("worker", team="Team A", name="Ali Hassan")
    case = make_case()
    page = f"/cases/{case}"
    assigned = auth.post(f"{page}/assign", {"worker": worker.id}, page=page)
    assert assigned.status_code == 303 and assigned.headers["Location"].endswith(page)
    assert "Assigned to Ali Hassan." in auth.client.get(page).get_data(as_text=True)
    again = auth.post(f"{page}/assign", {"worker": worker.id}, page=page)
    assert again.status_code == 303
    assert "The case was with Ali Hassan already." in auth.client.get(page).get_data(as_text=True)
    auth.post(f"{page}/assign", {"worker": "0"}, page=page)
    assert "Taken back: nobody has the case now." in auth.client.get(page).get_data(as_text=True)
    html = auth.client.get(page).get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    changed = auth.post(
        page, {"version": version, "status": "in_contact", "cause": "economic"}, page=page
    )
    assert changed.status_code == 303
    assert "Saved: status In contact." in auth.client.get(page).get_data(as_text=True)
    pinned = auth.post(f"{page}/position", {"lat": "56.03", "lon": "12.61"}, page=page)
    assert pinned.status_code == 303
    assert "The pin is placed by hand" in auth.client.get(page).get_data(as_text=True)


def test_a_double_click_on_add_to_timeline_adds_it_once_without_an_error(
    app, auth, lead, make_case
):
    """The form sent twice with the same token, as a double click does: two redirects, the
    step once, and the message says it is on the timeline."""
    case = make_case()
    page = f"/cases/{case}"
    token = csrf_from(auth.client.get(page).get_data(as_text=True))
    day = TODAY + timedelta(days=40)
    form = {"kind": "hearing", "date": day.isoformat(), "note": "", "csrf_token": token}
    first = auth.client.post(f"{page}/legal-steps", data=form)
    second = auth.client.post(f"{page}/legal-steps", data=form)
    assert (first.status_code, second.status_code) == (303, 303)
    html = auth.client.get(page).get_data(as_text=True)
    hearing = r"Meeting in the bailiff&#39;s court \(fogedretsmøde\)"
    assert re.search(hearing + r" \S.*? added to the timeline\.", html)
    assert 'role="alert"' not in html
    with app.app_context():
        assert len(db.session.scalars(select(LegalStep)).all()) == 1
