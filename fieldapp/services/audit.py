"""The audit log: one append-only line per read or change of personal data."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import AuditEvent, User


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
        address=address[:64],
        detail=detail[:500],
    )
    session.add(event)
    return event
