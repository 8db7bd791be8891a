"""A partner's pages: the cases their tenants consented to share, and their actions."""

from flask import Blueprint

bp = Blueprint("partner", __name__, url_prefix="/partner")

from . import views  # noqa: E402,F401
