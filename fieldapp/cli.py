"""The `fieldapp` command: demo, users, database upgrades, imports, reports, routes."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext

from . import SchemaBehind, check_schema_current, create_app
from .extensions import db

if TYPE_CHECKING:
    from .services.imports import ImportReport


def _cli_app():
    # Commands check the schema themselves: `db upgrade` must run on a database that is behind.
    return create_app({"CHECK_SCHEMA": False})


@click.group(cls=FlaskGroup, create_app=_cli_app, add_default_commands=False)
def main() -> None:
    """Doorstep: eviction-prevention outreach."""


# Flask's own `routes` and `shell`; its `run` is replaced by ours (schema check, reminders).
main.add_command(routes_command)
main.add_command(shell_command)


def register_commands(app) -> None:
    """Attach the commands to the app's CLI (so `flask --app fieldapp` has them too)."""
    for command in (
        demo,
        create_user_command,
        serve,
        import_arrears_command,
        import_legal_steps_command,
        report,
        geocode_command,
        plan_routes_command,
        vapid_keys_command,
        send_reminders_command,
        purge_command,
        identity_provider_group,
    ):
        app.cli.add_command(command)


def _serve(host: str, port: int) -> None:
    try:
        check_schema_current()
    except SchemaBehind as error:
        raise click.ClickException(str(error)) from None
    from werkzeug.serving import run_simple

    _start_reminder_thread()
    # app.run() refuses inside a Flask CLI command; serve with Werkzeug's server directly.
    run_simple(host, port, current_app._get_current_object(), threaded=True)


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Serve the app (refuses when the schema is behind). Use gunicorn in production."""
    _serve(host, port)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Create and seed the database, then exit.")
@click.option(
    "--without-history",
    is_flag=True,
    help="Seed today's town only, not its five years of closed cases (quicker to start).",
)
@with_appcontext
def demo(host: str, port: int, no_serve: bool, without_history: bool) -> None:
    """Create or upgrade the database, seed a demo municipality if empty, and serve it."""
    from flask_migrate import upgrade

    from .services.demo import DEMO_LOGINS, seed_demo

    upgrade()
    seeded = seed_demo(
        db.session,
        current_app.config["DEMO_PASSWORD"],
        history=not without_history,
        consent_months=current_app.config["CONSENT_RETENTION_MONTHS"],
    )
    db.session.commit()
    click.echo("Demo database ready" + (" (seeded now)." if seeded else " (already seeded)."))
    if _plain_http_demo_cookies(host):
        click.echo(
            "Session cookies without the Secure flag, so that Safari logs in over plain http "
            f"on {host} (everywhere else they are Secure; FIELDAPP_COOKIE_SECURE=true keeps "
            "them Secure here too)."
        )
    click.echo(f"Log in at http://{host}:{port}/login with one of:")
    for email, role in DEMO_LOGINS:
        click.echo(f"  {email:<22} {role:<8} password: {current_app.config['DEMO_PASSWORD']}")
    if not no_serve:
        _serve(host, port)


def _plain_http_demo_cookies(host: str) -> bool:
    """Safari (WebKit) stores no Secure cookie from plain http, not even from a loopback
    address, so the demo could not be logged in to there. On a loopback address, and unless
    FIELDAPP_COOKIE_SECURE was set, the demo's cookies go without the flag."""
    import ipaddress
    import os

    if "FIELDAPP_COOKIE_SECURE" in os.environ:
        return False
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        current_app.config["SESSION_COOKIE_SECURE"] = False
    return loopback


