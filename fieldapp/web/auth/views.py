"""Views for logging in and out and choosing the language."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ...extensions import db
from ...services.accounts import LockedOut, LoginLimits, authenticate, end_session, start_session
from ...services.audit import record_event
from ..security import client_address
from . import bp

LANDING = {
    "worker": "field.today",
    "lead": "register.dashboard",
    "admin": "admin.users",
    "dpo": "audit.search",
}


def landing_url(role: str) -> str:
    """Each role's own first page after login."""
    return url_for(LANDING.get(role, "auth.login"))


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after login (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.get("/")
def index():
    """Send a logged-in person to their role's page, others to the login form."""
    if current_user.is_authenticated:
        return redirect(landing_url(current_user.role))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; check e-mail and password; open a server-side session."""
    if request.method != "POST":  # GET and HEAD only show the form
        if current_user.is_authenticated:
            return redirect(landing_url(current_user.role))
        return render_template("auth/login.html", email="", error=None)

    email = request.form.get("email", "")
    password = request.form.get("password", "")
    config = current_app.config
    limits = LoginLimits(
        per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        window=timedelta(minutes=config["LOGIN_FAILURE_WINDOW_MINUTES"]),
    )
    try:
        user = authenticate(
            db.session, email, password, client_address(), limits, config["DEMO_PASSWORD"]
        )
    except LockedOut as locked:
        minutes = max(1, round(locked.retry_after_seconds / 60))
        error = _(
            "Too many failed logins. Wait %(minutes)d minutes and try again, "
            "or ask your administrator.",
            minutes=minutes,
        )
        response = current_app.make_response(
            (render_template("auth/login.html", email=email, error=error), 429)
        )
        response.headers["Retry-After"] = str(locked.retry_after_seconds)
        return response
    if user is None:
        db.session.commit()  # keep the counted failure
        error = _("Wrong e-mail or password.")
        return render_template("auth/login.html", email=email, error=error), 401

    start_session(db.session, user, request.headers.get("User-Agent", ""))
    record_event(db.session, user, "login", "user", user.id, client_address())
    db.session.commit()
    lang = session.get("lang")
    session.clear()  # a fresh session on login: no fixation
    if lang:
        session["lang"] = lang
    login_user(user)
    return redirect(_safe_next(request.args.get("next")) or landing_url(user.role), code=303)


@bp.post("/logout")
def logout():
    """End the session on the server and tell the browser to wipe what it cached."""
    if current_user.is_authenticated:
        end_session(db.session, current_user.get_id())
        record_event(db.session, current_user, "logout", "user", current_user.id, client_address())
        db.session.commit()
        logout_user()
    session.clear()
    response = redirect(url_for("auth.login"), code=303)
    # The outbox is emptied by the page before it posts here (static/js/outbox.js).
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.post("/language")
def set_language():
    """Remember the chosen interface language for this browser session."""
    lang = request.form.get("lang", "")
    if lang in ("da", "nb", "en"):
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("back")) or url_for("auth.index"), code=303)
