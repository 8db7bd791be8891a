"""Planning and publishing a team's day of visits, for the lead's page and `fieldapp
plan-routes` alike: the team is the actor's, the workers are the team's, and both are
audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..domain.organisation import organisation_of
from ..services.audit import record_event
from ..services.routing import (
    PLAN_MODES,
    Booking,
    Plan,
    PlanningError,
    bookings_of_day,
    plan_day,
    publish_routes,
    save_plan,
)
from . import Actor, NotFound, Refused, UnitOfWork

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
    mode: str = "afresh",
    balance: bool = False,
    given: dict[int, Booking] | None = None,
) -> Plan:
    """Plan the actor's team's day for its workers and save it as the day's draft (a dry-run
    unit of work keeps nothing). The locks and agreed times of the day's current plan are
    kept; `mode` is one of PLAN_MODES (`reorder`: keep who visits whom and only reorder,
    `fit_new`: keep who visits whom and fit in the cases not planned yet); `balance` caps each
    worker's visits at their share plus the tolerance. Audited as "plan"."""
    team_id = _team_of(actor)
    check_route_day(day, today)
    if mode not in PLAN_MODES:
        raise Refused(f"Way to plan {mode!r}: choose one of {', '.join(PLAN_MODES)}.")
    try:
        from ..services.gazetteer import place_team_households

        place_team_households(uow.session, team_id)
        bookings = bookings_of_day(uow.session, day, team_id, mode)
        for case_id, booking in (given or {}).items():
            kept = bookings.get(case_id)
            bookings[case_id] = Booking(
                case_id,
                booking.worker_id if booking.worker_id is not None else (kept and kept.worker_id),
                booking.locked or bool(kept and kept.locked),
                booking.window or (kept.window if kept else None),
                booking.note or (kept.note if kept else ""),
            )
        result = plan_day(
            uow.session,
            day,
            team_id,
            worker_ids,
            time_limit=time_limit,
            bookings=bookings,
            mode=mode,
            balance=balance,
        )
        save_plan(uow.session, result, actor.user)
    except PlanningError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "plan", "routes", day.isoformat(), actor.address)
    return result


def read_bookings(
    uow: UnitOfWork,
    actor: Actor,
    day: date,
    locks: tuple[str, ...] | list[str] = (),
    windows: tuple[str, ...] | list[str] = (),
) -> dict[int, Booking]:
    """Locks ("CASE=WORKER_EMAIL") and agreed times ("CASE=14:00-16:00") as the command line
    gives them, checked against the actor's team; refused naming the value."""
    from sqlalchemy import select

    from ..domain.numbers import whole_number
    from ..models import Case, User

    team_id = _team_of(actor)
    zone = ZoneInfo(organisation_of(uow.session, team_id).timezone)
    # In UTC: seconds after midnight are elapsed seconds, also on a daylight-saving day.
    midnight = datetime.combine(day, time(0), zone).astimezone(UTC)
    found: dict[int, Booking] = {}

    def case_of(raw: str, option: str) -> tuple[int, str]:
        case, _, value = raw.partition("=")
        number = whole_number(case, 1, 2**31 - 1)
        if number is None or not value.strip():
            raise Refused(f"{option} {raw!r}: write CASE=VALUE, e.g. 61=mette@example.org.")
        if (
            uow.session.scalar(select(Case.id).where(Case.id == number, Case.team_id == team_id))
            is None
        ):
            raise Refused(f"{option} {raw!r}: no case {number} in your team's register.")
        return number, value.strip()

    for raw in locks:
        case_id, email = case_of(raw, "--lock")
        worker = uow.session.scalar(
            select(User).where(
                User.email == email.lower(),
                User.team_id == team_id,
                User.role == "worker",
                User.active.is_(True),
            )
        )
        if worker is None:
            raise Refused(f"--lock {raw!r}: no active worker {email!r} in your team.")
        found[case_id] = Booking(case_id, worker.id, True)
    for raw in windows:
        case_id, span = case_of(raw, "--window")
        start, _, end = span.partition("-")
        window = parse_window(day, zone.key, start, end)
        if window is None:
            raise Refused(f"--window {raw!r}: write CASE=HH:MM-HH:MM, e.g. 61=14:00-16:00.")
        seconds = tuple(
            int((moment.astimezone(UTC) - midnight).total_seconds()) for moment in window
        )
        booking = found.setdefault(case_id, Booking(case_id))
        booking.window = (seconds[0], seconds[1])
    return found


