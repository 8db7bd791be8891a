"""The team lead's register: dashboard, imports, case list, triage."""

from flask import Blueprint

bp = Blueprint("register", __name__)

from . import agreements, holds, views  # noqa: E402,F401
