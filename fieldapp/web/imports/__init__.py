"""The lead's upload of arrears lists and legal-step lists, with a preview before storing."""

from flask import Blueprint

bp = Blueprint("imports", __name__, url_prefix="/imports")

from . import views  # noqa: E402,F401
