"""The audit log: one append-only line per read or change of personal data."""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from ..domain.numbers import whole_number
from ..models import AuditEvent, Case, Tenancy, User, UserSession


def record_event(
    session: Session,
    user: User | None,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    address: str = "",
    detail: str = "",
) -> AuditEvent:
    """Add an audit line; the caller's commit makes it durable with the change it describes."""
    event = AuditEvent(
        user_id=user.id if user is not None else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        address=ip_or_invalid(address),
        detail=detail[:500],
        session_id=getattr(user, "session_id", None),
    )
    session.add(event)
    return event


_OPERATOR = re.compile(r"cli:[A-Za-z0-9._@-]{1,40}")


def ip_or_invalid(address: str) -> str:
    """The address as the log keeps it: an IP address, "invalid" for anything else (behind a
    proxy the client may forge X-Forwarded-For, e.g. with a spreadsheet formula), "" for none."""
    if not address:
        return ""
    if _OPERATOR.fullmatch(address):
        return address  # the command line's operator (usecases.Actor.command_line)
    try:
        return str(ipaddress.ip_address(address.strip()))[:64]
    except ValueError:
        return "invalid"


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit log search; every field optional."""

    user_id: int | None = None
    case_id: int | None = None
    action: str = ""
    day_from: date | None = None
    day_to: date | None = None


def parse_audit_query(args: Mapping[str, str]) -> tuple[AuditQuery, dict[str, str]]:
    """Filters from a form or query string; errors name the field and the value."""
    errors: dict[str, str] = {}

    def number(name: str) -> int | None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        value = whole_number(raw, 0, 999_999_999)
        if value is not None:
            return value
        errors[name] = f"{name}: {raw[:40]!r} is not a number"
        return None

    def day(name: str) -> date | None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = f"{name}: {raw[:40]!r} is not a date (YYYY-MM-DD)"
            return None

    action = (args.get("action") or "").strip()[:40]
    query = AuditQuery(number("user"), number("case"), action, day("from"), day("to"))
    return query, errors


def _scope(viewer: User):
    """What the viewer may search: a data protection officer all of it; a lead the events on
    their team's cases and households and the events of their team's people."""
    if viewer.role == "dpo" or viewer.team_id is None:
        return None
    team_cases = select(cast(Case.id, String)).where(Case.team_id == viewer.team_id)
    team_households = (
        select(cast(Tenancy.household_id, String))
        .join(Case, Case.tenancy_id == Tenancy.id)
        .where(Case.team_id == viewer.team_id)
    )
    team_people = select(User.id).where(User.team_id == viewer.team_id)
    return or_(
        and_(AuditEvent.object_type == "case", AuditEvent.object_id.in_(team_cases)),
        and_(AuditEvent.object_type == "household", AuditEvent.object_id.in_(team_households)),
        AuditEvent.user_id.in_(team_people),
    )


def search_events(
    session: Session,
    viewer: User,
    query: AuditQuery,
    *,
    zone: ZoneInfo,
    limit: int | None = 100,
    offset: int = 0,
) -> tuple[list[tuple[AuditEvent, User | None, str]], int]:
    """Events matching the filters within the viewer's scope, newest first, and their count;
    each with who and from which device (the login session and its browser)."""
    conditions = []
    scope = _scope(viewer)
    if scope is not None:
        conditions.append(scope)
    if query.user_id is not None:
        conditions.append(AuditEvent.user_id == query.user_id)
    if query.case_id is not None:
        conditions.append(
            and_(AuditEvent.object_type == "case", AuditEvent.object_id == str(query.case_id))
        )
    if query.action:
        conditions.append(AuditEvent.action == query.action)
    if query.day_from is not None:
        start = datetime.combine(query.day_from, time(0), zone).astimezone(UTC)
        conditions.append(AuditEvent.at >= start)
    if query.day_to is not None:
        end = datetime.combine(query.day_to + timedelta(days=1), time(0), zone).astimezone(UTC)
        conditions.append(AuditEvent.at < end)
    total = session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    statement = (
        select(AuditEvent, User, UserSession.user_agent)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .outerjoin(UserSession, UserSession.id == AuditEvent.session_id)
        .where(*conditions)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset(offset)
    )
    if limit is not None:
        statement = statement.limit(limit)
    rows = [
        (event, user, device_of(event.session_id, agent))
        for event, user, agent in session.execute(statement)
    ]
    return rows, total


def device_of(session_id: int | None, user_agent: str | None) -> str:
    """The device an event came from, as the audit log shows it: the login session's number
    and the browser it announced (each phone or PC logs in with a session of its own)."""
    if session_id is None:
        return ""
    return f"session {session_id}: {user_agent or '?'}"[:200]


def audit_csv(rows: list[tuple[AuditEvent, User | None, str]], zone: ZoneInfo) -> str:
    """The events as CSV (UTF-8, comma-separated, a header row), times in the zone given."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time", "user_id", "user", "role", "action", "object_type", "object_id",
                     "address", "device", "detail"])  # fmt: skip
    for event, user, device in rows:
        row = [
            event.at.astimezone(zone).isoformat(timespec="seconds"),
            event.user_id or "",
            user.email if user else "",
            user.role if user else "",
            event.action,
            event.object_type,
            event.object_id,
            event.address,
            device,
            event.detail,
        ]
        writer.writerow([_cell(value) if isinstance(value, str) else value for value in row])
    return out.getvalue()


def _cell(text: str) -> str:
    """Keep a spreadsheet from reading a cell as a formula (CSV injection): every text cell, as
    a line stored by an earlier version (or any column added later) may begin like one."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
