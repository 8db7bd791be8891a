"""Access helpers for views: role checks and the client's address."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user, login_required

from ..domain.numbers import whole_number
from ..services.audit import ip_or_invalid


def roles_required(*roles: str) -> Callable:
    """Let only logged-in users with one of these roles through; others get 403."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def client_address() -> str:
    """The caller's address (ProxyFix puts the real one in remote_addr behind a proxy), as
    every table keeps it: an IP address, "invalid" for anything else (a forged
    X-Forwarded-For), "" for none. One check for the audit log, failed logins and
    invitations alike."""
    return ip_or_invalid(request.remote_addr or "")


def is_number(raw: str | None, limit: int = 2**31 - 1) -> bool:
    """A form field holding a plain non-negative whole number that fits a database id.

    str.isdigit alone is not enough: it accepts "²" and twenty-digit numbers, which would
    turn into 500s further on.
    """
    return bool(raw) and raw == raw.strip() and whole_number(raw, 0, limit) is not None


def from_own_pages(header: str) -> bool:
    """A JSON call without a CSRF token (sync, push subscriptions: the token may have expired
    offline, and a service worker has none) must carry our custom header (a cross-site form
    cannot send one) and, when the browser says where it came from, our own origin.

    Behind a reverse proxy that rewrites Host, set FIELDAPP_PUBLIC_ORIGIN to the address the
    phones use (e.g. https://doorstep.example.dk).
    """
    if request.headers.get(header) != "1":
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        # Browsers send Origin on every cross-site POST; its absence means same-site.
        return request.headers.get("Sec-Fetch-Site", "same-origin") == "same-origin"
    expected = current_app.config["PUBLIC_ORIGIN"] or f"{request.scheme}://{request.host}"
    return origin.rstrip("/") == expected.rstrip("/")
