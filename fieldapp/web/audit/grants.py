"""Every grant of case access, beside its acceptance, for the data protection officer."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ...extensions import db
from ...usecases import Actor, UnitOfWork
from ...usecases.accounts import access_grants
from ..security import client_address, roles_required
from . import bp


@bp.get("/audit/grants")
@roles_required("dpo")
def grants():
    """Accounts that read cases (workers, leads): who granted them, when and from where, and
    when and from where the person accepted; flagged when accepted from the granting
    administrator's own address (did the administrator open the account themselves?)."""
    with UnitOfWork(db.session, dry_run=True) as uow:  # reads only
        rows = access_grants(uow, Actor.person(current_user, client_address()))
        return render_template("audit/grants.html", grants=rows)
