"""The invited person chooses their password with the code their administrator gave them."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...extensions import db
from ...usecases import Refused, UnitOfWork
from ...usecases.accounts import accept_invitation
from ..security import client_address
from . import bp


@bp.route("/invitation", methods=["GET", "POST"])
def invitation():
    """E-mail, the invitation code and a new password; then the person logs in. The code is
    typed, never put in a link: addresses end up in logs and browser histories."""
    if request.method != "POST":
        return render_template("auth/invitation.html", email="", error=None)
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    if password != request.form.get("password_again", ""):
        error = _("The two passwords differ.")
        return render_template("auth/invitation.html", email=email, error=error), 422
    try:
        with UnitOfWork(db.session) as uow:
            accept_invitation(
                uow,
                email,
                request.form.get("code", ""),
                password,
                address=client_address(),
                agent=request.headers.get("User-Agent", ""),
            )
    except Refused as refused:
        error = (
            _("The password must be at least 12 characters long (a phrase is easier).")
            if "12 characters" in str(refused)
            else _(
                "This code does not open an invitation for that e-mail address (or it has "
                "expired or been used). Ask your administrator for a new one."
            )
        )
        return render_template("auth/invitation.html", email=email, error=error), 422
    return redirect(url_for("auth.login", welcome=1), code=303)
