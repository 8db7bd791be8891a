"""Access helpers for views: role checks and the client's address."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required


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
    """The caller's address (ProxyFix puts the real one in remote_addr behind a proxy)."""
    return request.remote_addr or ""


def is_number(raw: str | None, limit: int = 2**31 - 1) -> bool:
    """A form field holding a plain non-negative whole number that fits a database id.

    str.isdigit alone is not enough: it accepts "²" and twenty-digit numbers, which would
    turn into 500s further on.
    """
    return bool(raw) and raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= limit
