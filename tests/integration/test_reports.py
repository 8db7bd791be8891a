"""The reports page, its CSV and `fieldapp report outcomes`, through HTTP and the command line."""

from __future__ import annotations

import csv
import io
import json
import re

import openpyxl
import pytest
from sqlalchemy import select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Landlord, Organisation
from tests import drammen

EXPECTED_CSV = (
    "\r\n".join(
        [
            drammen.CSV_HEADER,
            "2012,74,24,10,0,5,0,0",
            "2013,41,15,8,0,3,0,2",
            "2014,34,18,7,0,0,0,2",
        ]
    )
    + "\r\n"
)


@pytest.fixture
def drammen_register(app, runner, make_user, tmp_path) -> drammen.Register:
    """Drammen's 2012–2014 register, imported with `fieldapp import-legal-steps`."""
    make_user("lead", email="importer@drammen.example", team=drammen.TEAM)
    with app.app_context():
        db.session.add(Landlord(name=drammen.MUNICIPAL, kind="municipal"))
        db.session.commit()
    register = drammen.build()
    path = drammen.write_csv(register, tmp_path / "fravikelser.csv")
    result = runner.invoke(args=["import-legal-steps", str(path)])
    assert result.exit_code == 0, result.output
    return register


@pytest.fixture
def lead(make_user, auth):
    user = make_user("lead", team=drammen.TEAM)
    auth.login(user.email)
    return user


def text(response) -> str:
    return response.get_data(as_text=True)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of a table as lists of cell texts (row header first)."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert table, f"no table {table_id}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


# ---------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------


def test_lead_sees_the_yearly_table_charts_and_definitions(client, drammen_register, lead):
    response = client.get("/reports?from=2012&to=2014")
    assert response.status_code == 200
    html = text(response)
    legal = table_rows(html, "table-legal")
    assert [row[0] for row in legal] == ["2012", "2013", "2014"]
    assert [row[1] for row in legal] == ["74", "41", "34"]  # petitions
    assert [row[4] for row in legal] == ["24", "15", "18"]  # executed evictions
    assert [row[5] for row in legal] == ["8", "7", "6"]  # withdrawn
    evicted = table_rows(html, "table-evicted")
    assert [row[2] for row in evicted] == ["20", "13", "16"]  # economic
    assert [row[6] for row in evicted] == ["5", "3", "0"]  # with children
    contact = table_rows(html, "table-contact")
    assert [row[1] for row in contact] == ["0", "2", "2"]  # petitioned again within 24 months
    # Four charts, drawn on the server as SVG with a bar per figure and period.
    assert html.count('<svg class="bars"') == 4
    assert (
        len(re.findall(r'<rect class="series-1"[^>]*><title>2012 · Petitions: 74</title>', html))
        == 1
    )
    # The definitions are on the page, the rehoused one in particular.
    assert "How the figures are counted" in html
    assert "first appears on or after the eviction date" in html
    # The strict Content-Security-Policy: no style attributes and no inline scripts.
    assert "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert 'href="/static/css/reports.css"' in html
    assert 'href="/reports"' in html  # the lead's navigation links here


def test_filters_by_period_landlord_kind_and_team(client, drammen_register, lead):
    html = text(client.get("/reports?from=2013&to=2013&period=quarter"))
    assert [row[0] for row in table_rows(html, "table-legal")] == [
        "2013 Q1",
        "2013 Q2",
        "2013 Q3",
        "2013 Q4",
    ]
    assert table_rows(html, "table-legal")[0][4] == "3"  # 2012 petitions executed in January
    municipal = text(client.get("/reports?from=2012&to=2014&landlord_kind=municipal"))
    expected = [
        str(drammen.oracle(drammen_register, "petition", y, drammen.MUNICIPAL))
        for y in drammen.YEARS
    ]
    assert [row[1] for row in table_rows(municipal, "table-legal")] == expected
    with client.application.app_context():
        from fieldapp.models import Team

        team_id = db.session.scalar(select(Team.id).where(Team.name == drammen.TEAM))
    by_team = text(client.get(f"/reports?from=2012&to=2014&team={team_id}"))
    assert [row[1] for row in table_rows(by_team, "table-legal")] == ["74", "41", "34"]
    month = text(client.get("/reports?from=2014&to=2014&period=month"))
    assert len(table_rows(month, "table-legal")) == 12


