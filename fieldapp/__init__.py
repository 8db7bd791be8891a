"""Doorstep's Flask application factory."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request, session
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import load_config
from .extensions import babel, compress, csrf, db, htmx, login_manager, migrate, talisman

PACKAGE = Path(__file__).resolve().parent
MIGRATIONS = PACKAGE / "migrations"


def _resource_dir(name: str) -> Path:
    """A top-level folder of the checkout (templates/, static/, service-worker/), or its copy
    inside the package when installed from a wheel (pyproject.toml maps it there)."""
    installed = PACKAGE / name.replace("-", "_")
    return installed if installed.is_dir() else PACKAGE.parent / name


TEMPLATES_DIR = _resource_dir("templates")
STATIC_DIR = _resource_dir("static")
SERVICE_WORKER_DIR = _resource_dir("service-worker")

# Only files from our own origin; no inline scripts or styles anywhere.
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "connect-src": "'self'",
    "worker-src": "'self'",
    "manifest-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def map_tiles(settings: dict[str, Any]) -> tuple[str, str] | None:
    """The street map's tile URL template (the key filled in) and its origin, or None when no
    tile source is configured. Refuses a URL that is not http(s), lacks {z}, {x} or {y}, or
    spreads over several hosts ({s}), so the page's policy can allow exactly one host."""
    template = (settings.get("MAP_TILES_URL") or "").strip()
    if not template:
        return None
    template = template.replace("{key}", settings.get("MAP_TILES_KEY") or "")
    parts = urlsplit(template)
    zoom = "{z}" if "{z}" in template else "{zz}"  # {zz}: the zoom level in two digits
    missing = [part for part in (zoom, "{x}", "{y}") if part not in template]
    if parts.scheme not in ("http", "https") or not parts.netloc or missing or "{" in parts.netloc:
        raise ValueError(
            f"FIELDAPP_MAP_TILES_URL={settings.get('MAP_TILES_URL')!r}: write one host's "
            "http(s) URL with {z} (or {zz}), {x} and {y}, e.g. "
            "https://tiles.example.org/{z}/{x}/{y}.png"
            + (f" (missing {', '.join(missing)})" if missing else "")
        )
    map_grid(settings)  # a wrong grid stops the start too, naming the setting
    return template, f"{parts.scheme}://{parts.netloc}"


MAP_CRS = {
    "EPSG:3857": "",
    "EPSG:25832": "+proj=utm +zone=32 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
}


def map_grid(settings: dict[str, Any]) -> dict[str, Any]:
    """The tile source's grid for the page: Web Mercator, or UTM zone 32 with its origin and
    resolutions. Refuses, naming the setting, what the map could not draw."""
    crs = (settings.get("MAP_CRS") or "EPSG:3857").strip().upper()
    if crs not in MAP_CRS:
        raise ValueError(f"FIELDAPP_MAP_CRS={crs!r}: choose one of {', '.join(MAP_CRS)}")
    if crs == "EPSG:3857":
        return {"crs": crs}
    try:
        origin = [float(v) for v in str(settings["MAP_ORIGIN"]).split(",")]
        resolutions = [float(v) for v in str(settings["MAP_RESOLUTIONS"]).split(",")]
    except ValueError:
        origin, resolutions = [], []
    if (
        len(origin) != 2
        or not resolutions
        or any(r <= 0 for r in resolutions)
        or any(a <= b for a, b in zip(resolutions, resolutions[1:], strict=False))
    ):
        raise ValueError(
            "FIELDAPP_MAP_ORIGIN / FIELDAPP_MAP_RESOLUTIONS: write the origin as 'x,y' in "
            "metres and the resolutions as metres per pixel, largest first, e.g. "
            "'1638.4,819.2,409.6'"
        )
    return {"crs": crs, "proj4": MAP_CRS[crs], "origin": origin, "resolutions": resolutions}


def csp_for(settings: dict[str, Any]) -> dict[str, str]:
    """The policy: our own origin only, and the street map's tile host when there is one."""
    tiles = map_tiles(settings)
    if tiles is None:
        return CSP
    return {**CSP, "img-src": f"{CSP['img-src']} {tiles[1]}"}


