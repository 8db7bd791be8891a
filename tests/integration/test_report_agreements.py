"""The figures of issue 21 on the reports page and in its CSVs: petitions held by agreement
and how the holds ended, payment plans kept and broken, rent deductions set up, and Drammen's
cadence (petitions and executed evictions per landlord per 14-day list), on SQLite and
PostgreSQL, from records built directly from the models."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import (
    BenefitDeduction,
    HoldRequest,
    ImportBatch,
    Landlord,
    PaymentPlan,
    Team,
)

NORD = "Boligselskabet Nord"  # a housing association, in both teams' registers
KOMMUNE = "Kommunens boliger"  # municipal housing, team A only


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def register(app, make_user, make_case):
    """Two teams, two landlords, holds in every state and ending, plans, deductions, lists
    and legal steps inside and outside the lists' days. Returns the team ids by name."""
    lead_a = make_user("lead", email="lead-a@example.org", team="Team A")
    make_user("lead", email="lead-b@example.org", team="Team B")
    make_user("lead", email="lead-all@example.org", team=None)  # a lead without a team
    with app.app_context():
        db.session.add(Landlord(name=KOMMUNE, kind="municipal"))
        db.session.commit()

    # Cases of Nord in team A carry the steps for its lists (and the agreements).
    steps_nord = [
        ("petition", date(2025, 3, 2)),  # the day before the first list: in none
        ("petition", date(2025, 3, 3)),  # list of 3 March, its first day
        ("hearing", date(2025, 3, 5)),  # not a petition or an eviction
        ("petition", date(2025, 3, 16)),  # list of 3 March, its 14th and last day
        ("executed", date(2025, 3, 17)),  # list of 17 March, its first day
        ("petition", date(2025, 3, 30)),  # list of 17 March, its last day
        ("petition", date(2025, 3, 31)),  # after its 14 days, before the next list: in none
        ("executed", date(2025, 4, 20)),  # list of 7 April, its last day
        ("petition", date(2025, 4, 21)),  # the day after: in none
        ("petition", date(2025, 6, 15)),  # list of 2 June (no as-of: the import's day), last day
    ]
    nord_cases = [make_case(team="Team A", steps=[step]) for step in steps_nord]
    kommune_cases = [
        make_case(team="Team A", landlord=KOMMUNE, steps=[("petition", date(2025, 3, 16))]),
        make_case(team="Team A", landlord=KOMMUNE, steps=[("executed", date(2025, 3, 17))]),
    ]
    b_case = make_case(team="Team B", steps=[("petition", date(2025, 3, 5))])

    with app.app_context():
        session = db.session
        teams = {team.name: team.id for team in session.scalars(select(Team))}
        landlords = {row.name: row.id for row in session.scalars(select(Landlord))}
        a, b = teams["Team A"], teams["Team B"]

        def batch(landlord: str, team: int, as_of: date | None, created: datetime) -> None:
            session.add(
                ImportBatch(
                    kind="arrears",
                    landlord_id=landlords[landlord],
                    team_id=team,
                    file_hash=uuid.uuid4().hex,
                    as_of=as_of,
                    created_at=created,
                )
            )

        batch(NORD, a, date(2025, 3, 3), utc(2025, 3, 3, 9))
        batch(NORD, a, date(2025, 3, 17), utc(2025, 3, 17, 9))
        batch(NORD, a, date(2025, 3, 17), utc(2025, 3, 18, 9))  # a second file, same list
        batch(NORD, a, date(2025, 4, 7), utc(2025, 4, 7, 9))
        batch(NORD, a, None, utc(2025, 6, 2, 10))
        batch(NORD, a, date(2024, 12, 30), utc(2024, 12, 30, 9))  # a list of the year before
        batch(KOMMUNE, a, date(2025, 3, 10), utc(2025, 3, 10, 9))
        batch(KOMMUNE, a, date(2025, 3, 17), utc(2025, 3, 17, 9))  # cuts the one before short
        batch(NORD, b, date(2025, 3, 3), utc(2025, 3, 3, 9))
        # Legal-step files are not arrears lists.
        session.add(
            ImportBatch(
                kind="legal_steps",
                landlord_id=landlords[NORD],
                team_id=a,
                file_hash="x" * 64,
                as_of=date(2025, 3, 31),
            )
        )

        def hold(case_id, state, answered=None, ended=None, landlord=NORD):
            session.add(
                HoldRequest(
                    case_id=case_id,
                    landlord_id=landlords[landlord],
                    requested_by_id=lead_a.id,
                    requested_at=utc(2025, 3, 1, 9),
                    until=date(2025, 9, 1),
                    reason="payment_plan",
                    state=state,
                    answered_by_id=None,
                    answered_at=answered,
                    ended_with=ended,
                    ended_on=date(2025, 8, 1) if ended else None,
                )
            )

        hold(nord_cases[0], "accepted", utc(2025, 3, 10, 12), "payment")
        hold(nord_cases[1], "accepted", utc(2025, 3, 11, 12), "petition")
        hold(nord_cases[2], "accepted", utc(2025, 6, 1, 12))  # still running
        # 23:30 UTC on New Year's Eve is 00:30 on 1 January in Copenhagen: a 2026 hold.
        hold(nord_cases[3], "accepted", utc(2025, 12, 31, 23, 30), "payment")
        hold(nord_cases[4], "requested")
        hold(nord_cases[5], "declined", utc(2025, 3, 12, 12))
        hold(nord_cases[6], "withdrawn")
        hold(b_case, "accepted", utc(2025, 3, 10, 12), "petition")  # team B

        def plan(case_id, state, checked_on):
            session.add(
                PaymentPlan(
                    client_uuid=str(uuid.uuid4()),
                    case_id=case_id,
                    created_by_id=lead_a.id,
                    arrears_at_start=1_500_000,
                    instalments=[{"due_on": "2025-02-15", "amount": 150_000}],
                    state=state,
                    checked_on=checked_on,
                    recorded_at=utc(2025, 1, 10, 9),
                )
            )

        plan(nord_cases[0], "kept", date(2025, 2, 1))
        plan(nord_cases[1], "kept", date(2025, 5, 1))
        plan(nord_cases[2], "broken", date(2025, 5, 2))
        plan(nord_cases[3], "active", None)  # not checked yet
        plan(nord_cases[4], "ended", date(2025, 4, 1))  # ended by hand
        plan(nord_cases[5], "broken", date(2024, 12, 31))  # the day before the year
        plan(kommune_cases[0], "kept", date(2025, 5, 5))  # municipal housing
        plan(b_case, "broken", date(2025, 5, 1))  # team B

        def deduction(case_id, state, confirmed=None):
            session.add(
                BenefitDeduction(
                    client_uuid=str(uuid.uuid4()),
                    case_id=case_id,
                    created_by_id=lead_a.id,
                    benefit="pension",
                    amount=400_000,
                    starts_on=date(2025, 4, 1),
                    state=state,
                    confirmed_by="benefit_office" if confirmed else "",
                    confirmed_at=confirmed,
                    recorded_at=utc(2025, 3, 1, 9),
                )
            )

        deduction(nord_cases[0], "confirmed", utc(2025, 4, 1, 10))
        deduction(nord_cases[1], "ended", utc(2025, 8, 1, 10))  # set up, ended since
        deduction(nord_cases[2], "applied")
        deduction(nord_cases[3], "refused")
        # 23:30 UTC on 31 December 2024 is 2025 in Copenhagen.
        deduction(nord_cases[4], "confirmed", utc(2024, 12, 31, 23, 30))
        deduction(b_case, "confirmed", utc(2025, 4, 1, 10))  # team B
        session.commit()
    return teams


