"""Push reminders: a person's devices, the subscription API, the organisation's settings."""

from flask import Blueprint

bp = Blueprint("push", __name__)

from . import views  # noqa: E402,F401
