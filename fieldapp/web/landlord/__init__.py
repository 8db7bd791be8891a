"""A landlord's pages: their lists and legal steps, their tenants' flags, hold requests."""

from flask import Blueprint

bp = Blueprint("landlord", __name__, url_prefix="/landlord")

from . import views  # noqa: E402,F401
