"""Views for a landlord person: parse, call the use case, render."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ...extensions import db
from ...usecases import Actor, UnitOfWork
from ...usecases.outside import landlord_cases
from ..security import client_address, roles_required
from . import bp


@bp.get("/")
@roles_required("landlord")
def tenants():
    """The landlord's tenants with a case in the team's register."""
    actor = Actor.person(current_user, client_address())
    with UnitOfWork(db.session) as uow:
        found = landlord_cases(uow, actor)
    return render_template("landlord/tenants.html", cases=found)
