"""Outcome statistics for leads: yearly figures, charts, cost avoided and the CSV export."""

from flask import Blueprint

bp = Blueprint("reports", __name__)

from . import views  # noqa: E402,F401
