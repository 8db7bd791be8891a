"""Reminders by Web Push: what is due, for whom, and sending each exactly once per device.

`send_due(session, sender, now)` is the whole job, run by `fieldapp send-reminders` from cron
or by the embedded server's scheduler thread. It works in two steps, each safe to run in
several processes at once:

1. *Schedule*: every hearing or eviction date at each of the organisation's offsets, every
   newly published route and every action due today becomes a `Reminder` row once it is due.
   The row is inserted with ON CONFLICT DO NOTHING on (kind, source, offset); only the sender
   whose insert won fans it out into one `PushDelivery` per subscribed device of the people
   concerned, in the same transaction.
2. *Send*: a sender claims due deliveries with one conditional UPDATE (after SELECT … FOR
   UPDATE SKIP LOCKED on PostgreSQL) that sets its token and a lease, commits, sends, and
   records the result. Another sender's UPDATE finds the row claimed and skips it; a sender
   that dies leaves the lease to run out, and the next run sends the delivery.

The one window left is a crash after the push service accepted a message and before the
result was committed: the delivery is then sent again after the lease. It carries the same
Topic (the push service replaces an undelivered copy) and the same notification tag (the
phone replaces the shown one), so the person still sees one notification.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..domain.legal_clock import CLOCK_DEADLINE_KINDS, CLOCK_STEPS, CLOCKS, clock_deadlines
from ..domain.numbers import whole_number
from ..domain.organisation import organisation_of, zone_named
from ..models import (
    OPEN_STATUSES,
    Action,
    Case,
    LegalStep,
    Organisation,
    Partner,
    PushAttempt,
    PushDelivery,
    PushSubscription,
    Reminder,
    Route,
    User,
)
from ..models.case import DEADLINE_KINDS
from ..models.push import OPEN_DELIVERY_STATES
from .access import current_scopes, partner_may_read
from .push import PushSender, remove_subscriptions
from .tabular import normalise_address
from .triage import _ENDING_KINDS, live_deadlines

# Push services keep a message at most about four weeks.
MAX_TTL_SECONDS = 28 * 24 * 3600
# Routes published longer ago than this are not announced (e.g. on the first run after an
# upgrade): the worker has seen them.
ROUTE_ANNOUNCE_WINDOW = timedelta(hours=36)
MAX_BACKOFF_SECONDS = 3600
OFFSET_LIMIT_DAYS = 60
MAX_OFFSETS = 8


@dataclass
class SendReport:
    """What one run did; printed by `fieldapp send-reminders`."""

    reminders: int = 0
    deliveries: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def line(self) -> str:
        done = ", ".join(f"{count} {name}" for name, count in sorted(self.outcomes.items()))
        return (
            f"{self.reminders} reminders due, {self.deliveries} deliveries queued; "
            f"sent now: {done or 'nothing'}."
        )


# --- organisation settings ---------------------------------------------------------------------


class OffsetsError(ValueError):
    """A list of reminder offsets that cannot be used: `problem` is "not_a_day", "none" or
    "too_many", `value` the part or the count at fault (the page words it in its language)."""

    def __init__(self, problem: str, value: str | int = "") -> None:
        super().__init__(f"{problem}: {value!r}")
        self.problem, self.value = problem, value


def parse_offsets(text: str) -> list[int]:
    """ "7, 2, 1" → [7, 2, 1]: days before an event, largest first; OffsetsError otherwise."""
    days: set[int] = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        day = whole_number(part, 1, OFFSET_LIMIT_DAYS)
        if day is None:
            raise OffsetsError("not_a_day", part)
        days.add(day)
    if not days:
        raise OffsetsError("none")
    if len(days) > MAX_OFFSETS:
        raise OffsetsError("too_many", len(days))
    return sorted(days, reverse=True)


def out_of_quiet_hours(at: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """The moment, or the end of the quiet hours it falls in (the start of the working day)."""
    if start == end:
        return at
    local = at.astimezone(zone)
    moment = local.time()
    if start > end:  # overnight, e.g. 20:00-08:00
        if moment >= start:
            return datetime.combine(local.date() + timedelta(days=1), end, zone).astimezone(UTC)
        if moment < end:
            return datetime.combine(local.date(), end, zone).astimezone(UTC)
        return at
    if start <= moment < end:
        return datetime.combine(local.date(), end, zone).astimezone(UTC)
    return at


def _end_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)


@dataclass(frozen=True)
class _Due:
    kind: str
    source_id: int
    offset_days: int
    case_id: int | None
    event_on: date
    due_at: datetime
    expires_at: datetime
    urgent: bool
    recipients: tuple[int, ...]


# --- step 1: schedule ------------------------------------------------------------------------


def schedule_reminders(session: Session, now: datetime) -> tuple[int, int]:
    """Create the reminders due by `now` and their deliveries; (reminders, deliveries) created.

    Commits: the insert that wins the unique constraint is what makes a reminder exist once.
    """
    reminders = deliveries = 0
    for organisation in session.scalars(select(Organisation).order_by(Organisation.id)):
        for due in _due_for(session, organisation, now):
            made = _create(session, due, now)
            if made is not None:
                reminders += 1
                deliveries += made
            session.commit()
    return reminders, deliveries


def _due_for(session: Session, organisation: Organisation, now: datetime) -> Iterable[_Due]:
    zone = ZoneInfo(organisation.timezone)
    start, end = organisation.quiet_hours_start, organisation.quiet_hours_end
    try:
        offsets = parse_offsets(organisation.reminder_offsets)
    except ValueError:
        offsets = [7, 2, 1]
    if out_of_quiet_hours(now, zone, start, end) > now:
        return  # quiet hours: what falls due now waits for the start of the working day
    today = now.astimezone(zone).date()
    team_ids = [t.id for t in organisation.teams]
    leads = _leads_by_team(session, team_ids)

    dates = _Dates(offsets, zone, start, end)

    # Hearings and eviction dates: the latest offset already due, once per offset.
    steps = session.execute(
        select(LegalStep, Case.team_id, Case.assigned_worker_id)
        .join(Case, Case.id == LegalStep.case_id)
        .where(
            Case.team_id.in_(team_ids),
            Case.status.in_(OPEN_STATUSES),
            LegalStep.kind.in_(DEADLINE_KINDS + _ENDING_KINDS),
            LegalStep.date >= today,
            LegalStep.date <= today + timedelta(days=max(offsets) + 1),
        )
    ).all()
    for case_id, case_steps, recipients in _steps_by_case(steps, leads):
        for step in live_deadlines(case_steps, today):
            due = _at_offsets(step.kind, step.id, case_id, step.date, recipients, dates, now)
            if due is not None:
                yield due

    # Deadlines a clock step started (the end of a påkrav's 14 days, the earliest petition
    # after a § 9-11 notice), at the same offsets, to the case's worker and leads.
    yield from _clock_dues(session, team_ids, leads, today, now, dates)

    # Routes published for today or later: announced to their worker.
    for route in session.scalars(
        select(Route).where(
            Route.team_id.in_(team_ids),
            Route.state == "published",
            Route.day >= today,
            Route.published_at >= now - ROUTE_ANNOUNCE_WINDOW,
        )
    ):
        due_at = out_of_quiet_hours(route.published_at, zone, start, end)
        if due_at <= now:
            yield _Due(
                "route_published",
                route.id,
                0,
                None,
                route.day,
                due_at,
                _end_of_day(route.day, zone),
                False,
                (route.worker_id,),
            )

    # Agreed actions due today: to the case's worker (the one who follows it up).
    for action, worker_id in session.execute(
        select(Action, Case.assigned_worker_id)
        .join(Case, Case.id == Action.case_id)
        .where(
            Case.team_id.in_(team_ids),
            Case.status.in_(OPEN_STATUSES),
            Action.status.in_(("agreed", "in_progress")),
            Action.due_on == today,
        )
    ):
        due_at = dates.at_start_of(action.due_on)
        if due_at <= now:
            yield _Due(
                "action_due",
                action.id,
                0,
                action.case_id,
                action.due_on,
                due_at,
                _end_of_day(action.due_on, zone),
                True,
                (worker_id or action.worker_id,),
            )

    yield from _partner_actions_due(session, team_ids, today, now, dates.at_start_of, zone)


PARTNER_ACTION_DAYS = (1, 0)  # the day before the due date, and the day itself


def _partner_actions_due(session, team_ids, today, now, at_start_of, zone) -> Iterable[_Due]:
    """Actions assigned to a partner, due tomorrow or today: to that partner's people in the
    case's team, only while the tenant's current consent covers the partner's kind (checked
    again when each one is sent)."""
    days = [today + timedelta(days=n) for n in PARTNER_ACTION_DAYS]
    due = session.execute(
        select(Action, Case.team_id, Partner.kind)
        .join(Case, Case.id == Action.case_id)
        .join(Partner, Partner.id == Action.partner_id)
        .where(
            Case.team_id.in_(team_ids),
            Case.status.in_(OPEN_STATUSES),
            Action.status.in_(("agreed", "in_progress")),
            Action.due_on.in_(days),
        )
    ).all()
    if not due:
        return
    scopes = current_scopes(session, sorted({action.case_id for action, _t, _k in due}))
    people: dict[tuple[int, int], list[int]] = defaultdict(list)
    for user_id, partner_id, team_id in session.execute(
        select(User.id, User.partner_id, User.team_id).where(
            User.role == "partner",
            User.active.is_(True),
            User.team_id.in_(team_ids),
            User.partner_id.in_({action.partner_id for action, _t, _k in due}),
        )
    ):
        people[(partner_id, team_id)].append(user_id)
    for action, team_id, kind in due:
        recipients = tuple(people.get((action.partner_id, team_id), ()))
        if not recipients or kind not in scopes.get(action.case_id, set()):
            continue
        offset = (action.due_on - today).days
        due_at = at_start_of(today)
        if due_at <= now:
            yield _Due(
                "partner_action_due",
                action.id,
                offset,
                action.case_id,
                action.due_on,
                due_at,
                _end_of_day(action.due_on, zone),
                offset == 0,
                recipients,
            )


@dataclass(frozen=True)
class _Dates:
    """The organisation's offsets, zone and quiet hours: when a dated thing is reminded."""

    offsets: list[int]
    zone: ZoneInfo
    start: time
    end: time

    def at_start_of(self, day: date) -> datetime:
        moment = datetime.combine(day, self.end, self.zone).astimezone(UTC)
        return out_of_quiet_hours(moment, self.zone, self.start, self.end)


