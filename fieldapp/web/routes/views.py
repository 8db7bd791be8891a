"""Views for planning a team's day: plan, the map beside one lane per worker, drag and drop
(or the plain forms) that recompute on the server, locks and agreed times, the cases left out
and their pins, publish."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from ... import map_grid, map_tiles
from ...domain.organisation import organisation_of
from ...extensions import db, htmx
from ...models import Case, Household, RouteLeftOut, Tenancy, User
from ...services.route_edits import missed_windows, past_working_hours, routes_of_day
from ...usecases import Actor, NotFound, Refused, UnitOfWork
from ...usecases.cases import NotAllowed, place_pin
from ...usecases.routes import (
    book_visit,
    drop_visit,
    forget_booking,
    move_visit,
    plan_routes,
    publish_day,
)
from ..security import client_address, is_number, roles_required
from . import bp

COLOURS = 8  # route-1 … route-8 in the style sheet


def _today() -> date:
    """Today where the lead's organisation is (not where the server is)."""
    organisation = organisation_of(db.session, current_user.team_id)
    zone = ZoneInfo(organisation.timezone if organisation else "UTC")
    return datetime.now(UTC).astimezone(zone).date()


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else _today() + timedelta(days=1)
    except ValueError:
        return None


def _workers():
    query = select(User).where(User.active.is_(True), User.role == "worker")
    if current_user.team_id is not None:
        query = query.where(User.team_id == current_user.team_id)
    return list(db.session.scalars(query.order_by(User.name)))


def _schematic(routes, left_out) -> dict | None:
    """Project every start and stop into a small SVG: the map when no tile source is
    configured (labelled on the page as a schematic, not a street map)."""
    points = [(r.start_lat, r.start_lon) for r in routes]
    points += [(s.lat, s.lon) for r in routes for s in r.stops]
    points += [(item["lat"], item["lon"]) for item in left_out if item["lat"] is not None]
    if not points:
        return None
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    width, height, pad = 640, 420, 20
    span_x, span_y = max(east - west, 1e-4), max(north - south, 1e-4)

    def xy(lat, lon):
        return (
            round(pad + (lon - west) / span_x * (width - 2 * pad), 1),
            round(pad + (north - lat) / span_y * (height - 2 * pad), 1),
        )

    lines = []
    for index, route in enumerate(routes):
        path = [xy(route.start_lat, route.start_lon)]
        path += [xy(s.lat, s.lon) for s in route.stops]
        path.append(xy(route.end_lat, route.end_lon))
        lines.append(
            {
                "colour": f"route-{index % COLOURS + 1}",
                "points": " ".join(f"{x},{y}" for x, y in path),
                "stops": [(xy(s.lat, s.lon), s.position) for s in route.stops],
                "start": path[0],
            }
        )
    grey = [xy(item["lat"], item["lon"]) for item in left_out if item["lat"] is not None]
    return {"width": width, "height": height, "lines": lines, "left_out": grey}


def _map_data(routes, left_out, office) -> dict:
    """What the street map draws: the office, each worker's numbered visits in their colour
    and the left-out cases that have a position, in grey. Positions and numbers only: the
    page's own script draws them, the tile server is sent tile numbers and nothing else."""
    return {
        "office": office,
        "routes": [
            {
                "colour": index % COLOURS + 1,
                "start": [route.start_lat, route.start_lon],
                "stops": [
                    {"n": stop.position, "lat": stop.lat, "lon": stop.lon, "stop": stop.id}
                    for stop in route.stops
                ],
            }
            for index, route in enumerate(routes)
        ],
        "left_out": [
            {"case": item["case_id"], "lat": item["lat"], "lon": item["lon"]}
            for item in left_out
            if item["lat"] is not None
        ],
    }


