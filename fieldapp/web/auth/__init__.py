"""Login, logout and the language switch."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import invitations, saml, sso, views  # noqa: E402,F401
