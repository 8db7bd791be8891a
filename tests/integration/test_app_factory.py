"""The factory, settings, migrations and the headers every response carries."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from fieldapp import SchemaBehind, create_app
from fieldapp.config import load_config
from fieldapp.extensions import db


def test_environment_variables_override_defaults_with_their_types(monkeypatch, tmp_path):
    monkeypatch.setenv("FIELDAPP_SESSION_IDLE_MINUTES", "7")
    monkeypatch.setenv("FIELDAPP_COOKIE_SECURE", "false")
    settings = load_config(str(tmp_path), None)
    assert settings["SESSION_IDLE_MINUTES"] == 7
    assert settings["COOKIE_SECURE"] is False


def test_explicit_config_wins_over_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FIELDAPP_SESSION_MAX_HOURS", "3")
    settings = load_config(str(tmp_path), {"SESSION_MAX_HOURS": 9})
    assert settings["SESSION_MAX_HOURS"] == 9


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    settings = load_config(str(tmp_path / "instance"), None)
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'instance' / 'fieldapp.sqlite3'}"


def test_secret_key_is_created_once_owner_only(tmp_path):
    first = load_config(str(tmp_path), None)["SECRET_KEY"]
    second = load_config(str(tmp_path), None)["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_instance_path_setting_holds_database_secret_and_vapid_key(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "SECRET_KEY", "VAPID_PRIVATE_KEY"):
        monkeypatch.delenv(f"FIELDAPP_{name}", raising=False)
    monkeypatch.setenv("FIELDAPP_INSTANCE_PATH", "relative/instance")
    app = create_app({"CHECK_SCHEMA": False})
    instance = tmp_path / "relative/instance"
    assert app.instance_path == str(instance)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'fieldapp.sqlite3'}"
    assert sorted(p.name for p in instance.iterdir()) == [
        "fieldapp.sqlite3",
        "secret_key",
        "vapid_private.pem",
    ]
    # The folder and every file in it are the server's alone (notes, keys).
    assert instance.stat().st_mode & 0o077 == 0
    assert all(path.stat().st_mode & 0o077 == 0 for path in instance.iterdir())
    other = create_app({"CHECK_SCHEMA": False, "INSTANCE_PATH": str(tmp_path / "explicit")})
    assert other.instance_path == str(tmp_path / "explicit")


def test_postgres_urls_use_psycopg3(tmp_path):
    app = create_app(
        {"DATABASE_URL": "postgresql://u@db.invalid/x", "CHECK_SCHEMA": False, "SECRET_KEY": "k"}
    )
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.invalid/x"


def test_refuses_to_start_on_a_database_that_is_behind(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    with pytest.raises(SchemaBehind, match="fieldapp db upgrade"):
        create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})


def test_migrations_build_every_table_and_match_the_models(app):
    """Upgrade from empty (the fixture did it on this backend) leaves nothing for autogenerate."""
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert {t.name for t in db.metadata.sorted_tables} <= tables
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_security_headers_on_every_response(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_is_httponly_samesite_and_secure_by_default(tmp_path, sqlite_template):
    import shutil

    shutil.copyfile(sqlite_template, tmp_path / "db.sqlite3")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "SECRET_KEY": "k"})
    response = app.test_client().get("/login", base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert "doorstep_session=" in cookie
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_no_inline_scripts_or_styles_in_pages(client):
    html = client.get("/login").get_data(as_text=True)
    assert "<script>" not in html and "<script " not in html.replace("<script src=", "")
    assert " style=" not in html and "<style" not in html


def test_manifest_is_installable(client):
    manifest = client.get("/manifest.webmanifest").get_json(force=True)
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_service_worker_is_served_from_root_uncached_and_versioned(client):
    response = client.get("/service-worker.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.mimetype == "text/javascript"
    assert "const SW_VERSION" in response.get_data(as_text=True)


def test_vendored_htmx_is_the_pinned_file():
    import hashlib

    data = (Path(__file__).parents[2] / "static/js/vendor/htmx.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "e209dda5c8235479f3166defc7750e1dbcd5a5c1808b7792fc2e6733768fb447"
    )


PINNED_MAP_FILES = {
    "static/vendor/leaflet/leaflet.js": "db49d009c841f5ca34a888c96511ae93"
    "6fd9f5533e90d8b2c4d57596f4e5641a",
    "static/vendor/leaflet/leaflet.css": "a7837102824184820dfa198d1ebcd109"
    "ff6d0ff9a2672a074b9a1b4d147d04c6",
    "static/js/vendor/Sortable.min.js": "bf4241bc73fef7f11c59a283a69fe805"
    "1cdd31c6d8ff5a2b9ba219e7831fcf76",
    "static/vendor/proj4/proj4.js": "af7df653d91ea591f33d26fb958990bb"
    "d3071b2db644a4edaba441cc9861a474",
    "static/vendor/proj4/proj4leaflet.js": "fdb7fe47dcd594e7c830d0ee3694ef88"
    "b4032537268dc2f3b58f49a1d7161c12",
}


@pytest.mark.parametrize(("path", "sha256"), PINNED_MAP_FILES.items())
def test_vendored_map_files_are_the_pinned_ones(path, sha256):
    import hashlib

    data = (Path(__file__).parents[2] / path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha256


def test_offline_page_carries_nothing_of_the_session(auth, make_user):
    user = make_user("worker", name="Mette Holm")
    auth.login(user.email)
    html = auth.client.get("/offline").get_data(as_text=True)
    assert "Mette Holm" not in html and 'id="outbox-bar"' not in html and "logout" not in html


def test_service_worker_version_follows_the_app_shell(app, tmp_path, monkeypatch):
    from fieldapp.web.pwa import views

    with app.test_request_context():
        before = views.service_worker_version()
        changed = tmp_path / "static"
        for name in views.SHELL_FILES:
            target = changed / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((views.STATIC_DIR / name).read_bytes())
        (changed / "js/outbox.js").write_text("/* a new release */\n", encoding="utf-8")
        monkeypatch.setattr(views, "STATIC_DIR", changed)
        assert views.service_worker_version() != before


def test_error_pages_keep_the_errors_headers(client):
    """A 405 says which methods the address takes (RFC 9110), as a page or as JSON."""
    page = client.put("/login")
    assert page.status_code == 405 and set(page.headers["Allow"].split(", ")) >= {"GET", "POST"}
    api = client.put("/sync", headers={"Accept": "application/json"})
    assert api.status_code == 405 and "POST" in api.headers["Allow"]
