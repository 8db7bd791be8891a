"""Views for the team lead."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ...extensions import db
from ...services.worklist import dashboard_figures
from ..security import roles_required
from . import bp


@bp.get("/dashboard")
@roles_required("lead")
def dashboard():
    """The lead's Monday-morning overview: open cases, deadlines soon, unassigned."""
    figures = dashboard_figures(db.session, current_user.team_id)
    return render_template("register/dashboard.html", figures=figures)