def _at_offsets(
    kind: str,
    source_id: int,
    case_id: int,
    day: date,
    recipients: tuple[int, ...],
    dates: _Dates,
    now: datetime,
) -> _Due | None:
    """The reminder of a dated thing at the latest of the offsets already due, if any, while
    its day has not ended."""
    due_now = [
        (moment, days)
        for days in dates.offsets
        if (moment := dates.at_start_of(day - timedelta(days=days))) <= now
    ]
    expires = _end_of_day(day, dates.zone)
    if not due_now or now >= expires:
        return None
    due_at, days = max(due_now)
    urgent = days == dates.offsets[-1]
    return _Due(kind, source_id, days, case_id, day, due_at, expires, urgent, recipients)


def _steps_by_case(rows, leads: dict[int, list[int]]):
    """(case id, its steps, the worker and leads to tell) from rows of (step, team, worker)."""
    by_case: dict[int, list[LegalStep]] = defaultdict(list)
    people: dict[int, tuple[int | None, int | None]] = {}
    for step, team_id, worker_id in rows:
        by_case[step.case_id].append(step)
        people[step.case_id] = (team_id, worker_id)
    for case_id, case_steps in by_case.items():
        team_id, worker_id = people[case_id]
        yield case_id, case_steps, _people(worker_id, leads.get(team_id, ()))


