"""The outreach worker's phone app: today's visits and the case card."""

from flask import Blueprint

bp = Blueprint("field", __name__)

from . import views  # noqa: E402,F401