def test_filters_can_be_posted(client, auth, drammen_register, lead):
    response = auth.post(
        "/reports", {"from": "2013", "to": "2014", "period": "year"}, page="/reports"
    )
    assert response.status_code == 200
    assert [row[1] for row in table_rows(text(response), "table-legal")] == ["41", "34"]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("from=20x2&to=2014", "from"),
        ("from=2012&to=14", "to"),
        ("from=2015&to=2012", "from"),
        ("from=1850&to=2012", "from"),
        ("from=2012&to=2014&period=week", "period"),
        ("from=2012&to=2014&landlord_kind=council", "landlord_kind"),
        ("from=2012&to=2014&team=999", "team"),
    ],
)
def test_bad_parameters_on_the_page_give_400_naming_them(client, lead, query, param):
    response = client.get(f"/reports?{query}")
    assert response.status_code == 400
    errors = re.search(r'id="report-errors">(.*?)</div>', text(response), re.S)
    assert errors and f"{param}:" in errors.group(1)


def test_the_page_shows_the_last_five_years_by_default(client, lead):
    from datetime import date

    html = text(client.get("/reports"))
    this_year = date.today().year
    assert [row[0] for row in table_rows(html, "table-legal")] == [
        str(y) for y in range(this_year - 4, this_year + 1)
    ]


# ---------------------------------------------------------------------------
# The CSV
# ---------------------------------------------------------------------------


def test_csv_gives_drammens_published_table(client, drammen_register, lead):
    response = client.get("/reports/outcomes.csv?from=2012&to=2014")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="outcomes-2012-2014.csv"' in response.headers["Content-Disposition"]
    assert text(response) == EXPECTED_CSV
    rows = list(csv.DictReader(io.StringIO(text(response))))
    assert [int(r["petitions"]) for r in rows] == [74, 41, 34]
    assert [int(r["executed_evictions"]) for r in rows] == [24, 15, 18]


def test_csv_follows_the_landlord_kind_filter(client, drammen_register, lead):
    response = client.get("/reports/outcomes.csv?from=2012&to=2014&landlord_kind=private")
    rows = list(csv.DictReader(io.StringIO(text(response))))
    assert [int(r["petitions"]) for r in rows] == [
        drammen.oracle(drammen_register, "petition", y, drammen.PRIVATE) for y in drammen.YEARS
    ]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("from=abcd&to=2014", "from"),
        ("from=2012&to=20145", "to"),
        ("from=2014&to=2012", "from"),
        ("from=0&to=2012", "from"),
        ("from=2012.5&to=2013", "from"),
        ("from=1990&to=2030", "from"),
    ],
)
def test_csv_bad_parameters_give_400_naming_the_parameter(client, lead, query, param):
    response = client.get(f"/reports/outcomes.csv?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert text(response).startswith(f"{param}: ")


# ---------------------------------------------------------------------------
# Who may see it
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["worker", "admin"])
@pytest.mark.parametrize("path", ["/reports", "/reports/outcomes.csv?from=2012&to=2014"])
def test_workers_and_administrators_get_403(client, make_user, auth, role, path):
    user = make_user(role)
    auth.login(user.email)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("role", ["worker", "admin"])
def test_workers_and_administrators_cannot_change_the_assumptions(client, make_user, auth, role):
    user = make_user(role)
    auth.login(user.email)
    token = auth.csrf_any_page()
    response = client.post(
        "/reports/assumptions",
        data={
            "csrf_token": token,
            "shelter_cost_per_month": "1",
            "shelter_months": "1",
            "baseline_evictions_per_year": "1",
        },
    )
    assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_the_login(client):
    for path in ("/reports", "/reports/outcomes.csv?from=2012&to=2014"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---------------------------------------------------------------------------
# Cost assumptions
# ---------------------------------------------------------------------------


def test_lead_sets_the_cost_assumptions_and_sees_the_estimate(
    client, auth, app, drammen_register, lead
):
    page = text(client.get("/reports?from=2012&to=2014"))
    assert "45.000" in page or "45,000" in page  # Randers' default, in the reader's format
    response = auth.post(
        "/reports/assumptions",
        {
            "from": "2012",
            "to": "2014",
            "period": "year",
            "shelter_cost_per_month": "40.000",
            "shelter_months": "4,5",
            "baseline_evictions_per_year": "30",
        },
        page="/reports",
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/reports?from=2012&to=2014&period=year")
    with app.app_context():
        organisation = db.session.scalar(select(Organisation))
        assert organisation.shelter_cost_per_month == 4_000_000
        assert organisation.shelter_months == 4.5
        assert organisation.baseline_evictions_per_year == 30
        assert (
            db.session.scalar(
                select(AuditEvent).where(AuditEvent.object_type == "organisation")
            ).detail
            == "cost assumptions"
        )
    html = text(client.get(response.headers["Location"]))
    assert "The cost assumptions are saved." in html
    cost = table_rows(html, "table-cost")
    # Baseline 30, evictions 24/15/18 → avoided 6, 15, 12 → 33 × 4.5 × 40,000 = 5,940,000.
    assert [row[3] for row in cost] == ["6", "15", "12"]
    total = re.search(r'id="cost-avoided-total">([^<]+)<', html).group(1)
    assert re.sub(r"\D", "", total) == "5940000"


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        ({"shelter_cost_per_month": "lots"}, "shelter_cost_per_month", "Shelter cost per month"),
        ({"shelter_cost_per_month": ""}, "shelter_cost_per_month", "Shelter cost per month"),
        ({"shelter_months": "-2"}, "shelter_months", "Average months in a shelter"),
        ({"shelter_months": "200"}, "shelter_months", "Average months in a shelter"),
        ({"baseline_evictions_per_year": "7.5"}, "baseline_evictions_per_year", "baseline"),
    ],
)
def test_bad_assumptions_give_400_naming_the_field_and_change_nothing(
    client, auth, app, lead, form, field, words
):
    data = {
        "shelter_cost_per_month": "45000",
        "shelter_months": "6",
        "baseline_evictions_per_year": "",
        **form,
    }
    response = auth.post("/reports/assumptions", data, page="/reports")
    assert response.status_code == 400
    errors = re.search(r'id="assumption-errors">(.*?)</div>', text(response), re.S)
    assert errors and words in errors.group(1)
    assert f'id="{field}" name="{field}"' in text(response)
    with app.app_context():
        organisation = db.session.scalar(select(Organisation))
        assert (organisation.shelter_cost_per_month, organisation.shelter_months) == (
            4_500_000,
            6.0,
        )


