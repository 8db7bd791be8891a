"""The audit log, searchable by team leads (their team) and the data protection officer (all)."""

from flask import Blueprint

bp = Blueprint("audit", __name__)

from . import grants, views  # noqa: E402,F401
