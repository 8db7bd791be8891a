"""The admin page binds a partner's account to its partner and a landlord's account to its
landlord (issue #21, "Accounts and the demo"): both choices are on the page (it works without
JavaScript), the server takes the one of the chosen role and refuses a mismatch by name, and
the users table shows whom each such person works for."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Landlord, Partner, Team, User
from tests.support import AuthActions

PARTNER = "Gældsrådgivningen"
LANDLORD = "Boligselskabet Nord"


@pytest.fixture
def admin(app, make_user, client):
    make_user("lead", team="Team A")  # so that Team A exists
    with app.app_context():
        db.session.add_all(
            [
                Partner(name=PARTNER, kind="debt_counselling"),
                Partner(name="Jobcentret", kind="job_centre"),
                Landlord(name=LANDLORD),
                Landlord(name="Privat Udlejer ApS", kind="private"),
            ]
        )
        db.session.commit()
    user = make_user("admin")
    auth = AuthActions(client)
    auth.login(user.email)
    return auth


def add(auth, **form):
    data = {"email": "nina@example.org", "role": "partner", "team": "Team A", "name": "Nina"}
    data.update(form)
    return auth.post("/admin/users", data, page="/admin/users")


def accounts() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def row_of(page: str, email: str) -> str:
    match = re.search(rf"<tr>\s*<td>{re.escape(email)}</td>.*?</tr>", page, re.S)
    assert match, page[:800]
    return match.group(0)


def test_both_choices_are_on_the_page_with_every_partner_and_landlord(admin):
    page = admin.client.get("/admin/users").get_data(as_text=True)
    partner = re.search(r'<select id="new-partner" name="partner">(.*?)</select>', page, re.S)
    landlord = re.search(r'<select id="new-landlord" name="landlord">(.*?)</select>', page, re.S)
    assert partner and landlord, page
    assert PARTNER in partner.group(1) and "Jobcentret" in partner.group(1)
    assert LANDLORD in landlord.group(1) and "Privat Udlejer ApS" in landlord.group(1)
    assert PARTNER not in landlord.group(1) and LANDLORD not in partner.group(1)
    assert '<label for="new-partner">' in page and '<label for="new-landlord">' in page


@pytest.mark.parametrize(
    ("role", "form", "column", "model", "name"),
    [
        ("partner", {"partner": PARTNER}, "partner_id", Partner, PARTNER),
        ("landlord", {"landlord": LANDLORD}, "landlord_id", Landlord, LANDLORD),
    ],
)
def test_the_admin_binds_the_account_to_its_organisation(app, admin, role, form, column, model,
                                                         name):  # fmt: skip
    response = add(admin, role=role, **form)
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    assert 'id="invitation-code"' in response.get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "nina@example.org"))
        bound = db.session.scalar(select(model.id).where(model.name == name))
        assert user.role == role and getattr(user, column) == bound
        other = "landlord_id" if column == "partner_id" else "partner_id"
        assert getattr(user, other) is None
        assert user.team.name == "Team A"
        grant = db.session.scalar(
            select(AuditEvent.detail).where(
                AuditEvent.action == "grant", AuditEvent.object_id == str(user.id)
            )
        )
        assert grant.startswith(f"consented case access: {role}"), grant
    row = row_of(admin.client.get("/admin/users").get_data(as_text=True), "nina@example.org")
    assert f"<td data-works-for>{name}</td>" in row


def test_a_worker_works_for_no_one_in_the_table(admin, make_user):
    make_user("worker", email="ole@example.org")
    row = row_of(admin.client.get("/admin/users").get_data(as_text=True), "ole@example.org")
    assert "<td data-works-for></td>" in row


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"role": "partner"}, "Partner: choose the partner this person works for."),
        ({"role": "landlord"}, "Landlord: choose the landlord this person works for."),
        (
            {"role": "partner", "partner": PARTNER, "landlord": LANDLORD},
            f"Landlord: {LANDLORD} is chosen, but only a landlord&#39;s account belongs to a "
            "landlord.",
        ),
        (
            {"role": "landlord", "landlord": LANDLORD, "partner": PARTNER},
            f"Partner: {PARTNER} is chosen, but only a partner&#39;s account belongs to a partner.",
        ),
        (
            {"role": "worker", "partner": PARTNER},
            f"Partner: {PARTNER} is chosen, but only a partner&#39;s account belongs to a partner.",
        ),
        (
            {"role": "lead", "landlord": LANDLORD},
            f"Landlord: {LANDLORD} is chosen, but only a landlord&#39;s account belongs to a "
            "landlord.",
        ),
        (
            {"role": "partner", "partner": "Ukendt Rådgivning"},
            "Partner: there is no partner named Ukendt Rådgivning.",
        ),
        (
            {"role": "landlord", "landlord": "<b>Ukendt</b>"},
            "Landlord: there is no landlord named &lt;b&gt;Ukendt&lt;/b&gt;.",
        ),
    ],
)
def test_a_choice_that_does_not_fit_the_role_is_refused_by_name(app, admin, form, message):
    with app.app_context():
        before = accounts()
    response = add(admin, **form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:800]
    assert f'<p class="error" role="alert">{message}</p>' in page, page[page.find("New user") :][
        :900
    ]
    with app.app_context():
        assert accounts() == before
    # The form keeps what was entered.
    assert 'value="nina@example.org"' in page


def test_a_partner_without_a_team_is_refused_when_there_are_two(app, admin, make_user):
    make_user("lead", team="Team B")
    response = add(admin, role="partner", partner=PARTNER, team="")
    assert response.status_code == 422
    assert "Team: choose the team this person works with." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "nina@example.org")) is None
        assert db.session.scalar(select(func.count()).select_from(Team)) == 2


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("da", f"Udlejer: {LANDLORD} er valgt, men kun en udlejers konto hører til en udlejer."),
        ("nb", f"Utleier: {LANDLORD} er valgt, men bare en utleiers konto hører til en utleier."),
    ],
)
def test_the_refusal_is_in_the_readers_language(admin, language, message):
    token = admin.csrf("/admin/users")
    data = {"email": "nina@example.org", "role": "partner", "team": "Team A", "csrf_token": token,
            "partner": PARTNER, "landlord": LANDLORD}  # fmt: skip
    response = admin.client.post("/admin/users", data=data, headers={"Accept-Language": language})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