class SchemaBehind(RuntimeError):
    """The database schema is older than the code; `fieldapp db upgrade` fixes it."""


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, and a schema check before serving."""
    app = Flask(
        __name__,
        instance_path=_instance_path(config),
        instance_relative_config=True,
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
    )
    settings = load_config(app.instance_path, config)
    app.config.update(settings)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=_driver_url(settings["DATABASE_URL"]),
        # hide_parameters: SQL errors in logs never carry the values (names, notes, phones).
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "hide_parameters": True},
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, not a fixed hour
        WTF_CSRF_HEADERS=["X-CSRFToken"],
        BABEL_DEFAULT_LOCALE="en",
        BABEL_DEFAULT_TIMEZONE=settings["DEFAULT_TIMEZONE"],
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        SESSION_COOKIE_NAME="doorstep_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings["COOKIE_SECURE"],
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings["SESSION_MAX_HOURS"]),
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,
        # Compress code and styles only: HTML and JSON carry CSRF tokens and echo what people
        # typed, and compressing secrets next to attacker-chosen text leaks them (BREACH).
        COMPRESS_MIMETYPES=[
            "text/css",
            "text/javascript",
            "application/javascript",
            "application/manifest+json",
            "image/svg+xml",
        ],
    )
    if settings["PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings["PROXY_HOPS"], x_proto=settings["PROXY_HOPS"]
        )

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    htmx.init_app(app)
    compress.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=_select_timezone)
    talisman.init_app(
        app,
        force_https=False,  # TLS ends at the reverse proxy; see README
        strict_transport_security=settings["COOKIE_SECURE"],
        content_security_policy=csp_for(settings),
        frame_options="DENY",
        referrer_policy="same-origin",
        # SESSION_COOKIE_SECURE above is the one switch (Talisman would set it back on every
        # request, and the loopback demo turns it off: see cli._plain_http_demo_cookies).
        session_cookie_secure=False,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        permissions_policy={"geolocation": "(self)", "camera": "()", "microphone": "()"},
    )
    login_manager.init_app(app)

    from .services.accounts import configure_password_hashing
    from .services.push import load_vapid_key

    configure_password_hashing(
        settings["PASSWORD_HASH_TIME_COST"],
        settings["PASSWORD_HASH_MEMORY_KIB"],
        settings["PASSWORD_HASH_PARALLELISM"],
    )

    # Created on first start when none is configured (services.push.load_vapid_key).
    app.extensions["doorstep_vapid"] = load_vapid_key(settings["VAPID_PRIVATE_KEY"])

    from . import models  # noqa: F401  (register every table with the metadata)
    from .web import register_blueprints

    register_blueprints(app)

    from .cli import register_commands

    register_commands(app)

    @app.shell_context_processor
    def _shell_context() -> dict[str, Any]:
        """`fieldapp shell` starts with the database and the models at hand."""
        return {"db": db, "models": models}

    if settings["CHECK_SCHEMA"]:
        with app.app_context():
            check_schema_current()
    return app


def _instance_path(config: dict[str, Any] | None) -> str | None:
    """Where the database, secret key and VAPID key live when not configured otherwise:
    `INSTANCE_PATH` / FIELDAPP_INSTANCE_PATH, else Flask's default (instance/ beside a
    checkout, <prefix>/var/fieldapp-instance for an installed wheel)."""
    chosen = (config or {}).get("INSTANCE_PATH") or os.environ.get("FIELDAPP_INSTANCE_PATH")
    return str(Path(chosen).expanduser().resolve()) if chosen else None


def _sqlite_pragmas(connection, _record) -> None:
    """Write-ahead logging: readers no longer block the writer (the embedded server is
    threaded) and a commit costs one sync of the log instead of several. synchronous=FULL
    keeps every acknowledged commit through a power cut: a phone deletes what the server
    acknowledged."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _driver_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _select_locale() -> str:
    """The language the person chose, else the browser's preference among da, nb and en."""
    chosen = session.get("lang")
    languages = ["da", "nb", "en"]
    if chosen in languages:
        return chosen
    # Browsers often send "no" or "nn" for Norwegian; show Bokmål to them.
    best = request.accept_languages.best_match(languages + ["no", "nn"]) if request else None
    if best in ("no", "nn"):
        return "nb"
    return best or "en"


def _select_timezone() -> str | None:
    """Times are shown in the person's organisation's zone (the one its plans, hearings and
    agreed times are entered in); without a team, the installation's default."""
    from flask_login import current_user

    try:
        team = current_user.team if current_user.is_authenticated else None
    except (AttributeError, RuntimeError):
        return None
    return team.organisation.timezone if team is not None else None


def check_schema_current() -> None:
    """Refuse to run against a database whose schema is behind the code's migrations."""
    from alembic.config import Config as AlembicConfig
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        where = ", ".join(sorted(current)) or "empty"
        raise SchemaBehind(
            f"The database schema is behind the code (database: {where}; code: "
            f"{', '.join(sorted(heads))}). Run `fieldapp db upgrade` to bring it up to date."
        )
