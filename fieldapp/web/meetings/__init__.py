"""The fortnightly interdisciplinary meeting: agenda, decisions, print and PDF."""

from flask import Blueprint

bp = Blueprint("meetings", __name__, url_prefix="/meetings")

from . import views  # noqa: E402,F401