def _left_out(day: date) -> list[dict]:
    """The day's left-out cases as the lead reads them: address, deadline, reason."""
    rows = db.session.execute(
        select(RouteLeftOut, Case, Household)
        .join(Case, Case.id == RouteLeftOut.case_id)
        .join(Tenancy, Tenancy.id == Case.tenancy_id)
        .join(Household, Household.id == Tenancy.household_id)
        .where(
            RouteLeftOut.day == day,
            RouteLeftOut.team_id == current_user.team_id,
            Case.team_id == current_user.team_id,
        )
        .order_by(RouteLeftOut.mandatory.desc(), Case.priority.desc(), Case.id)
    ).all()
    return [
        {
            "case_id": case.id,
            "address": household.address,
            "place": " ".join(p for p in (household.postcode, household.town) if p),
            "deadline": case.next_deadline,
            "reason": item.reason,
            "mandatory": item.mandatory,
            "lat": household.lat,
            "lon": household.lon,
            "pinned": household.geo_source == "manual",
            "locked": item.locked_worker_id is not None,
            "window": (item.window_start, item.window_end) if item.window_start else None,
            "note": item.appointment_note,
            "id": item.id,
        }
        for item, case, household in rows
    ]


def _office() -> list[float] | None:
    organisation = organisation_of(db.session, current_user.team_id)
    if organisation is None or organisation.office_lat is None or organisation.office_lon is None:
        return None
    return [organisation.office_lat, organisation.office_lon]


def _dispatch(day: date, notice: str | None = None, error: str | None = None) -> dict:
    """Everything the map and the lanes show for the day."""
    routes = routes_of_day(db.session, day, current_user.team_id)
    drafts = [r for r in routes if r.state == "draft"]
    published = [r for r in routes if r.state == "published"]
    shown = drafts or published
    left_out = _left_out(day)
    tiles = map_tiles(current_app.config)
    return {
        "day": day,
        "drafts": drafts,
        "published": published,
        "shown": shown,
        "left_out": left_out,
        "schematic": None if tiles else _schematic(shown, left_out),
        "map_data": _map_data(shown, left_out, _office()),
        "tiles": tiles[0] if tiles else None,
        "grid": map_grid(current_app.config) if tiles else None,
        "attribution": current_app.config["MAP_ATTRIBUTION"],
        "max_zoom": int(current_app.config["MAP_MAX_ZOOM"]),
        "colours": COLOURS,
        "late": {r.id for r in shown if past_working_hours(r)},
        "missed": {stop_id for r in shown for stop_id in missed_windows(r)},
        "notice": notice,
        "dispatch_error": error,
    }


def _page(day: date, error: str | None = None, status: int = 200):
    return render_template(
        "routes/plan.html",
        error=error,
        workers=_workers(),
        tolerance=int(current_app.config["ROUTING_BALANCE_TOLERANCE"]),
        **_dispatch(day),
    ), status


@bp.get("")
@roles_required("lead")
def plan_page():
    """The day's plan (tomorrow by default): drafts to adjust, or what is published."""
    day = _day(request.args.get("day"))
    if day is None:
        return _page(
            _today(),
            error=_("Day: %(value)r is not a date (YYYY-MM-DD).", value=request.args.get("day")),
            status=400,
        )
    return _page(day)


@bp.post("/plan")
@roles_required("lead")
def plan():
    """Run the solver for the chosen workers and save the result as the day's draft; the
    day's locks and agreed times are kept, and the lead chooses how much else is kept."""
    day = _day(request.form.get("day"))
    if day is None:
        return _page(
            _today(),
            error=_("Day: %(value)r is not a date (YYYY-MM-DD).", value=request.form.get("day")),
            status=400,
        )
    if current_user.team_id is None:
        return _page(day, error=_("You need a team to plan routes."), status=400)
    worker_ids = [int(v) for v in request.form.getlist("worker") if is_number(v)]
    try:
        with UnitOfWork(db.session) as uow:
            result = plan_routes(
                uow,
                Actor.person(current_user, client_address()),
                day,
                worker_ids or None,
                time_limit=float(current_app.config["ROUTING_TIME_LIMIT_SECONDS"]),
                mode=request.form.get("mode", "afresh"),
                balance=request.form.get("balance") == "1",
            )
    except Refused as error:
        return _page(day, error=str(error), status=400)
    # Post/redirect/get: a reload shows the plan, it does not plan the day again.
    planned = sum(len(r.stops) for r in result.routes)
    summary = " · ".join(
        [
            ngettext("%(num)d visit planned", "%(num)d visits planned", planned),
            ngettext("%(num)d case left out", "%(num)d cases left out", len(result.unassigned)),
        ]
        + (
            [
                _(
                    "Balanced: at most %(most)d optional visits per worker",
                    most=max(result.balance_limits.values()),
                )
            ]
            if result.balance_limits
            else []
        )
    )
    flash(summary, "plan")
    return redirect(url_for("routes.plan_page", day=day.isoformat()), code=303)


