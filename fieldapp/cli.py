"""The `fieldapp` command: demo, users, database upgrades and the register's imports."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from . import SchemaBehind, check_schema_current, create_app
from .extensions import db


def _cli_app():
    # Commands check the schema themselves: `db upgrade` must run on a database that is behind.
    return create_app({"CHECK_SCHEMA": False})


@click.group(cls=FlaskGroup, create_app=_cli_app, add_default_commands=False)
def main() -> None:
    """Doorstep: eviction-prevention outreach."""


def register_commands(app) -> None:
    """Attach the commands to the app's CLI (so `flask --app fieldapp` has them too)."""
    for command in (demo, create_user_command, serve):
        app.cli.add_command(command)


def _serve(host: str, port: int) -> None:
    try:
        check_schema_current()
    except SchemaBehind as error:
        raise click.ClickException(str(error)) from None
    from werkzeug.serving import run_simple

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
@with_appcontext
def demo(host: str, port: int, no_serve: bool) -> None:
    """Create or upgrade the database, seed a demo municipality if empty, and serve it."""
    from flask_migrate import upgrade

    from .services.demo import DEMO_LOGINS, seed_demo

    upgrade()
    seeded = seed_demo(db.session, current_app.config["DEMO_PASSWORD"])
    db.session.commit()
    click.echo("Demo database ready" + (" (seeded now)." if seeded else " (already seeded)."))
    click.echo(f"Log in at http://{host}:{port}/login with one of:")
    for email, role in DEMO_LOGINS:
        click.echo(f"  {email:<22} {role:<7} password: {current_app.config['DEMO_PASSWORD']}")
    if not no_serve:
        _serve(host, port)


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(["worker", "lead", "admin"]), required=True)
@click.option("--team", "team_name", default=None, help="Team name; created if new.")
@click.option("--name", default="", help="The person's full name.")
@with_appcontext
def create_user_command(email: str, role: str, team_name: str | None, name: str) -> None:
    """Add a user; asks for the password, or reads it from standard input when piped."""
    from .services.accounts import AccountError, create_user

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        check_schema_current()
        user = create_user(
            db.session,
            email,
            password,
            role,
            team_name,
            name,
            demo_password=current_app.config["DEMO_PASSWORD"],
        )
    except (AccountError, SchemaBehind) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}" + (f" in team {team_name}" if team_name else ""))


if __name__ == "__main__":
    main()
