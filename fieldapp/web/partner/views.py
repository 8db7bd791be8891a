"""Views for a partner person: parse, call the use case, render."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ...extensions import db
from ...usecases import Actor, UnitOfWork
from ...usecases.outside import partner_cases
from ..security import client_address, roles_required
from . import bp


@bp.get("/")
@roles_required("partner")
def cases():
    """The consented cases of the partner's team, most urgent first."""
    actor = Actor.person(current_user, client_address())
    with UnitOfWork(db.session) as uow:
        found = partner_cases(uow, actor)
    return render_template("partner/cases.html", cases=found)
