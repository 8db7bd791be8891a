"""The demo's five years (issue #18): what the outcome page computes from the seeded register
tells the Helsingør and Drammen story, for both teams, and the retention job changes none of it.

The demo is seeded on a fixed day so that the years, the retention cut-off and the contact
rate's "hearings up to today" are the same whenever the suite runs.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import (
    Action,
    ArrearsRecord,
    BenefitDeduction,
    Case,
    Consent,
    HoldRequest,
    Household,
    ImportBatch,
    Landlord,
    Partner,
    PaymentPlan,
    Team,
    Tenancy,
    User,
)
from fieldapp.models.agreements import (
    DEDUCTION_CONFIRMERS,
    DEDUCTION_STATES,
    HOLD_ENDINGS,
    HOLD_STATES,
    PLAN_STATES,
)
from fieldapp.models.case import OPEN_STATUSES
from fieldapp.services.access import landlord_cases_query, landlord_consented, partner_case_ids
from fieldapp.services.demo import DEMO_HOUSEHOLDS, DEMO_TEAM, SECOND_TEAM, seed_demo
from fieldapp.services.meetings import agenda_reasons
from fieldapp.services.reports import outcome_figures
from fieldapp.services.retention import purge
from tests.integration.test_budgets import QUERY_BUDGETS, count_queries
from tests.support import AuthActions

TODAY = date(2026, 11, 30)
NOON = datetime.combine(TODAY, time(12), tzinfo=UTC)
YEARS = list(range(2022, 2027))
CONSENT_MONTHS = 60
# Today's town: 60 households of the first team, 6 of the second; the history comes after.
TODAYS_CASES = DEMO_HOUSEHOLDS + 6


def test_the_demo_tells_five_years_and_retention_changes_none_of_it(app):
    """One seeding per backend (the history is most of the demo's seeding time)."""
    with app.app_context():
        assert seed_demo(
            db.session, "demo", today=TODAY, history=True, consent_months=CONSENT_MONTHS
        )
        db.session.commit()
    check_the_reports_tell_five_years_of_outreach_in_both_teams_registers(app)
    check_the_partner_and_the_landlord_see_their_part(app)
    check_retention_has_nothing_to_do_and_later_changes_no_figure(app)


def yearly(team_id: int | None = None) -> dict:
    figures = outcome_figures(db.session, YEARS[0], YEARS[-1], team_id=team_id, today=TODAY)
    return {item.period.year: item for item in figures}


def all_figures() -> list[dict]:
    """Every figure of every year, for the whole register and each team."""
    teams = [None, *db.session.scalars(select(Team.id).order_by(Team.id))]
    return [asdict(item) for team in teams for item in yearly(team).values()]


def check_the_reports_tell_five_years_of_outreach_in_both_teams_registers(story) -> None:
    with story.app_context():
        figures = yearly()
        assert list(figures) == YEARS
        assert all(figures[year].petitions and figures[year].cases_with_hearing for year in YEARS)
        executed = [figures[year].executed_evictions for year in YEARS]
        assert executed[0] >= 60 and executed[-1] <= 15, executed
        assert executed == sorted(executed, reverse=True), executed
        petitions = [figures[year].petitions for year in YEARS]
        assert petitions[-1] <= 0.6 * petitions[0], petitions
        rates = [figures[year].contact_rate for year in YEARS]
        assert all(earlier < later for earlier, later in pairwise(rates)), rates
        assert all(figures[year].resolved_without_eviction for year in YEARS)
        repeats = [figures[year].repeat_petitions for year in YEARS]
        assert repeats[1] > repeats[-1] > 0, repeats  # the revolving door narrows

        # Each team's register holds its own part of every year, and the parts add up.
        first, second = (
            db.session.scalar(select(Team.id).where(Team.name == name))
            for name in (DEMO_TEAM, SECOND_TEAM)
        )
        parts = [yearly(first), yearly(second)]
        for year in YEARS:
            for name in ("petitions", "executed_evictions", "hearings", "cases_with_hearing"):
                values = [getattr(part[year], name) for part in parts]
                assert sum(values) == getattr(figures[year], name), (year, name)
                assert all(values), (year, name, values)
        # A case, its tenancy, its household and the lists it was on are all one team's.
        mixed = select(func.count(Case.id)).join(Tenancy, Case.tenancy_id == Tenancy.id)
        assert not db.session.scalar(mixed.where(Case.team_id != Tenancy.team_id))
        household = mixed.join(Household, Tenancy.household_id == Household.id)
        assert not db.session.scalar(household.where(Household.team_id != Tenancy.team_id))
        lists = (
            select(func.count(ArrearsRecord.id))
            .join(ImportBatch, ArrearsRecord.batch_id == ImportBatch.id)
            .join(Tenancy, ArrearsRecord.tenancy_id == Tenancy.id)
        )
        assert not db.session.scalar(
            lists.where(
                (ImportBatch.team_id != Tenancy.team_id)
                | (ImportBatch.landlord_id != Tenancy.landlord_id)
            )
        )
        history = list(db.session.scalars(select(Case.id).where(Case.id > TODAYS_CASES)))
        assert len(history) > 500
        assert not db.session.scalar(
            select(func.count(Case.id)).where(Case.id.in_(history), Case.status != "closed")
        )
        first_team_case = db.session.scalar(
            select(func.min(Case.id)).where(Case.id.in_(history), Case.team_id == first)
        )
        for team in (first, second):
            agenda = agenda_reasons(db.session, team, date.today(), date.today() - timedelta(30))
            assert agenda and not set(agenda) & set(history)

    # Today's pages: within their query budgets and without a case of the history; the
    # second team's lead cannot open the first team's history.
    client = AuthActions(story.test_client())
    for email, page in [
        ("worker@example.org", "/today"),
        ("lead@example.org", "/cases"),
        ("lead@example.org", "/dashboard"),
    ]:
        client.login(email, "demo")
        client.client.get(page)
        with count_queries(story) as statements:
            response = client.client.get(page)
        assert response.status_code == 200, page
        assert len(statements) <= QUERY_BUDGETS.get(page, len(statements)), page
        linked = {int(n) for n in re.findall(r"/cases/(\d+)", response.get_data(as_text=True))}
        assert linked and not linked & set(history), page
        client.logout()
    client.login("lead.nord@example.org", "demo")
    assert client.client.get(f"/cases/{first_team_case}").status_code in (403, 404)


def latest_consents() -> dict[int, Consent]:
    """Each case's latest consent, worked out here from every row (not by services.access)."""
    latest: dict[int, Consent] = {}
    for consent in db.session.scalars(select(Consent).order_by(Consent.recorded_at, Consent.id)):
        latest[consent.case_id] = consent
    return latest


def check_the_partner_and_the_landlord_see_their_part(story) -> None:
    """partner@example.org (the debt counselling service) sees exactly the first team's open
    cases whose tenant's current consent covers debt counselling; landlord@example.org (the
    housing association) has tenants of whom only some consented to the landlord; every state
    of a plan, a deduction and a hold request is there to see."""
    with story.app_context():
        s = db.session
        partner = s.scalar(select(User).where(User.email == "partner@example.org"))
        landlord = s.scalar(select(User).where(User.email == "landlord@example.org"))
        first = s.scalar(select(Team.id).where(Team.name == DEMO_TEAM))
        assert partner.role == "partner" and landlord.role == "landlord"
        assert partner.team_id == first and landlord.team_id == first
        debt = s.get(Partner, partner.partner_id)
        association = s.get(Landlord, landlord.landlord_id)
        assert debt.kind == "debt_counselling" and association.kind == "housing_association"

        latest = latest_consents()
        expected = sorted(
            case.id
            for case in s.scalars(select(Case).where(Case.id.in_(list(latest))))
            if case.team_id == first
            and case.status in OPEN_STATUSES
            and latest[case.id].state == "given"
            and "debt_counselling" in latest[case.id].scopes
        )
        seen = partner_case_ids(s, partner)
        assert seen == expected and len(seen) >= 3, (seen, expected)
        # The demo has consents the partner must not follow: withdrawn, closed, other team's,
        # other partners' only.
        ever_debt = {
            c.case_id for c in s.scalars(select(Consent)) if "debt_counselling" in c.scopes
        }
        assert ever_debt - set(seen), "every debt counselling consent is a case the partner sees"
        states = {consent.state for consent in latest.values()}
        assert {"given", "declined", "withdrawn"} <= states, states
        # Their actions: on their cases, some due within the week, one overdue.
        actions = list(
            s.scalars(select(Action).where(Action.partner_id == debt.id, Action.case_id.in_(seen)))
        )
        assert {a.case_id for a in actions} == set(seen)
        open_due = [a.due_on for a in actions if a.status in ("agreed", "in_progress")]
        assert any(TODAY <= due <= TODAY + timedelta(days=7) for due in open_due), open_due
        assert any(due < TODAY for due in open_due), open_due
        others = s.scalars(select(Action).where(Action.partner_id != debt.id)).all()
        assert others, "another partner's action, which the partner must not see"

        tenants = [case.id for case in s.scalars(landlord_cases_query(landlord))]
        consented = landlord_consented(s, tenants)
        assert consented and consented < set(tenants), (consented, tenants)
        never_asked = set(tenants) - set(latest)
        assert never_asked, "a tenant of the landlord who was never asked"

        plans = s.scalars(select(PaymentPlan)).all()
        assert {plan.state for plan in plans} == set(PLAN_STATES)
        for plan in plans:
            assert plan.instalments and plan.arrears_at_start > 0
            if plan.state in ("kept", "broken"):
                assert plan.checked_on and plan.check_detail.get("code"), plan.id
        deductions = s.scalars(select(BenefitDeduction)).all()
        assert {d.state for d in deductions} == set(DEDUCTION_STATES)
        confirmed = [d for d in deductions if d.state == "confirmed"]
        assert {d.confirmed_by for d in confirmed} == set(DEDUCTION_CONFIRMERS)
        assert all(d.confirmed_at and d.confirmed_at >= d.recorded_at for d in confirmed)
        applied = [d for d in deductions if d.state == "applied"]
        assert all(d.pending_until and d.pending_until > TODAY for d in applied), applied
        holds = s.scalars(select(HoldRequest)).all()
        assert {h.state for h in holds} == set(HOLD_STATES)
        accepted = [h for h in holds if h.state == "accepted"]
        assert {h.ended_with for h in accepted} == {*HOLD_ENDINGS, None}
        own = [h for h in holds if h.landlord_id == association.id]
        assert {h.state for h in own} == set(HOLD_STATES), "every state for the login to see"
        answered = [h for h in own if h.state in ("accepted", "declined")]
        assert all(h.answered_by_id == landlord.id and h.answered_at for h in answered)
        for hold in holds:
            case = s.get(Case, hold.case_id)
            assert case.tenancy.landlord_id == hold.landlord_id and case.team_id == first
            assert hold.requested_at >= case.opened_at
        for row in [*plans, *deductions]:
            case = s.get(Case, row.case_id)
            assert case.team_id == first and row.recorded_at >= case.opened_at


def check_retention_has_nothing_to_do_and_later_changes_no_figure(story) -> None:
    with story.app_context():
        before = all_figures()
        cutoff = NOON - timedelta(days=730)  # the organisation's 24 months
        old = select(func.count(Case.id)).where(Case.status == "closed", Case.closed_at < cutoff)
        # The old history is held as the retention job leaves it: anonymised, households blank.
        assert db.session.scalar(old) > 300
        assert not db.session.scalar(old.where(Case.anonymised_at.is_(None)))
        assert db.session.scalar(select(func.count(Household.id)).where(Household.name == ""))
        recent = (
            select(func.count(Case.id))
            .join(Tenancy, Case.tenancy_id == Tenancy.id)
            .join(Household, Tenancy.household_id == Household.id)
            .where(Case.id > TODAYS_CASES, Case.closed_at >= cutoff, Household.name != "")
        )
        assert db.session.scalar(recent) > 100

        report = purge(db.session, NOON, consent_months=CONSENT_MONTHS)
        db.session.commit()
        assert (report.cases, report.households, report.consents) == ([], [], 0)
        assert all_figures() == before

        # A year on, the next year's closed cases are anonymised: the figures stay.
        report = purge(db.session, NOON + timedelta(days=365), consent_months=CONSENT_MONTHS)
        db.session.commit()
        assert len(report.cases) > 100 and report.households
        assert all_figures() == before