def test_assumptions_without_the_csrf_token_are_refused(client, app, lead):
    response = client.post(
        "/reports/assumptions",
        data={"shelter_cost_per_month": "1", "shelter_months": "1"},
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Organisation.shelter_cost_per_month)) == 4_500_000


def test_the_baseline_can_be_cleared(client, auth, app, lead):
    for baseline in ("75", ""):
        response = auth.post(
            "/reports/assumptions",
            {
                "shelter_cost_per_month": "45 000",
                "shelter_months": "6",
                "baseline_evictions_per_year": baseline,
            },
            page="/reports",
        )
        assert response.status_code == 303
        with app.app_context():
            stored = db.session.scalar(select(Organisation.baseline_evictions_per_year))
            assert stored == (int(baseline) if baseline else None)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def test_cli_prints_the_table_as_csv_and_json(runner, drammen_register):
    result = runner.invoke(args=["report", "outcomes", "--from", "2012", "--to", "2014"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.decode() == EXPECTED_CSV
    result = runner.invoke(
        args=["report", "outcomes", "--from", "2012", "--to", "2014", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["petitions"] for row in rows] == [74, 41, 34]
    assert [row["executed_evictions"] for row in rows] == [24, 15, 18]
    assert list(rows[0]) == drammen.CSV_HEADER.split(",")


def test_cli_writes_xlsx_and_csv_files(runner, drammen_register, tmp_path):
    path = tmp_path / "outcomes.xlsx"
    result = runner.invoke(
        args=[
            "report",
            "outcomes",
            "--from",
            "2012",
            "--to",
            "2014",
            "--format",
            "xlsx",
            "--output",
            str(path),
        ]
    )
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(path).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == drammen.CSV_HEADER.split(",")
    assert [row[:3] for row in values[1:]] == [[2012, 74, 24], [2013, 41, 15], [2014, 34, 18]]
    target = tmp_path / "outcomes.csv"
    result = runner.invoke(
        args=["report", "outcomes", "--from", "2012", "--to", "2014", "--output", str(target)]
    )
    assert result.exit_code == 0 and result.stdout == ""
    assert target.read_bytes().decode() == EXPECTED_CSV


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2014", "--to", "2012"], "--from"),
        (["--from", "1800", "--to", "2012"], "--from"),
        (["--from", "twenty", "--to", "2012"], "--from"),
        (["--from", "2012", "--to", "2014", "--format", "xlsx"], "--output"),
        (["--from", "2012"], "--to"),
    ],
)
def test_cli_refuses_bad_arguments(runner, app, args, message):
    result = runner.invoke(args=["report", "outcomes", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_a_huge_or_odd_baseline_and_year_are_refused_by_name_not_a_500(client, auth, lead):
    """int() of a 5,000-digit string raises (Python's 4,300-digit limit): a 500 before the
    one whole-number parser; "²" is a digit to str.isdigit."""
    for value in ("1" * 5000, "²", "7e2"):
        response = auth.post(
            "/reports/assumptions",
            {
                "from": "2012", "to": "2014", "period": "year",
                "shelter_cost_per_month": "40.000", "shelter_months": "4",
                "baseline_evictions_per_year": value,
            },
            page="/reports",
        )  # fmt: skip
        assert response.status_code in (400, 422), value
        assert "is not a whole number" in response.get_data(as_text=True)
    assert client.get("/reports?from=²⁰¹²&to=2014").status_code in (200, 400)