@click.command("create-user")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(["worker", "lead", "admin", "dpo", "partner", "landlord"]),
    required=True,
)
@click.option("--team", "team_name", default=None, help="Team name; created if new.")
@click.option(
    "--partner",
    "partner_name",
    default=None,
    help="For --role partner: the partner organisation the person works for.",
)
@click.option(
    "--landlord",
    "landlord_name",
    default=None,
    help="For --role landlord: the landlord the person works for.",
)
@click.option("--name", default="", help="The person's full name.")
@click.option(
    "--organisation-login",
    is_flag=True,
    help="No password: the person's first login through the identity provider takes it.",
)
@click.option(
    "--operator", default=None, help="Who runs this, for the audit log (default: the OS user)."
)
@with_appcontext
def create_user_command(
    email: str,
    role: str,
    team_name: str | None,
    name: str,
    partner_name: str | None,
    landlord_name: str | None,
    organisation_login: bool,
    operator: str | None,
) -> None:
    """Add a user; asks for the password, or reads it from standard input when piped.
    Audited (a worker's or lead's account also as a grant of case access)."""
    from .usecases import Actor, Refused, UnitOfWork
    from .usecases.accounts import NewPerson, add_provider_person, create_person_with_password

    if organisation_login:
        try:
            check_schema_current()
            actor = Actor.command_line(db.session, operator=operator, for_a_team=False)
            with UnitOfWork(db.session) as uow:
                user = add_provider_person(
                    uow, actor, NewPerson(email, role, team_name, name, partner_name, landlord_name)
                )
                created = f"Created {user.role} {user.email}, to log in through the organisation"
        except (Refused, SchemaBehind) as error:
            raise click.ClickException(str(error)) from None
        click.echo(created + (f" in team {team_name}" if team_name else ""))
        return
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        check_schema_current()
        actor = Actor.command_line(db.session, operator=operator, for_a_team=False)
        with UnitOfWork(db.session) as uow:
            user = create_person_with_password(
                uow,
                actor,
                NewPerson(email, role, team_name, name, partner_name, landlord_name),
                password,
                current_app.config["DEMO_PASSWORD"],
            )
            created = f"Created {user.role} {user.email}"
    except (Refused, SchemaBehind) as error:
        raise click.ClickException(str(error)) from None
    click.echo(created + (f" in team {team_name}" if team_name else ""))


class ImportRefused(click.ClickException):
    """Nothing was stored: the file was refused or unreadable, or the schema is behind."""

    exit_code = 2


def _read_import_file(path: str) -> bytes:
    """The file's bytes, or ImportRefused naming the path and the reason."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise ImportRefused(f"Cannot read {path}: {error.strerror or error}.") from None


def _check_schema_for_import() -> None:
    """Refuse (exit status 2, nothing stored) on a database whose schema is behind."""
    try:
        check_schema_current()
    except SchemaBehind as error:
        raise ImportRefused(str(error)) from None


def _rejected_lines(report: ImportReport) -> list[str]:
    """One line per rejected row: "row 7, arrears: '12,34,5' — reason", errors joined by "; "."""
    from .services.tabular import FIELD_LABELS

    by_row: dict[int, list[str]] = {}
    for error in report.errors:
        label = FIELD_LABELS.get(error.field, error.field)
        if label:
            part = f", {label}: {error.value!r} — {error.reason}"
        elif error.value:
            part = f": {error.value!r} — {error.reason}"
        else:
            part = f": {error.reason}"
        parts = by_row.setdefault(error.row, [])
        # The first part keeps its ", " or ": " after "row 7"; later ones are joined by "; ".
        parts.append(part if not parts else part[2:])
    return [
        f"row {row}{parts[0]}" + "".join(f"; {p}" for p in parts[1:])
        for row, parts in by_row.items()
    ]


def _summary(report: ImportReport) -> str:
    """The one-line summary of an import report, with its five counts."""
    counts = ", ".join(f"{value} {name}" for name, value in report.counts().items())
    what = report.filename
    if report.landlord:
        what += f" for {report.landlord}"
    if report.as_of:
        what += f" as of {report.as_of.isoformat()}"
    if report.already_imported:
        return f"Already imported (batch {report.batch_id}), nothing changed: {what}: {counts}."
    if report.dry_run:
        return f"Dry run, nothing stored: {what}: {counts}."
    return f"Imported {what}: {counts}."


def _print_import(report: ImportReport, as_json: bool, notes: list[str]) -> None:
    """Print the report and exit with the report's status (the unit of work has committed,
    or rolled back a dry run)."""
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for note in notes:
            click.echo(note)
        click.echo(_summary(report))
        for line in _rejected_lines(report):
            click.echo(line)
    click.get_current_context().exit(report.exit_code)


_IMPORT_EXIT_STATUS = (
    "Exit status: 0 every row taken; 1 some rows rejected (the rest stored); "
    "2 file refused or unreadable (nothing stored)."
)


def _operator(team_name: str | None, operator: str | None):
    """The command line's actor: a named operator acting for one team (audited)."""
    from .usecases import Actor, Refused

    try:
        return Actor.command_line(db.session, team_name, operator)
    except Refused as refused:
        raise ImportRefused(str(refused)) from None


