"""Views for logging in and out and choosing the language."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ...domain.outbox import HEADERS
from ...extensions import db
from ...models.types import utcnow
from ...services.accounts import (
    LockedOut,
    LoginLimits,
    authenticate,
    end_session,
    new_totp_secret,
    seal_totp,
    start_session,
    totp_required,
    totp_uri,
    unseal_totp,
)
from ...services.audit import record_event
from ...services.two_factor import count_replayed_code, spend_totp_step, totp_step
from ..security import client_address
from . import bp
from .saml import saml_logout_url
from .sso import came_through_provider, provider_logout_url

LANDING = {
    "worker": "field.today",
    "lead": "register.dashboard",
    "admin": "admin.users",
    "dpo": "audit.search",
    "partner": "partner.cases",
    "landlord": "landlord.tenants",
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

    if local_login_mode() == "off":
        # No password logins here: say where to go instead of an empty refusal.
        error = _("Log in with your organisation's account")
        return render_template("auth/login.html", email="", error=error), 403
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    config = current_app.config
    limits = LoginLimits(
        per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        window=timedelta(minutes=config["LOGIN_FAILURE_WINDOW_MINUTES"]),
    )
    code, now = request.form.get("code", ""), utcnow()
    try:
        user = authenticate(
            db.session,
            email,
            password,
            client_address(),
            limits,
            config["DEMO_PASSWORD"],
            now=now,
            code=code,
            totp_key=config["SECRET_KEY"],
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
    if user is not None and user.totp_enabled_at is not None:
        step = totp_step(unseal_totp(user.totp_secret, config["SECRET_KEY"]), code, now)
        if not spend_totp_step(db.session, user, step):
            db.session.rollback()  # no login, so neither its clearing of counted failures
            count_replayed_code(db.session, email, client_address(), now)
            user = None
    if user is None:
        db.session.commit()  # keep the counted failure
        error = _("Wrong e-mail or password.")
        return render_template("auth/login.html", email=email, error=error), 401

    if local_login_mode() == "admins-only" and user.role != "admin":
        # The password form is the emergency administrator's only: everyone else uses the
        # organisation's login (the password was right, so say so plainly).
        record_event(db.session, user, "login_refused", "user", user.id, client_address(),
                     "password login is for administrators only")  # fmt: skip
        db.session.commit()
        error = _(
            "Log in with your organisation's account: the password login is only for the "
            "emergency administrator."
        )
        return render_template("auth/login.html", email=email, error=error), 403
    return open_session(user, how="password", next_url=request.args.get("next"))


def open_session(user, how: str, next_url: str | None = None):
    """Log the person in (a new server-side session and a fresh cookie) and send them on."""
    start_session(db.session, user, request.headers.get("User-Agent", ""))
    record_event(db.session, user, "login", "user", user.id, client_address(), how)
    db.session.commit()
    lang = session.get("lang")
    session.clear()  # a fresh session on login: no fixation
    if lang:
        session["lang"] = lang
    login_user(user)
    session["login_via"] = how
    # A cookie that outlives the browser: iOS closes home-screen apps often, and records made
    # offline must go out when the app opens again. Each answer renews it for
    # SESSION_MAX_HOURS; idle and absolute expiry are decided on the server, per session row.
    session.permanent = True
    return redirect(_safe_next(next_url) or landing_url(user.role), code=303)


def local_login_mode() -> str:
    return current_app.config["LOCAL_LOGIN"]


@bp.post("/logout")
def logout():
    """End the session on the server and tell the browser to wipe what it cached."""
    if came_through_provider():
        provider_logout = provider_logout_url()
    elif session.get("login_via") == "saml" and current_user.is_authenticated:
        provider_logout = saml_logout_url()
    else:
        provider_logout = None
    if current_user.is_authenticated:
        end_session(db.session, current_user.get_id())
        record_event(db.session, current_user, "logout", "user", current_user.id, client_address())
        db.session.commit()
        logout_user()
    session.clear()
    # Logged in through the organisation: end the provider's session too (RP-initiated
    # logout), which comes back to our login page. The phone is wiped either way: by the page
    # before it posts here, and by the login page and service worker after.
    target = provider_logout or url_for("auth.login")
    if request.headers.get(HEADERS["logout"]) == "1":
        # The page logs out by fetch (static/js/outbox.js) and goes on by itself: a redirect
        # to the provider's site would be a cross-origin redirect that fetch cannot follow.
        response = jsonify(next=target)
    else:
        response = redirect(target, code=303)
    # The outbox is emptied by the page before it posts here (static/js/outbox.js).
    # Only the HTTP cache: "storage" would also delete other workers' records still waiting
    # on a shared phone. The kept pages are deleted by the page and the service worker.
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


@bp.post("/language")
def set_language():
    """Remember the chosen interface language for this browser session."""
    lang = request.form.get("lang", "")
    if lang in ("da", "nb", "en"):
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("back")) or url_for("auth.index"), code=303)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor():
    """Turn two-factor login on (scan or type the key, confirm with a code) or off."""
    user = current_user
    error = None
    if request.method == "POST":
        key, turning_on = current_app.config["SECRET_KEY"], user.totp_enabled_at is None
        # The key being set up travels in the cookie sealed (the cookie is signed, and
        # readable by whoever holds it): a copied cookie does not give the future key away.
        pending = unseal_totp(session.get("totp_pending", ""), key)
        secret = pending if turning_on else unseal_totp(user.totp_secret, key)
        step = totp_step(secret, request.form.get("code", ""))
        if turning_on:
            if spend_totp_step(db.session, user, step):
                user.totp_secret, user.totp_enabled_at = seal_totp(secret, key), utcnow()
                session.pop("totp_pending", None)
                record_event(db.session, user, "update", "user", user.id, client_address(),
                             "two-factor login on")  # fmt: skip
                db.session.commit()
                flash(_("Two-factor login is on. Keep the app on your phone."))
                return redirect(url_for("auth.two_factor"), code=303)
            error = _code_refused(step)
        elif totp_required(db.session, user):
            error = _("Your organisation requires two-factor login for your role.")
        elif spend_totp_step(db.session, user, step):
            user.totp_secret, user.totp_enabled_at = None, None
            record_event(db.session, user, "update", "user", user.id, client_address(),
                         "two-factor login off")  # fmt: skip
            db.session.commit()
            flash(_("Two-factor login is off."))
            return redirect(url_for("auth.two_factor"), code=303)
        else:
            error = _code_refused(step)
    secret = None
    if user.totp_enabled_at is None:
        key = current_app.config["SECRET_KEY"]
        secret = unseal_totp(session.get("totp_pending", ""), key) or new_totp_secret()
        session["totp_pending"] = seal_totp(secret, key)
    return render_template(
        "auth/two_factor.html",
        secret=secret,
        uri=totp_uri(secret, user.email) if secret else None,
        required=totp_required(db.session, user),
        error=error,
    ), 400 if error else 200


def _code_refused(step: int | None) -> str:
    if step is not None:  # the right code, but spent (it logged in, or turned this on)
        return _("That code has been used already. Wait for the app to show the next one.")
    return _("That code does not match. Type the six digits the app shows now.")


@bp.before_app_request
def _require_two_factor():
    """Send a lead or administrator who must use two-factor login, and does not yet, to set it
    up before anything else."""
    if not current_user.is_authenticated or current_user.totp_enabled_at is not None:
        return None
    if request.endpoint in _OPEN_WITHOUT_TWO_FACTOR or request.endpoint is None:
        return None
    if not totp_required(db.session, current_user):
        return None
    if request.is_json or request.path == "/sync":
        return {"error": "two_factor", "message": _("Set up two-factor login first.")}, 403
    return redirect(url_for("auth.two_factor"))


_OPEN_WITHOUT_TWO_FACTOR = {
    "auth.two_factor",
    "auth.logout",
    "auth.login",
    "auth.set_language",
    "static",
    "pwa.service_worker",
    "pwa.manifest",
    "pwa.offline",
}