@pytest.fixture
def lead_a(auth, register):
    auth.login("lead-a@example.org")


def text(response) -> str:
    return response.get_data(as_text=True)


def rows_of(html: str, table_id: str) -> list[list[str]]:
    """The body rows of a table as lists of cell texts; a <time> reads as its datetime."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</thead>(.*?)</table>', html, re.S)
    assert table, f"no table {table_id}"
    body = re.sub(r'<time datetime="([^"]+)">.*?</time>', r"\1", table.group(1), flags=re.S)
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


# ---------------------------------------------------------------------------
# Holds, plans and deductions
# ---------------------------------------------------------------------------


def test_the_agreements_of_a_team_per_year_on_the_page_and_in_the_csv(client, register, lead_a):
    team = register["Team A"]
    html = text(client.get(f"/reports?from=2024&to=2026&team={team}"))
    assert rows_of(html, "table-agreements") == [
        # period, held, ended in payment, in a petition, running, kept, broken, deductions
        ["2024", "0", "0", "0", "0", "0", "1", "0"],
        ["2025", "3", "1", "1", "1", "3", "1", "3"],
        ["2026", "1", "1", "0", "0", "0", "0", "0"],
    ]
    assert "Petitions held by agreement" in html
    # Its chart stacks how the holds ended; the table above is its text equivalent.
    assert re.search(
        r'<rect class="series-2"[^>]*><title>2025 · Hold ended in a petition: 1</title>', html
    )
    assert re.search(
        r'<rect class="series-4"[^>]*><title>2025 · Hold still running: 1</title>', html
    )
    assert "counted in the period of the landlord" in html  # its definition
    response = client.get(f"/reports/agreements.csv?from=2024&to=2026&team={team}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="agreements-2024-2026.csv"' in response.headers["Content-Disposition"]
    assert text(response) == (
        "year,holds_accepted,holds_ended_in_payment,holds_ended_in_petition,holds_running,"
        "plans_kept,plans_broken,deductions_set_up\r\n"
        "2024,0,0,0,0,0,1,0\r\n"
        "2025,3,1,1,1,3,1,3\r\n"
        "2026,1,1,0,0,0,0,0\r\n"
    )


def test_the_agreements_per_quarter_count_by_the_answer_check_and_confirmation(
    client, register, lead_a
):
    team = register["Team A"]
    html = text(client.get(f"/reports?from=2025&to=2025&period=quarter&team={team}"))
    assert rows_of(html, "table-agreements") == [
        ["2025 Q1", "2", "1", "1", "0", "1", "0", "1"],  # holds of 10 and 11 March
        ["2025 Q2", "1", "0", "0", "1", "2", "1", "1"],  # plans checked in May
        ["2025 Q3", "0", "0", "0", "0", "0", "0", "1"],  # the deduction ended since
        ["2025 Q4", "0", "0", "0", "0", "0", "0", "0"],  # New Year's Eve's hold is 2026's
    ]


def test_the_agreements_follow_the_landlord_kind_filter_within_the_leads_team(
    client, register, lead_a
):
    html = text(client.get("/reports?from=2025&to=2025"))  # no team filter: still team A's
    assert rows_of(html, "table-agreements") == [["2025", "3", "1", "1", "1", "3", "1", "3"]]
    assert "register only (Team A), like the lists below" in html
    html = text(client.get("/reports?from=2025&to=2025&landlord_kind=municipal"))
    assert rows_of(html, "table-agreements") == [["2025", "0", "0", "0", "0", "1", "0", "0"]]


def test_a_lead_of_another_team_sees_none_of_it(client, auth, register):
    auth.login("lead-b@example.org")
    team_a, team_b = register["Team A"], register["Team B"]
    # Team B's own: one hold ended in a petition, one broken plan, one deduction, one list
    # of Nord counting team B's petition and none of team A's steps on the same days.
    html = text(client.get("/reports?from=2025&to=2025"))
    assert rows_of(html, "table-agreements") == [["2025", "1", "0", "1", "0", "0", "1", "1"]]
    assert rows_of(html, "table-lists") == [[NORD, "Team B", "1", "1", "0"]]
    assert rows_of(html, "table-lists-1") == [["2025-03-03", "2025-03-16", "1", "0"]]
    assert KOMMUNE not in html
    csv_text = text(client.get("/reports/lists.csv?from=2025&to=2025"))
    assert "Team A" not in csv_text and len(csv_text.splitlines()) == 2
    # Asking for team A's figures finds nothing of them.
    html = text(client.get(f"/reports?from=2025&to=2025&team={team_a}"))
    assert rows_of(html, "table-agreements") == [["2025"] + ["0"] * 7]
    assert 'id="table-lists"' not in html and 'id="lists-empty"' in html
    for path in ("/reports/agreements.csv", "/reports/lists.csv"):
        lines = text(client.get(f"{path}?from=2025&to=2025&team={team_a}")).splitlines()
        assert lines[1:] in ([], ["2025,0,0,0,0,0,0,0"])
    # Team B's own filter gives the same as no filter.
    html_b = text(client.get(f"/reports?from=2025&to=2025&team={team_b}"))
    assert rows_of(html_b, "table-agreements") == [["2025", "1", "0", "1", "0", "0", "1", "1"]]


def test_a_lead_without_a_team_sees_every_teams_figures(client, auth, register):
    auth.login("lead-all@example.org")
    html = text(client.get("/reports?from=2025&to=2025"))
    assert rows_of(html, "table-agreements") == [["2025", "4", "1", "2", "1", "3", "2", "4"]]
    assert [row[:2] for row in rows_of(html, "table-lists")] == [
        [NORD, "Team A"],
        [NORD, "Team B"],
        [KOMMUNE, "Team A"],
    ]
    assert "Counted in your own team" not in html
    csv_text = text(
        client.get(f"/reports/agreements.csv?from=2025&to=2025&team={register['Team B']}")
    )
    assert csv_text.splitlines()[1] == "2025,1,0,1,0,0,1,1"


def test_the_existing_csv_keeps_its_columns(client, register, lead_a):
    first = text(client.get("/reports/outcomes.csv?from=2025&to=2025")).splitlines()[0]
    assert first == (
        "year,petitions,executed_evictions,withdrawn,resolved_without_eviction,"
        "evicted_with_children,rehoused,repeat_petitions"
    )


# ---------------------------------------------------------------------------
# Drammen's cadence: per landlord per list
# ---------------------------------------------------------------------------


def test_petitions_and_evictions_per_landlord_per_list_on_the_page(client, register, lead_a):
    html = text(client.get(f"/reports?from=2025&to=2025&team={register['Team A']}"))
    # The landlords in rows, with their lists' totals ...
    assert rows_of(html, "table-lists") == [
        # landlord, team, lists, petitions, executed evictions
        [NORD, "Team A", "4", "4", "2"],
        [KOMMUNE, "Team A", "2", "1", "1"],
    ]
    # ... and each landlord's lists folded beneath: the list's date, its last day, its steps.
    assert "Each list of Boligselskabet Nord (Team A)" in html
    assert rows_of(html, "table-lists-1") == [
        ["2025-03-03", "2025-03-16", "2", "0"],
        ["2025-03-17", "2025-03-30", "1", "1"],
        ["2025-04-07", "2025-04-20", "0", "1"],
        ["2025-06-02", "2025-06-15", "1", "0"],  # no as-of date: the day it was imported
    ]
    assert rows_of(html, "table-lists-2") == [
        ["2025-03-10", "2025-03-16", "1", "0"],  # cut short by the next list
        ["2025-03-17", "2025-03-30", "0", "1"],
    ]
    # Readable on a laptop and by a screen reader: labelled, focusable frames.
    assert '<div class="table-wrap" tabindex="0" role="group" aria-labelledby="lists-h">' in html
    assert 'role="group" aria-labelledby="lists-2-h">' in html
    assert "style=" not in html


def test_the_lists_csv_has_one_row_per_list(client, register, lead_a):
    response = client.get(f"/reports/lists.csv?from=2025&to=2025&team={register['Team A']}")
    assert response.status_code == 200
    assert 'filename="lists-2025-2025.csv"' in response.headers["Content-Disposition"]
    assert text(response) == (
        "landlord,landlord_kind,team,list_date,last_day,petitions,executed_evictions\r\n"
        f"{NORD},housing_association,Team A,2025-03-03,2025-03-16,2,0\r\n"
        f"{NORD},housing_association,Team A,2025-03-17,2025-03-30,1,1\r\n"
        f"{NORD},housing_association,Team A,2025-04-07,2025-04-20,0,1\r\n"
        f"{NORD},housing_association,Team A,2025-06-02,2025-06-15,1,0\r\n"
        f"{KOMMUNE},municipal,Team A,2025-03-10,2025-03-16,1,0\r\n"
        f"{KOMMUNE},municipal,Team A,2025-03-17,2025-03-30,0,1\r\n"
    )


def test_the_lists_follow_the_landlord_kind_filter(client, register, lead_a):
    html = text(client.get("/reports?from=2025&to=2025&landlord_kind=municipal"))
    assert rows_of(html, "table-lists") == [[KOMMUNE, "Team A", "2", "1", "1"]]
    assert "lists only (Team A)." in html
    # A year without lists says so.
    html = text(client.get("/reports?from=2023&to=2023"))
    assert 'id="table-lists"' not in html and 'id="lists-empty"' in html


def test_a_landlord_name_that_looks_like_a_formula_or_markup_stays_text(
    app, client, register, lead_a
):
    with app.app_context():
        landlord = db.session.scalar(select(Landlord).where(Landlord.name == KOMMUNE))
        landlord.name = "=1+2 <b>x</b>"
        db.session.commit()
    csv_text = text(client.get("/reports/lists.csv?from=2025&to=2025&landlord_kind=municipal"))
    assert csv_text.splitlines()[1].startswith("'=1+2 <b>x</b>,municipal,Team A,2025-03-10")
    html = text(client.get("/reports?from=2025&to=2025&landlord_kind=municipal"))
    assert "<b>x</b>" not in html
    assert "Each list of =1+2 &lt;b&gt;x&lt;/b&gt; (Team A)" in html


# ---------------------------------------------------------------------------
# Bad filters and who may see it
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/reports/agreements.csv", "/reports/lists.csv"])
@pytest.mark.parametrize(
    "query, param",
    [
        ("from=20x5", "from"),
        ("from=2026&to=2025", "from"),
        ("landlord_kind=castle", "landlord_kind"),
        ("team=abc", "team"),
    ],
)
def test_bad_filters_give_400_naming_the_parameter(client, register, lead_a, path, query, param):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert text(response).startswith(f"{param}:")


def test_bad_filters_on_the_page_still_name_the_parameter_and_show_the_new_tables(
    client, register, lead_a
):
    response = client.get("/reports?from=2025&to=2025&landlord_kind=castle")
    assert response.status_code == 400
    html = text(response)
    assert "landlord_kind: &#39;castle&#39; is not one of" in html
    assert 'id="table-agreements"' in html and 'id="table-lists"' in html


@pytest.mark.parametrize("role", ["worker", "admin", "partner", "landlord"])
@pytest.mark.parametrize("path", ["/reports/agreements.csv", "/reports/lists.csv"])
def test_only_leads_download_them(client, make_user, auth, register, role, path):
    auth.login(make_user(role, team="Team A").email)
    assert client.get(f"{path}?from=2025&to=2025").status_code == 403


@pytest.mark.parametrize(
    "language, words",
    [
        ("da", ["Begæringer i bero efter aftale", "Huslejetræk oprettet", "Hver liste fra"]),
        ("nb", ["Begjæringer i bero etter avtale", "gjennomførte fravikelser", "Hver liste fra"]),
    ],
)
def test_the_new_figures_speak_danish_and_norwegian(client, register, lead_a, language, words):
    html = text(
        client.get(
            f"/reports?from=2025&to=2025&team={register['Team A']}",
            headers={"Accept-Language": language},
        )
    )
    assert f'lang="{language}"' in html
    for word in words:
        assert word in html
    assert "utkastelse" not in html


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------


def test_the_command_line_gives_the_same_csvs(runner, client, auth, register, tmp_path):
    auth.login("lead-all@example.org")  # the command reads the whole register, as this lead
    for name, path in (("agreements", "/reports/agreements.csv"), ("lists", "/reports/lists.csv")):
        result = runner.invoke(args=["report", name, "--from", "2024", "--to", "2026"])
        assert result.exit_code == 0, result.output
        assert result.stdout_bytes.decode() == text(client.get(f"{path}?from=2024&to=2026"))
    target = tmp_path / "lists.csv"
    result = runner.invoke(
        args=["report", "lists", "--from", "2025", "--to", "2025", "--output", str(target)]
    )
    assert result.exit_code == 0 and result.stdout == ""
    assert "Wrote 7 lists" in result.stderr
    assert target.read_bytes().count(b"\r\n") == 8  # the header and the register's 7 lists


@pytest.mark.parametrize("name", ["agreements", "lists"])
def test_the_command_line_refuses_bad_years_by_name(runner, app, name):
    result = runner.invoke(args=["report", name, "--from", "2026", "--to", "2025"])
    assert result.exit_code == 2
    assert "--from" in result.output
