"""Specs for outcome statistics (fieldapp.services.reports), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from fieldapp.extensions import db
from fieldapp.models import (
    ArrearsRecord,
    Case,
    Household,
    ImportBatch,
    Landlord,
    LegalStep,
    Organisation,
    Team,
    Tenancy,
    Visit,
)
from fieldapp.models.types import new_uuid
from fieldapp.services.reports import (
    CSV_COLUMNS,
    CostAssumptions,
    ReportError,
    agreement_figures,
    cost_assumptions,
    cost_avoided,
    list_cadence,
    outcome_figures,
    outcome_rows,
    update_cost_assumptions,
)
from tests import drammen


def by_label(figures) -> dict:
    return {item.period.label: item for item in figures}


def yearly(session, first=2012, last=2014, **filters) -> dict:
    """The figures of each year, by year."""
    return {f.period.year: f for f in outcome_figures(session, first, last, **filters)}


@pytest.fixture
def drammen_register(app, runner, make_user, tmp_path) -> drammen.Register:
    """Drammen's 2012–2014 register, imported through `fieldapp import-legal-steps`.

    The municipal landlord exists before the import (with its kind); the private one is
    created by the import. The lead's team is the only team, so every case lands in it.
    """
    make_user("lead", email="lead@drammen.example", team=drammen.TEAM)
    with app.app_context():
        db.session.add(Landlord(name=drammen.MUNICIPAL, kind="municipal"))
        db.session.commit()
    register = drammen.build()
    path = drammen.write_csv(register, tmp_path / "fravikelser_2012-2014.csv")
    result = runner.invoke(args=["import-legal-steps", str(path)])
    steps = sum(len(story.steps) for story in register.stories)
    assert result.exit_code == 0, result.output
    assert f"{steps} new, 0 updated, 0 unchanged, 0 cleared, 0 rejected" in result.output
    return register


# ---------------------------------------------------------------------------
# Drammen's published table
# ---------------------------------------------------------------------------


def test_drammen_register_gives_the_published_table(session, drammen_register):
    """74/41/34 petitions and 24/15/18 executed evictions, and what lies inside them."""
    years = yearly(session)
    assert [years[y].petitions for y in drammen.YEARS] == [74, 41, 34]
    assert [years[y].executed_evictions for y in drammen.YEARS] == [24, 15, 18]
    for year in drammen.YEARS:
        figures = years[year]
        assert figures.withdrawn == drammen.WITHDRAWN[year]
        assert figures.cancelled == drammen.CANCELLED[year]
        assert figures.withdrawn_or_cancelled == drammen.WITHDRAWN[year] + drammen.CANCELLED[year]
        assert figures.evictions_by_cause == drammen.CAUSES[year]
        assert figures.evicted_with_children == drammen.WITH_CHILDREN[year]
        assert figures.repeat_petitions == drammen.REPEATS[year]
        assert figures.hearings == drammen.oracle(drammen_register, "hearing", year)
        assert figures.evictions_scheduled == drammen.oracle(
            drammen_register, "eviction_scheduled", year
        )
        # Only legal steps were imported: no case was closed other than by eviction, and no
        # evicted household turned up at another tenancy.
        assert figures.resolved_without_eviction == 0 and figures.rehoused == 0


def test_yearly_rows_have_exactly_the_export_columns(session, drammen_register):
    rows = outcome_rows(session, 2012, 2014)
    assert [tuple(row) for row in rows] == [CSV_COLUMNS] * 3
    assert rows == [
        {
            "year": year,
            "petitions": drammen.PETITIONS[year],
            "executed_evictions": drammen.EXECUTED[year],
            "withdrawn": drammen.WITHDRAWN[year] + drammen.CANCELLED[year],
            "resolved_without_eviction": 0,
            "evicted_with_children": drammen.WITH_CHILDREN[year],
            "rehoused": 0,
            "repeat_petitions": drammen.REPEATS[year],
        }
        for year in drammen.YEARS
    ]


def test_quarters_and_months_add_up_to_the_years(session, drammen_register):
    years = yearly(session)
    quarters = outcome_figures(session, 2012, 2014, period="quarter")
    months = outcome_figures(session, 2012, 2014, period="month")
    assert [q.period.label for q in quarters[:5]] == [
        "2012 Q1",
        "2012 Q2",
        "2012 Q3",
        "2012 Q4",
        "2013 Q1",
    ]
    assert len(months) == 36 and months[0].period.label == "2012-01"
    for year in drammen.YEARS:
        for name in ("petitions", "hearings", "executed_evictions", "withdrawn", "cancelled"):
            expected = getattr(years[year], name)
            assert sum(getattr(q, name) for q in quarters if q.period.year == year) == expected
            assert sum(getattr(m, name) for m in months if m.period.year == year) == expected
    # The three 2012 petitions executed in January 2013 are evictions of 2013 Q1.
    assert by_label(quarters)["2013 Q1"].executed_evictions == 3
    assert by_label(months)["2013-01"].executed_evictions == 3


def test_landlord_kind_filter_counts_only_that_kind(session, drammen_register):
    municipal = yearly(session, landlord_kind="municipal")
    private = yearly(session, landlord_kind="private")
    for year in drammen.YEARS:
        for kind, name in (("petition", "petitions"), ("executed", "executed_evictions")):
            mine = drammen.oracle(drammen_register, kind, year, drammen.MUNICIPAL)
            theirs = drammen.oracle(drammen_register, kind, year, drammen.PRIVATE)
            assert getattr(municipal[year], name) == mine
            assert getattr(private[year], name) == theirs
            assert mine and theirs  # both kinds have some, so the filter is really tested
    assert yearly(session, landlord_kind="housing_association")[2013].petitions == 0


def test_team_filter_leaves_out_other_teams(session, drammen_register, make_case):
    make_case(team="Team B", steps=[("petition", date(2013, 4, 1))])
    drammen_team = session.scalar(select(Team.id).where(Team.name == drammen.TEAM))
    other = session.scalar(select(Team.id).where(Team.name == "Team B"))
    assert yearly(session)[2013].petitions == 42
    assert yearly(session, team_id=drammen_team)[2013].petitions == 41
    assert yearly(session, team_id=other)[2013].petitions == 1


# ---------------------------------------------------------------------------
# Edge cases, each on a small register of its own
# ---------------------------------------------------------------------------


def test_petition_in_one_year_executed_the_next_counts_in_each_year_for_its_own_step(
    session, make_case
):
    make_case(
        steps=[
            ("petition", date(2012, 11, 20)),
            ("hearing", date(2012, 12, 18)),
            ("executed", date(2013, 1, 8)),
        ]
    )
    years = yearly(session, 2012, 2013)
    assert (years[2012].petitions, years[2012].hearings, years[2012].executed_evictions) == (
        1,
        1,
        0,
    )
    assert (years[2013].petitions, years[2013].hearings, years[2013].executed_evictions) == (
        0,
        0,
        1,
    )


def test_withdrawn_and_cancelled_petitions(session, make_case):
    make_case(steps=[("petition", date(2013, 2, 1)), ("withdrawn", date(2013, 3, 1))])
    make_case(steps=[("petition", date(2013, 2, 2)), ("cancelled", date(2014, 1, 5))])
    years = yearly(session, 2013, 2014)
    assert (years[2013].petitions, years[2013].withdrawn, years[2013].cancelled) == (2, 1, 0)
    assert (years[2014].withdrawn, years[2014].cancelled) == (0, 1)
    rows = outcome_rows(session, 2013, 2014)
    assert [row["withdrawn"] for row in rows] == [1, 1]


def _second_tenancy(session, case_id: int, landlord: str, kind: str, reference: str) -> Tenancy:
    """Another tenancy of the same household as the case's, with another landlord."""
    household_id = session.scalar(
        select(Tenancy.household_id)
        .join(Case, Case.tenancy_id == Tenancy.id)
        .where(Case.id == case_id)
    )
    owner = Landlord(name=landlord, kind=kind)
    tenancy = Tenancy(household_id=household_id, landlord=owner, reference=reference)
    session.add_all([owner, tenancy])
    session.flush()
    return tenancy


