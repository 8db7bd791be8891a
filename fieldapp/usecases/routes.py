"""Planning and publishing a team's day of visits, for the lead's page and `fieldapp
plan-routes` alike: the team is the actor's, the workers are the team's, and both are
audited."""

from __future__ import annotations

from datetime import date, timedelta

from ..services.audit import record_event
from ..services.routing import Plan, PlanningError, plan_day, publish_routes, save_plan
from . import Actor, Refused, UnitOfWork

PLANNERS = ("lead", "operator")
# A day further off than this is a typing error (0001-01-01, 9999-12-31), not a plan.
PAST_DAYS, FUTURE_DAYS = 31, 366


def _team_of(actor: Actor) -> int:
    if actor.role not in PLANNERS:
        raise Refused("Only a team lead plans routes.")
    if actor.team_id is None:
        raise Refused("You need a team to plan routes.")
    return actor.team_id


def check_route_day(day: date, today: date | None = None) -> None:
    """Refuse a route day that cannot be meant, naming it."""
    today = today or date.today()
    if not today - timedelta(days=PAST_DAYS) <= day <= today + timedelta(days=FUTURE_DAYS):
        raise Refused(
            f"Day {day.isoformat()} is too far from today to plan: choose a day between "
            f"{(today - timedelta(days=PAST_DAYS)).isoformat()} and "
            f"{(today + timedelta(days=FUTURE_DAYS)).isoformat()}."
        )


def plan_routes(
    uow: UnitOfWork,
    actor: Actor,
    day: date,
    worker_ids: list[int] | None = None,
    *,
    time_limit: float | None = None,
    today: date | None = None,
) -> Plan:
    """Plan the actor's team's day for its workers and save it as the day's draft (a dry-run
    unit of work keeps nothing). Audited as "plan"."""
    team_id = _team_of(actor)
    check_route_day(day, today)
    try:
        result = plan_day(uow.session, day, team_id, worker_ids, time_limit=time_limit)
        save_plan(uow.session, result, actor.user)
    except PlanningError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "plan", "routes", day.isoformat(), actor.address)
    return result


def publish_day(uow: UnitOfWork, actor: Actor, day: date, *, today: date | None = None) -> None:
    """Make the team's draft of the day the workers' "today". Audited as "publish"."""
    team_id = _team_of(actor)
    check_route_day(day, today)
    try:
        publish_routes(uow.session, day, team_id, actor.user)
    except PlanningError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "publish", "routes", day.isoformat(), actor.address)


def move_visit(uow: UnitOfWork, actor: Actor, stop_id: int, worker_id: int) -> None:
    """Give a visit of the team's draft to another of its workers (times recomputed by the
    service); another team's stop is not found."""
    from ..services.route_edits import move_stop

    team_id = _team_of(actor)
    try:
        move_stop(uow.session, stop_id, worker_id, team_id)
    except PlanningError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "update", "route_stop", stop_id, actor.address)


def drop_visit(uow: UnitOfWork, actor: Actor, stop_id: int) -> None:
    """Take a visit out of the team's draft (the case stays open for another day)."""
    from ..services.route_edits import drop_stop

    team_id = _team_of(actor)
    try:
        drop_stop(uow.session, stop_id, team_id)
    except PlanningError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "update", "route_stop", stop_id, actor.address)
