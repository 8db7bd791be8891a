"""Views for the worker's day: today's list, the case card, and the outbox's sync endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, jsonify, make_response, render_template, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ...domain.outbox import HEADERS, MAX_RECORDS_PER_REQUEST
from ...extensions import csrf, db
from ...models import NEEDS, Case, Partner, Tenancy
from ...services.access import may_change, may_read
from ...services.audit import record_event
from ...services.fieldwork import case_card, current_consent_texts
from ...services.holds import latest_holds
from ...services.triage import live_deadlines
from ...services.worklist import (
    keep_card_until,
    offline_days,
    route_times,
    team_open_cases,
    todays_cases,
    tomorrows_cases,
)
from ...usecases import Actor
from ...usecases.sync import apply_outbox
from ..labels import SCOPE_LABELS, offered_scopes
from ..security import client_address, from_own_pages, roles_required
from . import bp

SYNC_HEADER = HEADERS["sync"]
# On the pages the phone may keep for use without network, and until when (ISO 8601, UTC);
# the service worker keeps no page without it and drops each when its time has passed.
KEEP_HEADER = HEADERS["keep_until"]


@bp.get("/today")
@roles_required("worker", "lead")
def today():
    """The worker's visits for today: the planned route, else their open cases by priority."""
    days = offline_days(db.session, current_user)
    cases = todays_cases(db.session, current_user, today=days.today)
    tomorrow = tomorrows_cases(db.session, current_user, days.tomorrow)
    times = route_times(db.session, current_user, days.today, days.tomorrow)
    response = make_response(
        render_template(
            "field/today.html",
            cases=cases,
            tomorrow=tomorrow,
            today=days.today,
            times=times[days.today],
            tomorrow_times=times[days.tomorrow],
        )
    )
    # Kept until tonight; with a route for tomorrow, until tomorrow night, so the worker who
    # opened the app last evening finds tomorrow's cards from it without network (the page
    # shows its date; today's cards on it have expired by then and are not shown).
    response.headers[KEEP_HEADER] = _http_time(days.tomorrow_ends if tomorrow else days.today_ends)
    return response


@bp.get("/team")
@roles_required("worker")
def team():
    """The team's open cases, to read when covering for a colleague; not kept offline."""
    cases = team_open_cases(db.session, current_user)
    record_event(db.session, current_user, "view", "team_cases", "", client_address())
    db.session.commit()
    return render_template("field/team.html", cases=cases)


def _http_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@bp.get("/field/cases/<int:case_id>")
@roles_required("worker", "lead")
def card(case_id: int):
    """The case card a worker holds at the door, with the forms that go to the outbox."""
    case = db.session.scalar(
        select(Case)
        .options(
            joinedload(Case.tenancy).joinedload(Tenancy.household),
            joinedload(Case.tenancy).joinedload(Tenancy.landlord),
        )
        .where(Case.id == case_id)
    )
    if case is None:
        abort(404)
    editable = may_change(db.session, current_user, case)
    if not editable and not may_read(db.session, current_user, case):
        abort(403)
    record_event(db.session, current_user, "view", "case", case.id, client_address())
    db.session.commit()
    partners = db.session.scalars(select(Partner).order_by(Partner.name)).all()
    days = offline_days(db.session, current_user)
    keep_until = keep_card_until(db.session, current_user, case, days) if editable else None
    response = make_response(
        render_template(
            "field/card.html",
            case=case,
            card=case_card(db.session, case),
            consent_texts=current_consent_texts(db.session),
            scopes=offered_scopes(),
            needs=NEEDS,
            partners=partners,
            editable=editable,
            # The court and bailiff dates still to come, soonest first: the why of the visit.
            # (not those of a petition withdrawn or an eviction cancelled since).
            coming=live_deadlines(case.legal_steps, days.today),
            today=days.today,
            scope_names=lambda codes: ", ".join(str(SCOPE_LABELS.get(c, c)) for c in codes),
            hold=latest_holds(db.session, [case.id]).get(case.id),  # the landlord's answer
        )
    )
    if keep_until is not None:
        response.headers[KEEP_HEADER] = _http_time(keep_until)
    return response


@bp.post("/sync")
@csrf.exempt  # the token may have expired while offline; the header and Origin stand in
def sync():
    """Apply outbox records one by one; answer for each (applied, duplicate, conflict,
    rejected). A 401 tells the phone to log in again and keep its outbox."""
    if not current_user.is_authenticated:
        return jsonify(error="login_required", message="Please log in again."), 401
    if current_user.role not in ("worker", "lead"):
        abort(403)
    if not from_own_pages(SYNC_HEADER):
        return jsonify(error="origin", message="Sync must come from the Doorstep app."), 403
    payload = request.get_json(silent=True)
    records = payload.get("records") if isinstance(payload, dict) else None
    if not isinstance(records, list) or len(records) > MAX_RECORDS_PER_REQUEST:
        return jsonify(
            error="bad_request",
            message=f"Send a JSON object with 1 to {MAX_RECORDS_PER_REQUEST} records.",
        ), 400
    results = apply_outbox(db.session, Actor.person(current_user, client_address()), records)
    current_app.logger.info(
        "sync: %d records, %s",
        len(results),
        ", ".join(f"{r.status}" for r in results),
    )
    return jsonify(results=[r.as_dict() for r in results])