def test_household_petitioned_twice_within_24_months_is_a_repeat_petition(session, make_case):
    # Petitioned by a private landlord, evicted, petitioned again in municipal housing.
    first = make_case(
        landlord="Privat ApS",
        steps=[("petition", date(2012, 5, 10)), ("executed", date(2012, 9, 1))],
    )
    # Exactly 24 months apart counts; one day more does not.
    make_case(steps=[("petition", date(2012, 2, 1)), ("petition", date(2014, 2, 1))])
    make_case(steps=[("petition", date(2012, 2, 1)), ("petition", date(2014, 2, 2))])
    # A household petitioned once is no repeat.
    make_case(steps=[("petition", date(2013, 6, 1))])
    tenancy = _second_tenancy(session, first, "Kommunale boliger", "municipal", "K-1")
    again = Case(tenancy=tenancy, status="new", cause="economic")
    session.add(again)
    session.flush()
    session.add(LegalStep(case_id=again.id, kind="petition", date=date(2013, 11, 3)))
    session.commit()
    years = yearly(session, 2012, 2014)
    assert [years[y].repeat_petitions for y in (2012, 2013, 2014)] == [0, 1, 1]
    assert years[2013].petitions == 2 and years[2014].petitions == 2
    # The earlier petition counts whichever landlord it came from.
    assert yearly(session, 2013, 2013, landlord_kind="municipal")[2013].repeat_petitions == 1
    assert yearly(session, 2013, 2013, landlord_kind="private")[2013].repeat_petitions == 0
    # An earlier petition before the first year asked for still makes a repeat.
    assert yearly(session, 2013, 2013)[2013].repeat_petitions == 1