_team_option = click.option(
    "--team", "team_name", default=None, help="The team whose register (default: the only one)."
)
_operator_option = click.option(
    "--operator", default=None, help="Who runs this, for the audit log (default: the OS user)."
)


@click.group("identity-provider")
def identity_provider_group() -> None:
    """An organisation's own identity providers (single sign-on); without any, it uses the
    installation's FIELDAPP_OIDC_* and FIELDAPP_SAML_* settings."""


@identity_provider_group.command("set")
@click.option("--organisation", "organisation_name", required=True, help="The organisation.")
@click.argument("assignments", nargs=-1, required=True)
@click.option(
    "--operator", default=None, help="Who runs this, for the audit log (default: the OS user)."
)
@with_appcontext
def identity_provider_set(
    organisation_name: str, assignments: tuple[str, ...], operator: str | None
) -> None:
    """Set FIELDAPP_OIDC_*=VALUE or FIELDAPP_SAML_*=VALUE for one organisation (an empty
    value removes one); the whole is checked before anything is stored."""
    from .domain.identity import identity_defaults
    from .usecases import Actor, NotFound, Refused, UnitOfWork
    from .usecases.organisation import set_identity_provider

    defaults = identity_defaults()
    try:
        check_schema_current()
        actor = Actor.command_line(db.session, operator=operator, for_a_team=False)
        with UnitOfWork(db.session) as uow:
            organisation = set_identity_provider(
                uow, actor, organisation_name, list(assignments), defaults
            )
            uses = "its own settings" if organisation.identity_settings else "the installation's"
    except (Refused, NotFound, SchemaBehind) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{organisation_name} now logs in through {uses}.")


@identity_provider_group.command("show")
@click.option("--organisation", "organisation_name", default=None, help="Only this one.")
@with_appcontext
def identity_provider_show(organisation_name: str | None) -> None:
    """Each organisation's identity provider settings (a secret shows only as set)."""
    from sqlalchemy import select

    from .domain.identity import SECRET_KEYS, stored_identity_settings
    from .models import Organisation

    query = select(Organisation).order_by(Organisation.name)
    if organisation_name:
        query = query.where(Organisation.name == organisation_name)
    for organisation in db.session.scalars(query):
        stored = stored_identity_settings(organisation.identity_settings)
        if not stored:
            click.echo(f"{organisation.name} (id {organisation.id}): the installation's settings")
            continue
        click.echo(f"{organisation.name} (id {organisation.id}): its own settings")
        for key, value in sorted(stored.items()):
            shown = "(set)" if key in SECRET_KEYS else value
            click.echo(f"  FIELDAPP_{key}={shown}")


