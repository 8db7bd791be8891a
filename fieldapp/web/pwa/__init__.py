"""The progressive-web-app plumbing: service worker, manifest, offline page."""

from flask import Blueprint

bp = Blueprint("pwa", __name__)

from . import views  # noqa: E402,F401
