"""Serve the service worker from the site root, the manifest, the offline page and the JSON
API's OpenAPI description."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib.resources import files

from flask import current_app, render_template, url_for
from flask_babel import gettext as _

from ... import SERVICE_WORKER_DIR as SW_DIR
from ... import STATIC_DIR
from ...domain import outbox as outbox_contract
from . import bp

# Concatenated in this order after the contract; constants first so the others can use them.
SW_PARTS = ("constants.js", "strategies.js", "outbox-sync.js", "push.js", "main.js")
# Modules the pages import that the worker runs too, as plain scripts (their `export` words
# dropped; they import nothing): one copy of the outbox's decisions and storage.
SHARED_MODULES = ("js/outbox-core.js", "js/outbox-store.js")

# The app shell the worker precaches: a change to any of these must reach phones as a new
# version, or an old outbox.js would go on making records the server has learnt to refuse.
SHELL_FILES = (
    "css/app.css",
    "js/app.js",
    "js/outbox.js",
    "js/card.js",
    "js/vendor/htmx.min.js",
    *SHARED_MODULES,
)
_EXPORT = re.compile(r"^export (?=(async )?function |const |let |class )", re.MULTILINE)


def as_worker_script(module_source: str) -> str:
    """A shared module as part of the worker's classic script: `export` dropped."""
    if re.search(r"^\s*import\b", module_source, re.MULTILINE):
        raise ValueError("a module shared with the service worker may not import")
    return _EXPORT.sub("", module_source)


@lru_cache(maxsize=4)
def _service_worker_source(mtimes: tuple[float, ...], salt: str) -> tuple[str, str]:
    """The worker's source and its version, a hash of its sources and of the app shell.

    The salt (FIELDAPP_SERVICE_WORKER_SALT) forces a new version without a code change.
    """
    shared = [
        as_worker_script((STATIC_DIR / name).read_text(encoding="utf-8")) for name in SHARED_MODULES
    ]
    parts = [(SW_DIR / name).read_text(encoding="utf-8") for name in SW_PARTS]
    body = "\n".join([outbox_contract.as_script(), *shared, *parts])
    digest = hashlib.sha256((salt + body).encode())
    for name in SHELL_FILES:
        digest.update((STATIC_DIR / name).read_bytes())
    version = digest.hexdigest()[:12]
    return f'const SW_VERSION = "{version}";\n{body}', version


def service_worker_version() -> str:
    """The current service-worker version (shown in the page footer, used in tests)."""
    return _service_worker_source(_mtimes(), current_app.config["SERVICE_WORKER_SALT"])[1]


def _mtimes() -> tuple[float, ...]:
    files = [SW_DIR / name for name in SW_PARTS] + [STATIC_DIR / name for name in SHELL_FILES]
    return tuple(path.stat().st_mtime for path in files)


@bp.get("/service-worker.js")
def service_worker():
    """The worker, from the root so its scope is the whole app; never cached by HTTP."""
    source, version = _service_worker_source(_mtimes(), current_app.config["SERVICE_WORKER_SALT"])
    response = current_app.response_class(source, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    response.set_etag(version)
    return response


@bp.get("/outbox-contract.js")
def contract_module():
    """The outbox contract for the pages (fieldapp/domain/outbox.py); public, no personal data."""
    response = current_app.response_class(outbox_contract.as_module(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest that makes Doorstep installable on Android and iPhone."""
    icons = [
        {
            "src": url_for("static", filename="icons/icon-192.png"),
            "sizes": "192x192",
            "type": "image/png",
        },
        {
            "src": url_for("static", filename="icons/icon-512.png"),
            "sizes": "512x512",
            "type": "image/png",
        },
        {
            "src": url_for("static", filename="icons/maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ]
    data = {
        "name": "Doorstep",
        "short_name": "Doorstep",
        "description": _("Eviction-prevention outreach"),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d4e89",
        "icons": icons,
    }
    response = current_app.response_class(
        current_app.json.dumps(data), mimetype="application/manifest+json"
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/offline")
def offline():
    """The page the service worker shows when a page is not cached and there is no network."""
    # Precached by the service worker for whoever uses the phone later: render it as if
    # nobody were logged in, so it carries no name, token or outbox of this session.
    return render_template("offline.html", shell=True)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of the JSON endpoints (fieldapp/openapi.json, package data),
    as written; public, it holds no personal data. No cache uses a copy without asking."""
    document = files("fieldapp").joinpath("openapi.json").read_bytes()
    response = current_app.response_class(document, mimetype="application/json")
    response.headers["Cache-Control"] = "no-cache"
    return response