@click.command("import-arrears", epilog=_IMPORT_EXIT_STATUS)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--landlord", "landlord_name", required=True, help="The landlord's name.")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The list's date (default: the date most rows give, else today).",
)
@click.option("--dry-run", is_flag=True, help="Show what the import would do; store nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print only the report as JSON.")
@click.option(
    "--kind",
    type=click.Choice(["municipal", "housing_association", "private"]),
    default="private",
    show_default=True,
    help="The kind of landlord, used only when the landlord is created.",
)
@click.option(
    "--complete-list",
    is_flag=True,
    help="This is the landlord's whole list: tenancies it leaves out are paid up.",
)
@click.option(
    "--older-list",
    is_flag=True,
    help="The list is older than the landlord's last one, on purpose (changes no newer figures).",
)
@_team_option
@_operator_option
@with_appcontext
def import_arrears_command(
    file: str,
    landlord_name: str,
    as_of: datetime | None,
    dry_run: bool,
    as_json: bool,
    kind: str,
    complete_list: bool,
    older_list: bool,
    team_name: str | None,
    operator: str | None,
) -> None:
    """Import a landlord's arrears list (CSV or XLSX); the landlord is created if unknown."""
    from .services.imports import find_landlord
    from .usecases import Refused, UnitOfWork
    from .usecases.imports import ArrearsUpload, import_arrears_list

    _check_schema_for_import()
    data = _read_import_file(file)
    actor = _operator(team_name, operator)
    try:
        with UnitOfWork(db.session, dry_run=dry_run) as uow:
            landlord = find_landlord(db.session, landlord_name)
            created = landlord is None
            if landlord is None:
                landlord = find_landlord(db.session, landlord_name, create=True, kind=kind)
                assert landlord is not None
            upload = ArrearsUpload(
                data=data,
                filename=click.format_filename(file, shorten=True),
                landlord=landlord,
                as_of=as_of.date() if as_of is not None else None,
                complete_list=complete_list,
                older_list=older_list,
            )
            report = import_arrears_list(uow, actor, upload)
            landlord_name = landlord.name
    except (Refused, ValueError) as error:
        hint = (
            " (add --complete-list if it is the whole list)"
            if "complete list" in str(error)
            else ""
        )
        raise ImportRefused(f"{click.format_filename(file)} refused: {error}{hint}") from None
    report.landlord_created = created
    notes = []
    if created:
        verb = "would be created" if dry_run else "created"
        notes.append(f"Landlord {landlord_name!r} is new: {verb} as {kind}.")
    _print_import(report, as_json, notes)


@click.command("import-legal-steps", epilog=_IMPORT_EXIT_STATUS)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what the import would do; store nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print only the report as JSON.")
@click.option(
    "--landlord",
    "landlord_name",
    default=None,
    help="The file is this landlord's own: rows about other landlords' tenancies are rejected.",
)
@_team_option
@_operator_option
@with_appcontext
def import_legal_steps_command(
    file: str,
    dry_run: bool,
    as_json: bool,
    landlord_name: str | None,
    team_name: str | None,
    operator: str | None,
) -> None:
    """Import legal steps (petitions, hearings, evictions) of any number of landlords."""
    from .usecases import Refused, UnitOfWork
    from .usecases.imports import import_legal_steps_file

    _check_schema_for_import()
    data = _read_import_file(file)
    actor = _operator(team_name, operator)
    try:
        with UnitOfWork(db.session, dry_run=dry_run) as uow:
            report = import_legal_steps_file(
                uow, actor, data, click.format_filename(file, shorten=True),
                landlord_name=landlord_name,
            )  # fmt: skip
    except Refused as error:
        raise ImportRefused(f"{click.format_filename(file)} refused: {error}") from None
    notes = []
    if report.landlord_created:
        verb = "would be created" if dry_run else "were created"
        notes.append(f"Landlords not known before {verb} (kind private).")
    _print_import(report, as_json, notes)


@click.group("report")
def report() -> None:
    """Outcome statistics from the register (see the README's "Outcome statistics")."""


_YEARS_OPTIONS = (
    click.option("--from", "year_from", type=int, required=True, help="The first year, e.g. 2012."),
    click.option("--to", "year_to", type=int, required=True, help="The last year, e.g. 2014."),
)
_OUTPUT_OPTION = click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file instead of standard output (an xlsx workbook needs one).",
)


def _years_and_output(command):
    """--from, --to and --output, as every report command has them."""
    for option in reversed((*_YEARS_OPTIONS, _OUTPUT_OPTION)):
        command = option(command)
    return command


def _read_report(make_rows, year_from: int, year_to: int) -> list:
    """The report's rows from the register (read only); a bad year exits 2 naming the option."""
    from .services.reports import ReportError

    try:
        check_schema_current()
        return make_rows(db.session, year_from, year_to)
    except SchemaBehind as error:
        raise click.ClickException(str(error)) from None
    except ReportError as error:
        raise click.BadParameter(str(error), param_hint=f"--{error.field}") from None
    finally:
        db.session.rollback()  # the report only reads


def _write_report(data: bytes, output: str | None, what: str) -> None:
    """To standard output, or to the file (saying what was written on standard error)."""
    if output is None:
        stream = click.get_binary_stream("stdout")
        stream.write(data)
        stream.flush()
        return
    try:
        with open(output, "wb") as handle:
            handle.write(data)
    except OSError as error:
        raise click.ClickException(f"Cannot write {output}: {error.strerror or error}.") from None
    click.echo(f"Wrote {what} to {output}.", err=True)