def _clock_dues(session, team_ids, leads, today, now, dates: _Dates):
    """The reminders due for clock deadlines: the open cases with a clock step recent
    enough to still run, all their steps (a later one ends the clock) in one query."""
    longest = max((c.days for country in CLOCKS.values() for c in country.clocks), default=0)
    recent = (
        select(LegalStep.case_id)
        .join(Case, Case.id == LegalStep.case_id)
        .where(
            Case.team_id.in_(team_ids),
            Case.status.in_(OPEN_STATUSES),
            LegalStep.kind.in_(CLOCK_STEPS),
            LegalStep.date >= today - timedelta(days=longest),
        )
    )
    rows = session.execute(
        select(LegalStep, Case.team_id, Case.assigned_worker_id)
        .join(Case, Case.id == LegalStep.case_id)
        .where(LegalStep.case_id.in_(recent))
    ).all()
    for case_id, case_steps, recipients in _steps_by_case(rows, leads):
        for deadline in clock_deadlines(case_steps, today):
            due = _at_offsets(
                deadline.kind, deadline.step.id, case_id, deadline.date, recipients, dates, now
            )
            if due is not None:
                yield due


def _people(worker_id: int | None, leads: Iterable[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys([*([worker_id] if worker_id else []), *leads]))


def _leads_by_team(session: Session, team_ids: list[int]) -> dict[int, list[int]]:
    leads: dict[int, list[int]] = defaultdict(list)
    for user_id, team_id in session.execute(
        select(User.id, User.team_id).where(
            User.team_id.in_(team_ids), User.role == "lead", User.active.is_(True)
        )
    ):
        leads[team_id].append(user_id)
    return leads


def _insert(session: Session, model):
    """INSERT with ON CONFLICT for the database in use (both SQLite and PostgreSQL have it)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def _create(session: Session, due: _Due, now: datetime) -> int | None:
    """Insert the reminder unless it exists; the winner queues its deliveries. None: existed."""
    statement = (
        _insert(session, Reminder)
        .values(
            kind=due.kind,
            source_id=due.source_id,
            offset_days=due.offset_days,
            case_id=due.case_id,
            event_on=due.event_on,
            due_at=due.due_at,
            expires_at=due.expires_at,
            urgent=due.urgent,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["kind", "source_id", "offset_days"])
        .returning(Reminder.id)
    )
    reminder_id = session.execute(statement).scalar()
    if reminder_id is None:
        return None
    subscriptions = session.execute(
        select(PushSubscription.id, PushSubscription.user_id)
        .join(User, User.id == PushSubscription.user_id)
        .where(PushSubscription.user_id.in_(due.recipients), User.active.is_(True))
    ).all()
    if subscriptions:
        session.execute(
            _insert(session, PushDelivery)
            .values(
                [
                    {
                        "reminder_id": reminder_id,
                        "subscription_id": subscription_id,
                        "user_id": user_id,
                        "state": "pending",
                        "attempts": 0,
                        "next_attempt_at": due.due_at,
                    }
                    for subscription_id, user_id in subscriptions
                ]
            )
            .on_conflict_do_nothing(index_elements=["reminder_id", "subscription_id"])
        )
    return len(subscriptions)


# --- step 2: send ----------------------------------------------------------------------------


def claim_deliveries(
    session: Session, now: datetime, token: str, lease_seconds: int, limit: int = 20
) -> list[int]:
    """Claim up to `limit` due deliveries for this sender; their ids. Commits the claim."""
    claimable = (
        PushDelivery.state.in_(OPEN_DELIVERY_STATES),
        PushDelivery.next_attempt_at <= now,
        or_(PushDelivery.claimed_until.is_(None), PushDelivery.claimed_until < now),
    )
    ids = list(
        session.scalars(
            select(PushDelivery.id)
            .where(*claimable)
            .order_by(PushDelivery.next_attempt_at, PushDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer anyway
        )
    )
    if ids:
        # The conditions again: a row another sender claimed since is left alone.
        session.execute(
            update(PushDelivery)
            .where(PushDelivery.id.in_(ids), *claimable)
            .values(claim_token=token, claimed_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
    session.commit()
    if not ids:
        return []
    return list(
        session.scalars(
            select(PushDelivery.id)
            .where(PushDelivery.id.in_(ids), PushDelivery.claim_token == token)
            .order_by(PushDelivery.id)
        )
    )


def send_due(
    session: Session,
    sender: PushSender,
    now: datetime,
    *,
    lease_seconds: int = 300,
    max_attempts: int = 6,
) -> SendReport:
    """Schedule what is due, then send every due delivery this sender can claim."""
    report = SendReport()
    report.reminders, report.deliveries = schedule_reminders(session, now)
    token = secrets.token_hex(16)
    while True:
        claimed = claim_deliveries(session, now, token, lease_seconds)
        if not claimed:
            break
        for delivery_id in claimed:
            try:
                outcome = _deliver(session, sender, delivery_id, token, now, max_attempts)
            except Exception:  # noqa: BLE001 - one device's failure never stops the others
                session.rollback()
                outcome = _give_up(session, delivery_id, token)
            report.outcomes[outcome] += 1
    return report


def _give_up(session: Session, delivery_id: int, token: str) -> str:
    """Mark a delivery that could not be handled as failed (its claim released), so the
    loop goes on to the next device; commits."""
    delivery = session.get(PushDelivery, delivery_id)
    if delivery is None or delivery.claim_token != token:
        session.rollback()
        return "skipped"
    delivery.attempts += 1
    return _finish(session, delivery, "failed")


def _deliver(
    session: Session,
    sender: PushSender,
    delivery_id: int,
    token: str,
    now: datetime,
    max_attempts: int,
) -> str:
    """Send one claimed delivery and record the outcome; commits. Returns the new state."""
    delivery = session.get(PushDelivery, delivery_id)
    if delivery is None or delivery.claim_token != token:
        session.rollback()
        return "skipped"
    reminder = delivery.reminder
    subscription = delivery.subscription
    if subscription is None:
        return _finish(session, delivery, "gone")
    if now >= reminder.expires_at:
        return _finish(session, delivery, "expired")
    if not _still_relevant(session, reminder, now):
        return _finish(session, delivery, "cancelled")
    user = session.get(User, delivery.user_id)
    if user is None or not user.active:
        return _finish(session, delivery, "cancelled")
    if reminder.kind == "partner_action_due" and not _partner_still_sees(session, user, reminder):
        return _finish(session, delivery, "cancelled")  # consent withdrawn since, or moved on

    message = reminder_message(session, reminder, user, subscription.language, now)
    ttl = max(60, min(MAX_TTL_SECONDS, int((reminder.expires_at - now).total_seconds())))
    result = sender.send(
        subscription,
        json.dumps(message, ensure_ascii=False).encode(),
        ttl=ttl,
        urgency="high" if reminder.urgent else "normal",
        topic=message["tag"],
    )
    delivery.attempts += 1
    delivery.last_status = result.status
    if result.accepted:
        outcome = "sent"
        delivery.sent_at = now
        subscription.last_sent_at = now
    elif result.gone or result.permanent:
        outcome = "gone"
    elif result.retryable and delivery.attempts < max_attempts:
        wait = result.retry_after or 30 * 2**delivery.attempts
        delivery.next_attempt_at = _outside_quiet_hours(
            session, reminder, now + timedelta(seconds=min(wait, MAX_BACKOFF_SECONDS))
        )
        outcome = "retrying" if delivery.next_attempt_at < reminder.expires_at else "expired"
    else:
        outcome = "failed"
    session.add(
        PushAttempt(
            delivery_id=delivery.id,
            at=now,
            status_code=result.status,
            outcome=outcome,
            detail=result.error,
        )
    )
    if outcome == "gone":
        # The browser unsubscribed or the subscription expired: never send to it again.
        delivery.state = "gone"
        remove_subscriptions(session, [subscription.id])
    return _finish(session, delivery, outcome)


def _outside_quiet_hours(session: Session, reminder: Reminder, at: datetime) -> datetime:
    organisation = _organisation_of(session, reminder)
    if organisation is None:
        return at
    return out_of_quiet_hours(
        at,
        ZoneInfo(organisation.timezone),
        organisation.quiet_hours_start,
        organisation.quiet_hours_end,
    )


def _finish(session: Session, delivery: PushDelivery, state: str) -> str:
    delivery.state = state
    delivery.claim_token = None
    delivery.claimed_until = None
    session.commit()
    return state


def _still_relevant(session: Session, reminder: Reminder, now: datetime) -> bool:
    """A reminder about a case that closed, or a date since withdrawn, is not sent."""
    if reminder.case_id is not None:
        case = session.get(Case, reminder.case_id)
        if case is None or not case.is_open:
            return False
    if reminder.kind in DEADLINE_KINDS:
        step = session.get(LegalStep, reminder.source_id)
        if step is None:
            return False
        steps = list(session.scalars(select(LegalStep).where(LegalStep.case_id == step.case_id)))
        return any(s.id == step.id for s in live_deadlines(steps, step.date))
    if reminder.kind in CLOCK_DEADLINE_KINDS:
        step = session.get(LegalStep, reminder.source_id)
        if step is None:
            return False
        steps = list(session.scalars(select(LegalStep).where(LegalStep.case_id == step.case_id)))
        return any(d.step.id == step.id for d in clock_deadlines(steps, reminder.event_on))
    if reminder.kind == "route_published":
        route = session.get(Route, reminder.source_id)
        return route is not None and route.state == "published"
    if reminder.kind in ("action_due", "partner_action_due"):
        action = session.get(Action, reminder.source_id)
        return action is not None and action.status in ("agreed", "in_progress")
    return True


def _partner_still_sees(session: Session, user: User, reminder: Reminder) -> bool:
    """A partner person is told of their action only while the case is shared with them."""
    action = session.get(Action, reminder.source_id)
    case = session.get(Case, reminder.case_id) if reminder.case_id is not None else None
    return (
        action is not None
        and case is not None
        and action.partner_id == user.partner_id
        and partner_may_read(session, user, case)
    )


# --- the message -----------------------------------------------------------------------------


def reminder_message(
    session: Session, reminder: Reminder, user: User, language: str, now: datetime
) -> dict[str, str]:
    """Title, body, URL and tag: the kind, the days left and a case number, nothing personal.

    A lock screen is not private: no name, address, amount or note ever goes in here.
    """
    zone = _zone_for(session, reminder)
    days = (reminder.event_on - now.astimezone(zone).date()).days
    with force_locale(language):
        if reminder.kind == "hearing":
            title = _days_title(days, "hearing")
        elif reminder.kind == "eviction_scheduled":
            title = _days_title(days, "eviction")
        elif reminder.kind in CLOCK_DEADLINE_KINDS:
            title = _clock_title(days, reminder.kind)
        elif reminder.kind == "route_published":
            title = _(
                "Your route for %(day)s is ready", day=_short_day(reminder.event_on, language)
            )
        elif reminder.kind == "partner_action_due":
            title = (
                _("An action for you is due tomorrow")
                if days == 1
                else _("An action for you is due today")
            )
        else:
            title = _("An agreed action is due today")
        if reminder.case_id is not None:
            body = " · ".join(
                [_("Case %(number)s", number=reminder.case_id), *_when_and_where(session, reminder)]
            )
        else:
            body = _("Open Doorstep to see your visits")
    if reminder.kind == "route_published":
        url, tag = "/today", f"route-{reminder.event_on:%Y%m%d}"
    else:
        page = {"lead": "/cases/", "partner": "/partner/cases/"}.get(user.role, "/field/cases/")
        url = f"{page}{reminder.case_id}"
        short = {
            "hearing": "hearing",
            "eviction_scheduled": "eviction",
            "demand_expires": "demand",
            "earliest_petition": "notice",
        }.get(reminder.kind, "action")
        tag = f"case{reminder.case_id}-{short}"
    return {"title": title, "body": body, "url": url, "tag": tag}


def _when_and_where(session: Session, reminder: Reminder) -> list[str]:
    """The hour of a hearing or eviction and a hearing's court, for the lock screen: neither
    is the tenant's. An eviction's place is the home itself, so it never goes; nor does a
    court field that names the tenant's street and number or a part of their name."""
    if reminder.kind not in DEADLINE_KINDS:
        return []
    step = session.get(LegalStep, reminder.source_id)
    if step is None:
        return []
    parts = []
    if step.at_time is not None:
        # The same words as web.labels.clock_label: "at 10:00", "kl. 10.00".
        hours, minutes = f"{step.at_time:%H}", f"{step.at_time:%M}"
        parts.append(_("at %(hours)s:%(minutes)s", hours=hours, minutes=minutes))
    if reminder.kind == "hearing" and step.place and not _names_the_tenant(session, step):
        parts.append(step.place)
    return parts


def _names_the_tenant(session: Session, step: LegalStep) -> bool:
    household = step.case.tenancy.household
    place = f" {normalise_address(step.place)} "
    tokens = normalise_address(household.address).split()
    number = next((i for i, token in enumerate(tokens) if token[:1].isdigit()), len(tokens) - 1)
    street = " ".join(tokens[: number + 1])
    names = {word for word in normalise_address(household.name).split() if len(word) > 2}
    return bool(street and f" {street} " in place) or any(f" {n} " in place for n in names)


def _days_title(days: int, kind: str) -> str:
    if kind == "hearing":
        if days <= 0:
            return _("Hearing today")
        if days == 1:
            return _("Hearing tomorrow")
        return ngettext("Hearing in %(num)d day", "Hearing in %(num)d days", days)
    if days <= 0:
        return _("Eviction today")
    if days == 1:
        return _("Eviction tomorrow")
    return ngettext("Eviction in %(num)d day", "Eviction in %(num)d days", days)


def _clock_title(days: int, kind: str) -> str:
    """A clock deadline's title: the end of a påkrav's 14 days, or the earliest petition."""
    if kind == "demand_expires":
        if days <= 0:
            return _("The 14 days to pay end today")
        if days == 1:
            return _("The 14 days to pay end tomorrow")
        return ngettext(
            "The 14 days to pay end in %(num)d day", "The 14 days to pay end in %(num)d days", days
        )
    if days <= 0:
        return _("A petition may be filed today")
    if days == 1:
        return _("A petition may be filed tomorrow")
    return ngettext(
        "A petition may be filed in %(num)d day", "A petition may be filed in %(num)d days", days
    )


def _short_day(day: date, language: str) -> str:
    locale = {"nb": "nb_NO", "da": "da_DK"}.get(language, "en_GB")
    return format_date(day, "EEE d MMM", locale=locale)


def _organisation_of(session: Session, reminder: Reminder) -> Organisation | None:
    if reminder.case_id is not None:
        team_id = session.scalar(select(Case.team_id).where(Case.id == reminder.case_id))
    else:
        team_id = session.scalar(select(Route.team_id).where(Route.id == reminder.source_id))
    return organisation_of(session, team_id)


def _zone_for(session: Session, reminder: Reminder) -> ZoneInfo:
    organisation = _organisation_of(session, reminder)
    return zone_named(organisation.timezone if organisation else None)