def test_a_household_petitioned_three_times_in_a_year_counts_once(session, make_case):
    make_case(
        steps=[
            ("petition", date(2013, 1, 5)),
            ("petition", date(2013, 4, 5)),
            ("petition", date(2013, 8, 5)),
        ]
    )
    figures = yearly(session, 2013, 2013)[2013]
    assert figures.petitions == 3 and figures.repeat_petitions == 1
    quarters = by_label(outcome_figures(session, 2013, 2013, period="quarter"))
    assert [quarters[f"2013 Q{n}"].repeat_petitions for n in (1, 2, 3, 4)] == [0, 1, 1, 0]


def test_cases_resolved_without_eviction_count_in_the_period_they_closed(session, make_case):
    closings = [
        ("paid_up", datetime(2013, 3, 1, 12, tzinfo=UTC)),
        ("payment_plan", datetime(2013, 6, 1, 12, tzinfo=UTC)),
        ("moved_away", datetime(2013, 7, 1, 12, tzinfo=UTC)),
        ("evicted", datetime(2013, 8, 1, 12, tzinfo=UTC)),  # not resolved without eviction
        # 23:30 UTC on New Year's Eve is already 2014 in Copenhagen.
        ("rent_from_benefits", datetime(2013, 12, 31, 23, 30, tzinfo=UTC)),
    ]
    ids = [make_case(status="closed", outcome=outcome) for outcome, _ in closings]
    make_case(status="in_contact")  # open: not counted
    for case_id, (_, closed_at) in zip(ids, closings, strict=True):
        session.get(Case, case_id).closed_at = closed_at
    session.commit()
    years = yearly(session, 2013, 2014)
    assert years[2013].resolved_without_eviction == 3
    assert years[2013].resolved_by_outcome == {"paid_up": 1, "payment_plan": 1, "moved_away": 1}
    assert years[2014].resolved_without_eviction == 1


def test_evicted_households_with_children_and_rehoused(session, make_case):
    make_case(children=2, steps=[("executed", date(2013, 5, 2))])
    rehoused = make_case(steps=[("executed", date(2013, 6, 3))])
    earlier_home = make_case(steps=[("executed", date(2013, 7, 4))])
    make_case(children=1, steps=[("petition", date(2013, 2, 2))])  # not evicted
    # The evicted household turns up on a housing association's arrears list in 2014.
    later = _second_tenancy(session, rehoused, "Boligselskabet Syd", "housing_association", "S-9")
    session.add(ArrearsRecord(tenancy_id=later.id, as_of=date(2014, 2, 15), amount=350_000))
    # This household's other tenancy was known before the eviction: not a new home.
    older = _second_tenancy(session, earlier_home, "Gammel Udlejer", "private", "G-1")
    older_case = Case(tenancy=older, status="closed", outcome="moved_away", cause="economic")
    session.add(older_case)
    session.flush()
    session.add(LegalStep(case_id=older_case.id, kind="petition", date=date(2011, 3, 1)))
    session.commit()
    figures = yearly(session, 2013, 2013)[2013]
    assert figures.executed_evictions == 3
    assert figures.evicted_with_children == 1
    assert figures.rehoused == 1