@report.command("outcomes")
@_years_and_output
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "json", "xlsx"]),
    default="csv",
    show_default=True,
)
@with_appcontext
def report_outcomes(year_from: int, year_to: int, output_format: str, output: str | None) -> None:
    """One row per year: petitions, executed evictions, withdrawn, resolved without eviction,
    evicted with children, rehoused, repeat petitions."""
    from .services.reports import outcome_rows, outcomes_csv, outcomes_json, outcomes_xlsx

    if output_format == "xlsx" and output is None:
        raise click.UsageError("--format xlsx writes a workbook; give the file with --output.")
    rows = _read_report(outcome_rows, year_from, year_to)
    if output_format == "xlsx":
        data = outcomes_xlsx(rows)
    elif output_format == "json":
        data = (outcomes_json(rows) + "\n").encode()
    else:
        data = outcomes_csv(rows).encode()
    _write_report(data, output, f"{len(rows)} years ({year_from}–{year_to})")


@report.command("agreements")
@_years_and_output
@with_appcontext
def report_agreements(year_from: int, year_to: int, output: str | None) -> None:
    """One row per year, as CSV: petitions held by agreement and how the holds ended, payment
    plans kept and broken, rent deductions set up."""
    from .services.reports import agreement_rows, agreements_csv

    rows = _read_report(agreement_rows, year_from, year_to)
    _write_report(agreements_csv(rows).encode(), output, f"{len(rows)} years")


@report.command("lists")
@_years_and_output
@with_appcontext
def report_lists(year_from: int, year_to: int, output: str | None) -> None:
    """One row per landlord's arrears list, as CSV: its days, and the petitions and executed
    evictions dated in them (Drammen's 14-day cadence)."""
    from .services.reports import list_cadence, list_rows, lists_csv

    rows = _read_report(lambda *years: list_rows(list_cadence(*years)), year_from, year_to)
    _write_report(lists_csv(rows).encode(), output, f"{len(rows)} lists")


@click.command("geocode")
@click.option("--limit", type=int, default=None, help="Look up at most this many households.")
@with_appcontext
def geocode_command(limit: int | None) -> None:
    """Geocode households without coordinates (FIELDAPP_GEOCODER); list what the lead must fix.

    Hand-placed pins are never moved. Exit status 1 when some addresses need the lead.
    """

    from .domain.organisation import organisation_of
    from .services.geocoding import GeocoderNotConfigured, geocode_households, make_geocoder

    try:
        check_schema_current()
        organisation = organisation_of(db.session)
        geocoder = make_geocoder(current_app.config, organisation.country if organisation else "")
    except (SchemaBehind, GeocoderNotConfigured) as error:
        raise click.ClickException(str(error)) from None

    def progress(done: int, total: int, household) -> None:
        click.echo(f"[{done}/{total}] {household.address}, {household.postcode} {household.town}")
        db.session.commit()  # a long run keeps what it found if it is interrupted

    report = geocode_households(db.session, geocoder, limit=limit, progress=progress)
    db.session.commit()
    click.echo(
        f"Placed {report.placed} of {report.looked_up} households "
        f"({report.from_cache} answers from the cache); {len(report.problems)} to fix."
    )
    for problem in report.problems:
        click.echo(
            f"  household {problem.household_id}: {problem.address}: "
            f"{problem.reason} — {problem.detail}"
        )
    click.get_current_context().exit(1 if report.problems else 0)