def forget_booking(uow: UnitOfWork, actor: Actor, left_out_id: int) -> None:
    """Drop the lock and agreed time a plan could not keep for a left-out case of the team's
    day, so the next plan no longer tries. Audited as an update of the left-out row; another
    team's row is not found."""
    from ..models import RouteLeftOut

    team_id = _team_of(actor)
    item = uow.session.get(RouteLeftOut, left_out_id)
    if item is None or item.team_id != team_id:
        raise NotFound("That case is not among the day's left-out cases.")
    item.locked_worker_id = item.window_start = item.window_end = None
    item.appointment_note = ""
    uow.session.flush()
    record_event(uow.session, actor.user, "update", "route_left_out", item.id, actor.address)


def publish_day(uow: UnitOfWork, actor: Actor, day: date, *, today: date | None = None) -> None:
    """Make the team's draft of the day the workers' "today". Audited as "publish"."""
    team_id = _team_of(actor)
    check_route_day(day, today)
    try:
        publish_routes(uow.session, day, team_id, actor.user)
    except PlanningError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "publish", "routes", day.isoformat(), actor.address)


def _stop_of_team(uow: UnitOfWork, team_id: int, stop_id: int):
    """The team's stop; another team's (or no such stop) is not found, so its existence is
    not told."""
    from ..models import RouteStop

    stop = uow.session.get(RouteStop, stop_id)
    if stop is None or stop.route.team_id != team_id:
        raise NotFound("That visit is not in your team's plan.")
    return stop


def move_visit(
    uow: UnitOfWork, actor: Actor, stop_id: int, worker_id: int, position: int | None = None
) -> None:
    """Put a visit of the team's draft at a place of one of its workers' routes (a reorder
    within a route, or a move to another worker); both routes are retimed by the service.
    Another team's stop is not found."""
    from ..services.route_edits import move_stop

    team_id = _team_of(actor)
    _stop_of_team(uow, team_id, stop_id)
    try:
        move_stop(uow.session, stop_id, worker_id, team_id, position)
    except PlanningError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "update", "route_stop", stop_id, actor.address)


def parse_window(day: date, zone: str, start: str, end: str) -> tuple[datetime, datetime] | None:
    """An agreed time "14:00"–"16:00" on the route's day, in the organisation's zone; both
    empty for none. Refused, naming the value, when it is not a time of day or ends first."""
    start, end = (start or "").strip(), (end or "").strip()
    if not start and not end:
        return None
    times = []
    for label, raw in (("From", start), ("To", end)):
        try:
            moment = time.fromisoformat(raw)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is not None:  # "14:00Z" names no local time
            raise Refused(f"{label}: {raw!r} is not a time of day (HH:MM).")
        times.append(moment)
    if times[1] <= times[0]:
        raise Refused(f"Agreed time {start}–{end}: the end must come after the start.")
    tz = ZoneInfo(zone)
    return datetime.combine(day, times[0], tz), datetime.combine(day, times[1], tz)


def book_visit(
    uow: UnitOfWork,
    actor: Actor,
    stop_id: int,
    *,
    locked: bool,
    window_from: str = "",
    window_to: str = "",
    note: str = "",
) -> None:
    """Lock a visit of the team's draft to its worker and/or record the time agreed with the
    tenant ("14:00"–"16:00"; both empty clears it). Re-planning keeps both, or says why it
    could not. Audited as an update of the stop."""
    from ..services.route_edits import book_stop

    team_id = _team_of(actor)
    stop = _stop_of_team(uow, team_id, stop_id)
    zone = organisation_of(uow.session, team_id).timezone
    window = parse_window(stop.route.day, zone, window_from, window_to)
    try:
        book_stop(uow.session, stop_id, team_id, locked=locked, window=window, note=note)
    except PlanningError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "update", "route_stop", stop_id, actor.address)


def drop_visit(uow: UnitOfWork, actor: Actor, stop_id: int) -> None:
    """Take a visit out of the team's draft (the case stays open for another day)."""
    from ..services.route_edits import drop_stop

    team_id = _team_of(actor)
    _stop_of_team(uow, team_id, stop_id)
    try:
        drop_stop(uow.session, stop_id, team_id)
    except PlanningError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "update", "route_stop", stop_id, actor.address)