def test_contact_rate_is_the_share_of_cases_met_before_their_hearing(session, make_case, make_user):
    worker = make_user("worker")
    hearing = date(2013, 10, 15)

    def visit(case_id: int, day: date, result: str = "met") -> None:
        session.add(
            Visit(
                client_uuid=new_uuid(),
                case_id=case_id,
                worker_id=worker.id,
                channel="door",
                result=result,
                occurred_at=datetime(day.year, day.month, day.day, 10, tzinfo=UTC),
            )
        )

    met_before = make_case(steps=[("hearing", hearing)])
    visit(met_before, date(2013, 9, 1), "not_home")
    visit(met_before, date(2013, 9, 20))
    met_on_the_day = make_case(steps=[("hearing", hearing)])
    visit(met_on_the_day, hearing)
    not_home = make_case(steps=[("hearing", hearing)])
    visit(not_home, date(2013, 9, 1), "not_home")
    make_case(steps=[("hearing", hearing)])  # never visited
    # Two hearings in the year: met between them, so not before the first.
    two = make_case(steps=[("hearing", date(2013, 3, 1)), ("hearing", date(2013, 11, 1))])
    visit(two, date(2013, 5, 1))
    # A hearing still ahead cannot be judged yet.
    make_case(steps=[("hearing", date(2013, 12, 20))])
    make_case(steps=[("petition", date(2013, 1, 2))])  # no hearing: not in the rate
    session.commit()
    figures = yearly(session, 2013, 2013, today=date(2013, 12, 1))[2013]
    assert figures.hearings == 7
    assert (figures.cases_with_hearing, figures.reached_before_hearing) == (5, 1)
    assert figures.contact_rate == pytest.approx(0.2)
    # Per quarter, the case with two hearings is judged against its first in each quarter.
    quarters = by_label(
        outcome_figures(session, 2013, 2013, period="quarter", today=date(2013, 12, 1))
    )
    assert (quarters["2013 Q1"].cases_with_hearing, quarters["2013 Q1"].reached_before_hearing) == (
        1,
        0,
    )
    assert (quarters["2013 Q4"].cases_with_hearing, quarters["2013 Q4"].reached_before_hearing) == (
        5,
        2,
    )
    assert quarters["2013 Q2"].contact_rate is None


def test_queries_do_not_grow_with_the_number_of_cases(app, session, make_case, make_user):
    worker = make_user("worker")

    def add_cases(n: int, start: int) -> None:
        for k in range(start, start + n):
            case_id = make_case(
                children=k % 2,
                steps=[
                    ("petition", date(2013, 1 + k % 12, 1)),
                    ("hearing", date(2013, 1 + k % 12, 20)),
                    ("executed", date(2014, 1 + k % 12, 3)),
                ],
            )
            session.add(
                Visit(
                    client_uuid=new_uuid(),
                    case_id=case_id,
                    worker_id=worker.id,
                    channel="phone",
                    result="met",
                    occurred_at=datetime(2013, 1, 2, tzinfo=UTC),
                )
            )
        session.commit()

    def add_lists(n: int, start: int) -> None:
        landlord = session.scalar(select(Landlord))
        for k in range(start, start + n):
            session.add(
                ImportBatch(
                    kind="arrears",
                    landlord_id=landlord.id,
                    file_hash=f"{k:064d}",
                    as_of=date(2013, 1, 1) + timedelta(days=14 * k),
                )
            )
        session.commit()

    def count_queries(report) -> int:
        statements: list[str] = []

        def remember(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", remember)
        try:
            report()
        finally:
            event.remove(db.engine, "before_cursor_execute", remember)
        return len(statements)

    def figures():
        outcome_figures(session, 2012, 2015, period="month")

    def agreements():
        agreement_figures(session, 2012, 2015, period="month")

    def lists():
        assert list_cadence(session, 2012, 2015)

    add_cases(3, 0)
    add_lists(2, 0)
    few, few_agreements, few_lists = (count_queries(f) for f in (figures, agreements, lists))
    add_cases(30, 3)
    add_lists(20, 2)
    assert count_queries(figures) == few <= 8
    # The organisation's zone, then holds, plans, deductions; lists, then their steps.
    assert count_queries(agreements) == few_agreements <= 4
    assert count_queries(lists) == few_lists <= 3


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((2015, 2012), "from"),
        ((1850, 2012), "from"),
        ((2012, 2201), "to"),
        ((1990, 2025), "to"),
    ],
)
def test_a_bad_report_request_names_the_parameter(session, args, field):
    with pytest.raises(ReportError) as caught:
        outcome_figures(session, *args)
    assert caught.value.field == field


def test_unknown_period_or_landlord_kind_is_refused(session):
    with pytest.raises(ReportError) as caught:
        outcome_figures(session, 2012, 2013, period="week")
    assert caught.value.field == "period"
    with pytest.raises(ReportError) as caught:
        outcome_figures(session, 2012, 2013, landlord_kind="council")
    assert caught.value.field == "landlord_kind"