@click.command("plan-routes")
@click.option(
    "--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), required=True, help="YYYY-MM-DD"
)
@_team_option
@click.option(
    "--time-limit", type=float, default=None, help="Seconds the solver may think (default 5)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--publish", is_flag=True, help="Save and publish the plan (replacing that day's routes)."
)
@click.option(
    "--mode",
    type=click.Choice(["afresh", "reorder", "fit_new"]),
    default="afresh",
    show_default=True,
    help="afresh: plan again, keeping locks and agreed times; reorder: keep who visits whom, "
    "only reorder; fit_new: keep who visits whom and fit in the cases not planned yet.",
)
@click.option(
    "--balance", is_flag=True, help="Spread the visits by working hours (within the tolerance)."
)
@click.option(
    "--lock",
    "locks",
    multiple=True,
    metavar="CASE=WORKER_EMAIL",
    help="Keep a case with a worker of the team (repeatable); kept with the stored ones.",
)
@click.option(
    "--window",
    "windows",
    multiple=True,
    metavar="CASE=HH:MM-HH:MM",
    help="The time agreed with the tenant for a case (repeatable).",
)
@_operator_option
@with_appcontext
def plan_routes_command(
    day: datetime,
    team_name: str | None,
    time_limit: float | None,
    as_json: bool,
    publish: bool,
    mode: str,
    balance: bool,
    locks: tuple[str, ...],
    windows: tuple[str, ...],
    operator: str | None,
) -> None:
    """Plan a team's day of visits; without --publish nothing is stored.

    The locks and agreed times of the day's stored plan are kept, and --lock/--window add to
    them. Exit status 1 when a lock or agreed time could not be met (each is listed with its
    reason; nothing is moved or retimed silently).
    """
    from .services.routing import REASONS
    from .usecases import Actor, Refused, UnitOfWork
    from .usecases.routes import plan_routes, publish_day, read_bookings

    try:
        check_schema_current()
    except SchemaBehind as error:
        raise click.ClickException(str(error)) from None
    try:
        actor = Actor.command_line(db.session, team_name, operator)
        with UnitOfWork(db.session, dry_run=not publish) as uow:
            given = read_bookings(uow, actor, day.date(), locks, windows)
            plan = plan_routes(
                uow,
                actor,
                day.date(),
                time_limit=time_limit,
                mode=mode,
                balance=balance,
                given=given,
            )
            if publish:
                publish_day(uow, actor, day.date())
    except Refused as error:
        raise click.ClickException(str(error)) from None
    unmet = [item for item in plan.unassigned if item.booked]
    if as_json:
        click.echo(json.dumps(plan.to_dict(), ensure_ascii=False, indent=2))
        click.get_current_context().exit(1 if unmet else 0)
    for route in plan.routes:
        click.echo(
            f"{route.worker} ({route.travel_mode}): {len(route.stops)} visits, "
            f"{route.travel_km:.1f} km"
        )
        for number, stop in enumerate(route.stops, start=1):
            marks = [
                *(["mandatory"] if stop.mandatory else []),
                *(["locked"] if stop.locked else []),
                *([f"agreed {stop.window[0]:%H:%M}–{stop.window[1]:%H:%M}"] if stop.window else []),
            ]
            click.echo(
                f"  {number:>2}. {stop.arrive:%H:%M}–{stop.depart:%H:%M} case {stop.case_id}"
                + (f" ({', '.join(marks)})" if marks else "")
            )
    for item in plan.unassigned:
        said = "lock or agreed time not met" if item.booked else "not planned"
        click.echo(f"{said}: case {item.case_id}: {REASONS.get(item.reason, item.reason)}")
    if plan.balance_limits:
        click.echo(
            "balanced: at most "
            + ", ".join(
                f"{route.worker} {plan.balance_limits[route.worker_id]}" for route in plan.routes
            )
            + " visits"
        )
    state = "published" if publish else "not stored (use --publish)"
    click.echo(f"{plan.solver}, {plan.seconds:.1f} s; {state}.")
    click.get_current_context().exit(1 if unmet else 0)


if __name__ == "__main__":
    main()


@click.command("vapid-keys")
@with_appcontext
def vapid_keys_command() -> None:
    """Show the VAPID public key (the key pair is made on first start if none is configured)."""
    from .services.push import public_key_b64

    setting = current_app.config["VAPID_PRIVATE_KEY"]
    where = "from FIELDAPP_VAPID_PRIVATE_KEY" if setting.lstrip().startswith("-") else setting
    click.echo(f"VAPID private key: {where}")
    click.echo(
        f"VAPID public key (applicationServerKey): "
        f"{public_key_b64(current_app.extensions['doorstep_vapid'])}"
    )
    subject = current_app.config["VAPID_SUBJECT"]
    click.echo(f"VAPID subject: {subject or 'not set - set FIELDAPP_VAPID_SUBJECT to send'}")
    click.echo(
        "Every app server must use this same key: copy the file, or put the PEM in "
        "FIELDAPP_VAPID_PRIVATE_KEY. A new key makes every phone subscribe again."
    )