def _edit(change, notice: str):
    """Run a change of the draft; htmx gets the map and lanes again (recomputed on the
    server), a plain form a redirect to the page (post/redirect/get)."""
    day = _day(request.form.get("day")) or _today()
    try:
        with UnitOfWork(db.session) as uow:
            change(uow, Actor.person(current_user, client_address()))
    except NotFound:
        abort(404)  # another team's visit or case: its existence is not told
    except Refused as error:
        if htmx:
            return render_template("routes/_dispatch.html", **_dispatch(day, error=str(error)))
        return _page(day, error=str(error), status=400)
    if htmx:
        return render_template("routes/_dispatch.html", **_dispatch(day, notice=notice))
    flash(notice)
    return redirect(url_for("routes.plan_page", day=day.isoformat()), code=303)


@bp.post("/stops/<int:stop_id>/move")
@roles_required("lead")
def move(stop_id: int):
    """Put a visit at a place of a worker's route: a reorder within a lane or a move to
    another (drag and drop, the Up/Down buttons and the plain form all post here)."""
    worker, place = request.form.get("worker", ""), request.form.get("position", "").strip()
    if not is_number(worker):
        abort(400)

    def change(uow, actor):
        if place and not is_number(place, 10_000):
            raise Refused(_("Place: %(value)r is not a number.", value=place))
        move_visit(uow, actor, stop_id, int(worker), int(place) if place else None)

    return _edit(change, _("Visit moved; the times are recomputed."))


@bp.post("/stops/<int:stop_id>/book")
@roles_required("lead")
def book(stop_id: int):
    """Lock a visit to its worker and/or record the time agreed with the tenant."""
    form = request.form
    return _edit(
        lambda uow, actor: book_visit(
            uow,
            actor,
            stop_id,
            locked=form.get("locked") == "1",
            window_from=form.get("window_from", ""),
            window_to=form.get("window_to", ""),
            note=form.get("note", ""),
        ),
        _("Saved: planning again keeps it."),
    )


@bp.post("/stops/<int:stop_id>/drop")
@roles_required("lead")
def drop(stop_id: int):
    """Take a visit out of the day."""
    return _edit(
        lambda uow, actor: drop_visit(uow, actor, stop_id),
        _("Visit taken out of the day; the case stays open."),
    )


@bp.post("/cases/<int:case_id>/pin")
@roles_required("lead")
def pin(case_id: int):
    """Place a left-out case by hand (a click on the map, or its latitude and longitude);
    geocoding never moves a hand-placed pin."""
    form = request.form
    try:
        lat, lon = float(form.get("lat", "")), float(form.get("lon", ""))
    except ValueError:
        lat = lon = float("nan")

    def change(uow, actor):
        try:
            place_pin(uow, actor, case_id, lat, lon)
        except (NotFound, NotAllowed):
            raise NotFound("not in the team's register") from None
        except Refused:
            raise Refused(
                _(
                    "Position: %(lat)r, %(lon)r is not a latitude and longitude.",
                    lat=form.get("lat", ""),
                    lon=form.get("lon", ""),
                )
            ) from None

    return _edit(change, _("Placed on the map. Plan again to include it."))


@bp.post("/left-out/<int:left_out_id>/forget")
@roles_required("lead")
def forget(left_out_id: int):
    """Stop trying to keep a lock or agreed time the plan could not keep."""
    return _edit(
        lambda uow, actor: forget_booking(uow, actor, left_out_id),
        _("The lock and agreed time are forgotten for this day."),
    )


@bp.post("/publish")
@roles_required("lead")
def publish():
    """Make the draft the workers' "today"; a plan published before is replaced."""
    day = _day(request.form.get("day"))
    if day is None or current_user.team_id is None:
        abort(400)
    try:
        with UnitOfWork(db.session) as uow:
            publish_day(uow, Actor.person(current_user, client_address()), day)
    except Refused as error:
        return _page(day, error=str(error), status=400)
    flash(_("Published: the workers see their routes for that day."))
    return redirect(url_for("routes.plan_page", day=day.isoformat()), code=303)
