"""The lead's day planning: plan with the solver, adjust by hand, publish to the workers."""

from flask import Blueprint

bp = Blueprint("routes", __name__, url_prefix="/routes")

from . import views  # noqa: E402,F401