def make_push_sender():
    """A sender with the app's VAPID key and settings; PushSetupError says what is missing."""
    from .services.push import PushSender

    config = current_app.config
    return PushSender(
        current_app.extensions["doorstep_vapid"],
        config["VAPID_SUBJECT"],
        config["PUSH_TIMEOUT_SECONDS"],
        config["PUSH_SERVICES"],
    )


def run_reminders(now: datetime | None = None):
    """Send what is due now with the app's settings; the SendReport."""
    from .models.types import utcnow
    from .services.reminders import send_due

    config = current_app.config
    return send_due(
        db.session,
        make_push_sender(),
        now or utcnow(),
        lease_seconds=config["PUSH_LEASE_SECONDS"],
        max_attempts=config["PUSH_MAX_ATTEMPTS"],
    )


def _parse_now(now_text: str | None) -> datetime | None:
    """--now as an aware UTC time (naive means UTC); a bad value is a usage error naming it."""
    from datetime import UTC

    if not now_text:
        return None
    try:
        now = datetime.fromisoformat(now_text)
    except ValueError:
        raise click.BadParameter(
            f"{now_text!r} is not an ISO 8601 time", param_hint="--now"
        ) from None
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


@click.command("send-reminders")
@click.option("--now", "now_text", default=None, help="Pretend it is this UTC time (ISO 8601).")
@with_appcontext
def send_reminders_command(now_text: str | None) -> None:
    """Send every push reminder that is due, then exit (run it every few minutes from cron).

    Safe to run on several servers at once: each reminder reaches each device once.
    """
    from .services.push import PushSetupError

    now = _parse_now(now_text)
    try:
        check_schema_current()
        report = run_reminders(now)
    except (PushSetupError, SchemaBehind) as error:
        raise click.ClickException(str(error)) from None
    click.echo(report.line())


def _start_reminder_thread() -> None:
    """The embedded server's own sender, every PUSH_SCHEDULER_SECONDS, when push is set up."""
    from .services.push import PushSetupError

    app = current_app._get_current_object()
    interval = app.config["PUSH_SCHEDULER_SECONDS"]
    if interval <= 0:
        return
    try:
        make_push_sender()
    except PushSetupError as error:
        click.echo(f"Push reminders are off: {error}")
        return
    start_reminder_scheduler(app, interval)
    click.echo(f"Sending push reminders every {interval} s.")


def start_reminder_scheduler(app, interval: float):
    """Run `send-reminders` in a daemon thread every `interval` seconds; set the returned
    event to stop it. Several of these (or cron jobs) may run at once: see services.reminders."""
    import threading

    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            with app.app_context():
                try:
                    run_reminders()
                except Exception as error:  # noqa: BLE001 - keep serving; the next run retries
                    db.session.rollback()
                    app.logger.error("reminders: run failed: %s", type(error).__name__)
                finally:
                    db.session.remove()

    threading.Thread(target=loop, name="doorstep-reminders", daemon=True).start()
    return stop


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Show what would be anonymised; change nothing.")
@click.option("--now", "now_text", default=None, help="Pretend it is this UTC time (ISO 8601).")
@with_appcontext
def purge_command(dry_run: bool, now_text: str | None) -> None:
    """Anonymise closed cases past the organisation's retention period (run it from cron)."""
    from .models.types import utcnow
    from .services.audit import record_event
    from .services.retention import purge

    now = _parse_now(now_text) or utcnow()
    try:
        check_schema_current()
    except SchemaBehind as error:
        raise click.ClickException(str(error)) from None
    report = purge(
        db.session,
        now,
        consent_months=current_app.config["CONSENT_RETENTION_MONTHS"],
        dry_run=dry_run,
    )
    if dry_run:
        db.session.rollback()
    else:
        record_event(db.session, None, "purge", "case", "", "", report.line())
        db.session.commit()
    click.echo(report.line())
