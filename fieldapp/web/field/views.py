"""Views for the worker's day."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ...extensions import db
from ...services.worklist import todays_cases
from ..security import roles_required
from . import bp


@bp.get("/today")
@roles_required("worker", "lead")
def today():
    """The worker's visits for today: the planned route, else their open cases by priority."""
    cases = todays_cases(db.session, current_user)
    return render_template("field/today.html", cases=cases)
