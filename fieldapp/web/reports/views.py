"""Views for outcome statistics: the reports page, its cost assumptions and the CSV."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ...extensions import db
from ...services.audit import record_event
from ...services.reports import (
    LIST_DAYS,
    AgreementFigures,
    PeriodFigures,
    ReportError,
    agreement_figures,
    agreement_rows,
    agreements_csv,
    cost_assumptions,
    cost_avoided,
    current_year,
    list_cadence,
    list_rows,
    lists_csv,
    outcome_figures,
    outcome_rows,
    outcomes_csv,
    report_teams,
    update_cost_assumptions,
)
from ..labels import CAUSE_LABELS
from ..security import client_address, roles_required
from . import bp
from .charts import Chart, Series, bar_chart
from .forms import AssumptionsForm, ReportQuery, parse_assumptions, parse_report_query


def _scope(filters, **more: int | None) -> dict:
    """The landlord-kind and team filters as the report functions take them (and more)."""
    return {"landlord_kind": filters.landlord_kind, "team_id": filters.team_id, **more}


def _read_query(args: Mapping[str, str]) -> ReportQuery:
    teams = {team.id for team in report_teams(db.session)}
    return parse_report_query(args, current_year(), teams)


def _charts(figures: list[PeriodFigures], agreements: list[AgreementFigures]) -> list[Chart]:
    """The four charts of the page: legal steps, evictions by cause, contact rate, and how the
    petitions held by agreement ended."""
    labels = [item.period.label for item in figures]

    def values(name: str) -> list[float | None]:
        return [getattr(item, name) for item in figures]

    def held(name: str) -> list[float | None]:
        return [getattr(item, name) for item in agreements]

    rates = [
        None if item.contact_rate is None else round(item.contact_rate * 100, 1) for item in figures
    ]
    causes = [
        Series(f"series-{n}", str(label), [item.evictions_by_cause[code] for item in figures])
        for n, (code, label) in enumerate(CAUSE_LABELS.items(), start=1)
    ]
    return [
        bar_chart(
            "chart-legal",
            _("Petitions and evictions"),
            labels,
            [
                Series("series-1", _("Petitions"), values("petitions")),
                Series("series-2", _("Executed evictions"), values("executed_evictions")),
                Series("series-3", _("Withdrawn or cancelled"), values("withdrawn_or_cancelled")),
            ],
        ),
        bar_chart("chart-causes", _("Executed evictions by cause"), labels, causes, stacked=True),
        bar_chart(
            "chart-contact",
            _("Contact rate before the hearing"),
            labels,
            [Series("series-1", _("Met before the hearing"), rates)],
            top=100,
            percent=True,
        ),
        bar_chart(
            "chart-holds",
            _("Petitions held by agreement"),
            labels,
            [
                Series("series-1", _("Hold ended in payment"), held("holds_ended_in_payment")),
                Series("series-2", _("Hold ended in a petition"), held("holds_ended_in_petition")),
                Series("series-4", _("Hold still running"), held("holds_running")),
            ],
            stacked=True,
        ),
    ]


def _page(query: ReportQuery, form: AssumptionsForm | None = None, status: int = 200):
    """Render the reports page for the filters (bad parameters already fell back)."""
    filters = query.filters
    years = (db.session, filters.year_from, filters.year_to)
    figures = outcome_figures(*years, period=filters.period, **_scope(filters))
    # What was agreed and the landlords' lists are the lead's own team's records (all teams'
    # for a lead without a team), within the filters.
    own = _scope(filters, within_team_id=current_user.team_id)
    agreements = agreement_figures(*years, period=filters.period, **own)
    assumptions = cost_assumptions(db.session, current_user.team_id)
    if form is None:
        form = AssumptionsForm(
            shelter_cost=str(round(assumptions.shelter_cost_per_month / 100)),
            shelter_months=f"{assumptions.shelter_months:g}",
            baseline=""
            if assumptions.baseline_evictions_per_year is None
            else str(assumptions.baseline_evictions_per_year),
        )
    context = {
        "query": query,
        "filters": filters,
        "figures": figures,
        "agreements": agreements,
        "own_team": current_user.team,
        "charts": _charts(figures, agreements),
        "estimate": cost_avoided(figures, assumptions),
        "assumptions": assumptions,
        "form": form,
        "teams": report_teams(db.session),
        "cadence": list_cadence(*years, **own),
        "list_days": LIST_DAYS,
        "csv_args": {
            k: v for k, v in query.as_args().items() if k in ("from", "to", "landlord_kind", "team")
        },
    }
    return render_template("reports/outcomes.html", **context), status


@bp.route("/reports", methods=["GET", "POST"])
@roles_required("lead")
def outcomes():
    """Outcome statistics per year, quarter or month; filters as query parameters or posted."""
    query = _read_query(request.form if request.method == "POST" else request.args)
    return _page(query, status=400 if query.errors else 200)


@bp.post("/reports/assumptions")
@roles_required("lead")
def assumptions():
    """Save the organisation's cost assumptions, then show the report again (303)."""
    query = _read_query(request.form)
    form = parse_assumptions(request.form)
    if form.valid:
        try:
            saved = update_cost_assumptions(
                db.session,
                current_user.team_id,
                shelter_cost_per_month=form.shelter_cost_per_month,
                shelter_months=form.months,
                baseline_evictions_per_year=form.baseline_evictions_per_year,
            )
        except ReportError as error:
            form.errors[error.field] = f"{error.field}: {error}"
    if not form.valid:
        db.session.rollback()
        return _page(query, form, 400)
    record_event(
        db.session,
        current_user,
        "update",
        "organisation",
        saved.organisation_id or "",
        client_address(),
        "cost assumptions",
    )
    db.session.commit()
    flash(_("The cost assumptions are saved."))
    return redirect(url_for("reports.outcomes", **query.as_args()), code=303)


def _download(stem: str, make_text: Callable[..., str], **scope: int | None) -> Response:
    """A CSV attachment of the filters' years (never cached), or the plain-text 400 that
    names the bad parameters. make_text(session, from, to, landlord_kind=, team_id=, **scope)."""
    query = _read_query(request.args)
    # The exports are yearly (or per list), so a period parameter does not matter here.
    errors = [message for name, message in query.errors.items() if name != "period"]
    if errors:
        return Response("\n".join(errors) + "\n", status=400, mimetype="text/plain")
    filters = query.filters
    text = make_text(db.session, filters.year_from, filters.year_to, **_scope(filters, **scope))
    response = Response(text, mimetype="text/csv")
    name = f"{stem}-{filters.year_from}-{filters.year_to}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reports/outcomes.csv")
@roles_required("lead")
def outcomes_csv_file():
    """One row per year: year, petitions, executed evictions … (see the README)."""
    return _download("outcomes", lambda *args, **kw: outcomes_csv(outcome_rows(*args, **kw)))


@bp.get("/reports/agreements.csv")
@roles_required("lead")
def agreements_csv_file():
    """One row per year: holds accepted and how they ended, plans kept and broken, deductions."""
    return _download(
        "agreements",
        lambda *args, **kw: agreements_csv(agreement_rows(*args, **kw)),
        within_team_id=current_user.team_id,
    )


@bp.get("/reports/lists.csv")
@roles_required("lead")
def lists_csv_file():
    """One row per landlord's list: its days, the petitions and executed evictions in them."""
    return _download(
        "lists",
        lambda *args, **kw: lists_csv(list_rows(list_cadence(*args, **kw))),
        within_team_id=current_user.team_id,
    )
