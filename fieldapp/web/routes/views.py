"""Views for planning a team's day: plan, look at the map and lists, move or drop, publish."""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ...extensions import db
from ...models import User
from ...services.route_edits import (
    past_working_hours,
    routes_of_day,
)
from ...usecases import Actor, Refused, UnitOfWork
from ...usecases.routes import drop_visit, move_visit, plan_routes, publish_day
from ..security import client_address, is_number, roles_required
from . import bp

COLOURS = 8  # route-1 … route-8 in the style sheet


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else date.today() + timedelta(days=1)
    except ValueError:
        return None


def _workers():
    query = select(User).where(User.active.is_(True), User.role == "worker")
    if current_user.team_id is not None:
        query = query.where(User.team_id == current_user.team_id)
    return list(db.session.scalars(query.order_by(User.name)))


def _map(routes) -> dict | None:
    """Project every start and stop into a small SVG (a schematic map: no tiles leave the
    server, so no address or position goes to a map provider)."""
    points = [(r.start_lat, r.start_lon) for r in routes]
    points += [(s.lat, s.lon) for r in routes for s in r.stops]
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
    return {"width": width, "height": height, "lines": lines}


def _page(day: date, plan=None, error: str | None = None, status: int = 200):
    routes = routes_of_day(db.session, day, current_user.team_id)
    drafts = [r for r in routes if r.state == "draft"]
    published = [r for r in routes if r.state == "published"]
    shown = drafts or published
    return render_template(
        "routes/plan.html",
        day=day,
        plan=plan,
        error=error,
        workers=_workers(),
        drafts=drafts,
        published=published,
        shown=shown,
        map=_map(shown),
        colours=COLOURS,
        late={r.id for r in shown if past_working_hours(r)},
        planned=sum(len(r.stops) for r in plan.routes) if plan else 0,
    ), status


@bp.get("")
@roles_required("lead")
def plan_page():
    """The day's plan (tomorrow by default): drafts to adjust, or what is published."""
    day = _day(request.args.get("day"))
    if day is None:
        return _page(
            date.today(),
            error=_("Day: %(value)r is not a date (YYYY-MM-DD).", value=request.args.get("day")),
            status=400,
        )
    return _page(day)


@bp.post("/plan")
@roles_required("lead")
def plan():
    """Run the solver for the chosen workers and save the result as the day's draft."""
    day = _day(request.form.get("day"))
    if day is None:
        return _page(
            date.today(),
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
            )
    except Refused as error:
        return _page(day, error=str(error), status=400)
    return _page(day, plan=result)


def _edit(change):
    day = _day(request.form.get("day")) or date.today()
    try:
        with UnitOfWork(db.session) as uow:
            change(uow, Actor.person(current_user, client_address()))
    except Refused as error:
        return _page(day, error=str(error), status=400)
    return redirect(url_for("routes.plan_page", day=day.isoformat()), code=303)


@bp.post("/stops/<int:stop_id>/move")
@roles_required("lead")
def move(stop_id: int):
    """Give a visit to another worker."""
    raw = request.form.get("worker", "")
    if not is_number(raw):
        abort(400)
    return _edit(lambda uow, actor: move_visit(uow, actor, stop_id, int(raw)))


@bp.post("/stops/<int:stop_id>/drop")
@roles_required("lead")
def drop(stop_id: int):
    """Take a visit out of the day."""
    return _edit(lambda uow, actor: drop_visit(uow, actor, stop_id))


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
    return redirect(url_for("routes.plan_page", day=day.isoformat()), code=303)