# ---------------------------------------------------------------------------
# Cost avoided
# ---------------------------------------------------------------------------


def test_cost_avoided_with_custom_assumptions(session, make_user, make_case):
    """Helsingør: 75 evictions a year before, 9 in 2016; 40,000 a month for 4.5 months."""
    lead = make_user("lead", team="Helsingør")
    for n in range(9):
        make_case(team="Helsingør", steps=[("executed", date(2016, 1 + n, 10))])
    saved = update_cost_assumptions(
        session,
        lead.team_id,
        shelter_cost_per_month=4_000_000,
        shelter_months=4.5,
        baseline_evictions_per_year=75,
    )
    session.commit()
    assert cost_assumptions(session, lead.team_id) == saved
    assert (saved.shelter_cost_per_month, saved.shelter_months) == (4_000_000, 4.5)

    estimate = cost_avoided(outcome_figures(session, 2016, 2016), saved)
    line = estimate.lines[0]
    assert (line.baseline, line.executed_evictions, line.evictions_avoided) == (75, 9, 66)
    assert estimate.cost_per_eviction == 18_000_000  # 180,000 kroner in øre
    assert line.cost_avoided == estimate.cost_avoided == 66 * 18_000_000
    assert line.shelter_cost_of_evictions == 9 * 18_000_000

    # Per quarter the baseline is spread evenly; the total is the same.
    quarters = cost_avoided(outcome_figures(session, 2016, 2016, period="quarter"), saved)
    assert [q.baseline for q in quarters.lines] == [18.75] * 4
    assert [q.executed_evictions for q in quarters.lines] == [3, 3, 3, 0]
    assert quarters.cost_avoided == 66 * 18_000_000
    # More evictions than the baseline is a negative saving, shown as such.
    worse = cost_avoided(
        outcome_figures(session, 2016, 2016), CostAssumptions(baseline_evictions_per_year=5)
    )
    assert worse.lines[0].evictions_avoided == -4
    assert worse.cost_avoided == -4 * 4_500_000 * 6


def test_without_a_baseline_only_the_shelter_cost_of_evictions_is_given(session, make_case):
    make_case(steps=[("executed", date(2016, 3, 3))])
    estimate = cost_avoided(outcome_figures(session, 2016, 2016), CostAssumptions())
    assert estimate.cost_avoided is None and estimate.lines[0].cost_avoided is None
    assert estimate.shelter_cost_of_evictions == 4_500_000 * 6  # Randers: 45,000 DKK × 6


def test_organisations_start_with_randers_figures_and_bad_assumptions_are_refused(
    session, make_user
):
    lead = make_user("lead")
    organisation = session.scalar(select(Organisation))
    assert (organisation.shelter_cost_per_month, organisation.shelter_months) == (4_500_000, 6.0)
    assert organisation.baseline_evictions_per_year is None
    for field, values in (
        ("shelter_cost_per_month", {"shelter_cost_per_month": -1}),
        ("shelter_months", {"shelter_months": 500.0}),
        ("baseline_evictions_per_year", {"baseline_evictions_per_year": -3}),
    ):
        arguments = {
            "shelter_cost_per_month": 4_500_000,
            "shelter_months": 6.0,
            "baseline_evictions_per_year": None,
            **values,
        }
        with pytest.raises(ReportError) as caught:
            update_cost_assumptions(session, lead.team_id, **arguments)
        assert caught.value.field == field


def test_migration_gives_stored_organisations_the_default_assumptions(tmp_path):
    """0006 adds the columns with server defaults, so existing rows get Randers' figures."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from fieldapp import create_app

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k", "CHECK_SCHEMA": False})
    with app.app_context():
        upgrade(revision="0005")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organisation (name, country, currency, timezone, "
                    "default_language, is_demo) VALUES ('Drammen', 'NO', 'NOK', 'Europe/Oslo', "
                    "'nb', 0)"
                )
            )
        upgrade()
        organisation = db.session.scalar(select(Organisation))
        assert organisation.shelter_cost_per_month == 4_500_000
        assert organisation.shelter_months == 6.0
        assert organisation.baseline_evictions_per_year is None
        db.session.remove()
        db.engine.dispose()


def test_reports_only_read(session, drammen_register):
    """Reports only read: asking for them leaves nothing to commit."""
    before = session.scalar(select(db.func.count()).select_from(Household))
    outcome_figures(session, 2012, 2014, period="month")
    assert not session.new and not session.dirty
    assert session.scalar(select(db.func.count()).select_from(Household)) == before
