"""Reminder settings page, the subscription API the page and service worker call, and the
organisation's reminder times."""

from __future__ import annotations

from datetime import time

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ...domain.organisation import organisation_of
from ...domain.outbox import HEADERS
from ...extensions import csrf, db
from ...models import Organisation
from ...services.audit import record_event
from ...services.push import (
    SubscriptionError,
    device_label,
    parse_subscription,
    public_key_b64,
    user_subscriptions,
)
from ...services.reminders import MAX_OFFSETS, OFFSET_LIMIT_DAYS, OffsetsError, parse_offsets
from ...usecases import Actor, NotFound, UnitOfWork, devices
from ..security import client_address, from_own_pages, roles_required
from . import bp

PUSH_HEADER = HEADERS["push"]
# Only people who get reminders subscribe; administrators get none.
SUBSCRIBERS = ("worker", "lead", "partner")


def _organisation() -> Organisation | None:
    """The organisation of the person's team (an administrator without one: the first)."""
    return organisation_of(db.session, current_user.team_id)


def _page(errors: dict[str, str] | None = None, form: dict | None = None, status: int = 200):
    organisation = _organisation()
    return (
        render_template(
            "push/settings.html",
            devices=user_subscriptions(db.session, current_user.id),
            public_key=public_key_b64(current_app.extensions["doorstep_vapid"]),
            can_subscribe=current_user.role in SUBSCRIBERS,
            sending=bool(current_app.config["VAPID_SUBJECT"]),
            organisation=organisation,
            can_edit=current_user.role in ("lead", "admin") and organisation is not None,
            errors=errors or {},
            form=form,
        ),
        status,
    )


@bp.get("/settings/reminders")
@roles_required("worker", "lead", "admin", "partner")
def settings():
    """Turn reminders on for this device, see one's devices, remove one."""
    return _page()


def _json_caller_checked():
    """None when the caller may use the subscription API, else the refusal to return."""
    if not current_user.is_authenticated:
        return jsonify(error="login_required", message=_("Please log in again.")), 401
    if current_user.role not in SUBSCRIBERS:
        return jsonify(
            error="forbidden", message=_("Reminders are for workers, leads and partners.")
        ), 403
    if not from_own_pages(PUSH_HEADER):
        return jsonify(error="origin", message=_("This must come from the Doorstep app.")), 403
    return None


@bp.post("/push/subscriptions")
@csrf.exempt  # the service worker renews subscriptions and has no token; header + Origin
def subscribe():
    """Store the browser's `PushSubscription.toJSON()`: 201 when new, 200 when known."""
    refusal = _json_caller_checked()
    if refusal is not None:
        return refusal
    try:
        fields = parse_subscription(
            request.get_json(silent=True), current_app.config["PUSH_SERVICES"]
        )
    except SubscriptionError as error:
        return jsonify(error="invalid", field=error.field, message=f"{error.field}: {error}"), 400
    with UnitOfWork(db.session) as uow:
        subscription, created = devices.subscribe_device(
            uow,
            _actor(),
            fields,
            str(get_locale() or "en"),
            device_label(request.headers.get("User-Agent", "")),
        )
    return jsonify(id=subscription.id, device=subscription.device), 201 if created else 200


@bp.delete("/push/subscriptions")
@csrf.exempt
def unsubscribe():
    """Forget this device's subscription (body: `{"endpoint": ...}`); 404 if not the caller's."""
    refusal = _json_caller_checked()
    if refusal is not None:
        return refusal
    data = request.get_json(silent=True)
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        return jsonify(error="invalid", field="endpoint", message="endpoint: missing"), 400
    try:
        with UnitOfWork(db.session) as uow:
            devices.remove_device_by_endpoint(uow, _actor(), endpoint)
    except NotFound:
        return jsonify(error="not_found", message=_("This device has no reminders.")), 404
    return jsonify(removed=True)


@bp.post("/settings/reminders/devices/<int:subscription_id>/remove")
@roles_required("worker", "lead", "admin", "partner")
def remove_device(subscription_id: int):
    """Remove one of the person's own devices from the list."""
    try:
        with UnitOfWork(db.session) as uow:
            devices.remove_device(uow, _actor(), subscription_id)
    except NotFound:
        abort(404)
    flash(_("The device gets no more reminders."))
    return redirect(url_for("push.settings"), code=303)


def _actor() -> Actor:
    return Actor.person(current_user, client_address())


def _offsets_message(error: OffsetsError) -> str:
    if error.problem == "not_a_day":
        return _(
            "Days before: %(value)s is not a number of days from 1 to %(limit)s.",
            value=repr(error.value),
            limit=OFFSET_LIMIT_DAYS,
        )
    if error.problem == "too_many":
        return _(
            "Days before: %(count)s reminders before each date; at most %(limit)s.",
            count=error.value,
            limit=MAX_OFFSETS,
        )
    return _("Days before: give at least one number of days, e.g. 7, 2, 1.")


def _parse_time(raw: str, name: str, errors: dict[str, str]) -> time | None:
    try:
        hours, minutes = raw.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        errors[name] = _("%(field)s: %(value)s is not a time like 08:00", field=name, value=raw)
        return None


@bp.post("/settings/reminders/organisation")
@roles_required("lead", "admin")
def organisation_settings():
    """The organisation's reminder offsets and quiet hours; a bad value is named, nothing saved."""
    organisation = _organisation()
    if organisation is None:
        abort(404)
    form = {k: request.form.get(k, "") for k in ("offsets", "quiet_start", "quiet_end")}
    errors: dict[str, str] = {}
    try:
        offsets = parse_offsets(form["offsets"])
    except OffsetsError as error:
        errors["offsets"] = _offsets_message(error)
        offsets = []
    start = _parse_time(form["quiet_start"], "quiet_start", errors)
    end = _parse_time(form["quiet_end"], "quiet_end", errors)
    if errors:
        return _page(errors, form, 400)
    organisation.reminder_offsets = ",".join(str(days) for days in offsets)
    organisation.quiet_hours_start, organisation.quiet_hours_end = start, end
    record_event(
        db.session,
        current_user,
        "update",
        "organisation",
        organisation.id,
        client_address(),
        "reminder settings",
    )
    db.session.commit()
    flash(_("The reminder settings are saved."))
    return redirect(url_for("push.settings"), code=303)
