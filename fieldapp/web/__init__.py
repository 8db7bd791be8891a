"""Blueprints, the login wiring and error pages."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, redirect, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import IntegerConverter

from ..domain.outbox import HEADERS
from ..extensions import db, htmx, login_manager
from ..services.accounts import SessionPolicy, load_session_user


class DatabaseId(IntegerConverter):
    """`<int:…>` in every URL: a whole number a database id column can hold. A longer one is
    no page (404) instead of a database error (PostgreSQL refuses integers from 2**31)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


# No JSON the app reads is nested deeper than a few levels (an outbox record's changes).
MAX_JSON_DEPTH = 32
# url_for's own keywords: pages that build links from their query string would hand them on
# (the audit search did: a BuildError or ValueError, so a 500), and no page takes them.
URL_FOR_KEYWORDS = ("_anchor", "_external", "_method", "_scheme")


class BoundedJSON(DefaultJSONProvider):
    """Flask's JSON, except that a body nested deeper than MAX_JSON_DEPTH is refused like
    broken JSON (a ValueError), so each JSON endpoint answers it with its own 400; Python's
    parser raised RecursionError at a thousand levels, which was a 500."""

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if _nested_deeper_than(value, MAX_JSON_DEPTH):
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return value


def _nested_deeper_than(value, limit: int) -> bool:
    # A loop, not recursion: the point is a structure too deep for Python's stack.
    waiting = [(value, 1)]
    while waiting:
        item, depth = waiting.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            waiting.extend((child, depth + 1) for child in children)
    return False


class SaysWhy(BadRequest):
    """A 400 whose description is the message shown (in the reader's language)."""


def _refuse_url_for_keywords():
    named = sorted(set(request.args) & set(URL_FOR_KEYWORDS))
    if named:
        raise SaysWhy(_("No page takes %(names)s in its address.", names=", ".join(named)))


LOGGED_OUT_HEADER = HEADERS["logged_out"]


def register_blueprints(app: Flask) -> None:
    """Mount every area's blueprint and the app-wide handlers."""
    app.url_map.converters["int"] = DatabaseId
    app.json = BoundedJSON(app)
    app.before_request(_refuse_url_for_keywords)  # first: before any other hook reads args
    from .admin import bp as admin_bp
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .auth.sso import init_sso
    from .field import bp as field_bp
    from .imports import bp as imports_bp
    from .landlord import bp as landlord_bp
    from .meetings import bp as meetings_bp
    from .partner import bp as partner_bp
    from .push import bp as push_bp
    from .pwa import bp as pwa_bp
    from .register import bp as register_bp
    from .reports import bp as reports_bp
    from .routes import bp as routes_bp

    init_sso(app)
    areas = (auth_bp, field_bp, register_bp, imports_bp, routes_bp, meetings_bp, reports_bp)
    areas += (push_bp, audit_bp, admin_bp, pwa_bp, partner_bp, landlord_bp)
    for blueprint in areas:
        app.register_blueprint(blueprint)

    from .labels import init_labels

    init_labels(app)
    login_manager.session_protection = None  # phones change address between masts; rows decide
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)

    app.register_error_handler(CSRFError, _csrf_error)
    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, _error_page)

    @app.after_request
    def _no_store_for_people(response):
        # Pages and downloads (minutes, audit CSV, records) with personal data must not sit in
        # shared or disk caches.
        download = response.headers.get("Content-Disposition", "").startswith("attachment")
        if current_user.is_authenticated and (
            download or response.mimetype in ("text/html", "application/json")
        ):
            response.headers.setdefault("Cache-Control", "no-store")
        response.vary.add("HX-Request")  # htmx fragments and full pages share URLs
        if not current_user.is_authenticated and (
            response.status_code == 401
            or (response.mimetype == "text/html" and request.endpoint != "pwa.offline")
        ):
            # Nobody is logged in in this browser: the phone deletes what it kept of the last
            # session (service-worker/strategies.js), whatever it does with Clear-Site-Data.
            response.headers[LOGGED_OUT_HEADER] = "1"
        return response

    @app.context_processor
    def _template_globals():
        from flask_babel import get_locale

        return {"locale": str(get_locale() or "en"), "htmx": htmx}


def _load_user(token: str):
    config = current_app.config
    policy = SessionPolicy(
        idle=_minutes(config["SESSION_IDLE_MINUTES"]),
        absolute=_minutes(config["SESSION_MAX_HOURS"] * 60),
    )
    user = load_session_user(db.session, token, policy)
    db.session.commit()  # keep the touch or the ending of the session
    return user


def _minutes(value: int):
    from datetime import timedelta

    return timedelta(minutes=value)


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _unauthorized():
    message = _("Please log in again.")
    if _wants_json():
        return jsonify(error="login_required", message=message), 401
    if htmx:
        response = current_app.response_class(message, status=401)
        response.headers["HX-Redirect"] = url_for("auth.login")
        return response
    return redirect(url_for("auth.login", next=request.path))


def _csrf_error(error: CSRFError):
    message = _("The form had expired or came from elsewhere. Please try again.")
    if _wants_json():
        return jsonify(error="csrf", message=message), 400
    return render_template("errors/error.html", code=400, message=message), 400


def _error_page(error):
    code = getattr(error, "code", 500) or 500
    messages = {
        400: _("The request could not be understood."),
        403: _("You do not have access to this page."),
        404: _("This page does not exist."),
        405: _("This action is not allowed here."),
        413: _("The file is too large."),
        429: _("Too many attempts. Please wait and try again."),
        500: _("Something went wrong on our side. Please try again."),
    }
    says_why = code == 429 or isinstance(error, SaysWhy)
    message = getattr(error, "description", None) if says_why else None
    message = message if isinstance(message, str) and says_why else messages.get(code, "")
    if code == 500:
        db.session.rollback()
    # Keep what the error says for clients besides its body (Allow on a 405, Retry-After).
    headers = [
        (name, value)
        for name, value in (error.get_headers() if isinstance(error, HTTPException) else [])
        if name.lower() != "content-type"
    ]
    if _wants_json():
        return jsonify(error=code, message=message), code, headers
    return render_template("errors/error.html", code=code, message=message), code, headers
