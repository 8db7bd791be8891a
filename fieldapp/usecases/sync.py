"""A phone's outbox arriving: the policy of how its records are applied, for /sync.

The common case, fast: every record applies cleanly, so all go in one transaction and one
commit. As soon as one does not, that transaction is rolled back and the records go one by
one, each in its own, so one bad record never blocks the others. Nothing is acknowledged to
the phone before its commit. Savepoints per record were measured and saved nothing, and on
SQLite a savepoint opens the transaction before its reads, so it fails at once when another
writer is busy instead of waiting its turn.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from ..domain.wording import N_, Wording
from ..models.types import utcnow
from ..services.audit import record_event
from ..services.sync import (
    ALREADY_RECEIVED,
    MAX_RECORDS_PER_DAY,
    MAX_SIGNATURE_CHARS_PER_DAY,
    SyncResult,
    apply_record,
    prefetch,
    sent_today,
)
from ..services.triage import refresh_priorities
from . import Actor, Refused, UnitOfWork

log = logging.getLogger(__name__)
SENDERS = ("worker", "lead")
OVER_QUOTA = N_(
    "more records than a day's work arrived from your phones today; this one stays on this "
    "phone: tell your team lead"
)
NOT_STORED = N_("a value in it could not be stored; it stays on this phone: tell your team lead")


def _audit(uow: UnitOfWork, actor: Actor, record: dict, result: SyncResult) -> None:
    record_event(
        uow.session,
        actor.user,
        "sync",
        str(record.get("type", ""))[:40],
        str(record.get("case_id", ""))[:64],
        actor.address,
        result.status,
    )


def _signature_chars(record: object) -> int:
    if isinstance(record, dict) and isinstance(record.get("data"), dict):
        signature = record["data"].get("signature")
        return len(signature) if isinstance(signature, str) else 0
    return 0


def apply_outbox(
    session: Session, actor: Actor, records: list, now: datetime | None = None
) -> list[SyncResult]:
    """Apply a phone's records for the actor (a worker or lead); one answer per record.
    Records beyond the day's quota are rejected (they stay on the phone). Raises
    OperationalError when the database is busy or gone: the phone sends again."""
    if actor.role not in SENDERS or actor.user is None:
        raise Refused("Only workers and leads send records from the field.")
    now = now or utcnow()
    known, _cases = prefetch(session, records)  # the cases stay loaded while applying
    sent, signatures = sent_today(session, actor.user, now)
    allowed: list[bool] = []
    for record in records:
        signatures += _signature_chars(record)
        sent += 1
        allowed.append(sent <= MAX_RECORDS_PER_DAY and signatures <= MAX_SIGNATURE_CHARS_PER_DAY)
    results = None
    if all(allowed):
        results = _all_at_once(session, actor, records, known, now)
    if results is None:
        results = [
            _one(session, actor, record, known, now)
            if ok
            else SyncResult(_uuid(record), "rejected", Wording(OVER_QUOTA), "quota")
            for record, ok in zip(records, allowed, strict=True)
        ]
    visited = sorted(
        {
            record["case_id"]
            for record, result in zip(records, results, strict=True)
            if result.status == "applied" and record.get("type") == "visit"
        }
    )
    if visited:
        # Contact changes the priority; once per request rather than once per record.
        with UnitOfWork(session) as uow:
            refresh_priorities(uow.session, visited)
    return results


def _uuid(record: object) -> str:
    return str(record.get("uuid", ""))[:40] if isinstance(record, dict) else ""


def _all_at_once(session, actor, records, known, now) -> list[SyncResult] | None:
    results: list[SyncResult] = []
    try:
        with UnitOfWork(session) as uow:
            for record in records:
                result = apply_record(
                    session, actor.user, record, now=now, known=known, batched=True
                )
                if result.status not in ("applied", "conflict"):
                    raise _Fallback
                _audit(uow, actor, record, result)
                results.append(result)
    except _Fallback:
        return None
    except OperationalError:
        raise  # the database is busy or gone: the request fails and the phone sends again
    except (SQLAlchemyError, ValueError, OverflowError):
        return None
    return results


class _Fallback(Exception):
    """One record of the batch does not apply: roll back, go one by one."""


def _one(session, actor, record, known, now) -> SyncResult:
    try:
        with UnitOfWork(session) as uow:
            result = apply_record(session, actor.user, record, now=now, known=known)
            if result.status not in ("applied", "conflict"):
                raise _Refusal(result)
            _audit(uow, actor, record, result)
            session.flush()
        return result
    except _Refusal as refusal:
        return refusal.result
    except IntegrityError:
        # The same record arrived in a parallel request a moment ago (a double tap).
        return SyncResult(_uuid(record), "duplicate", Wording(ALREADY_RECEIVED))
    except OperationalError:
        raise
    except (SQLAlchemyError, ValueError, OverflowError) as error:
        # A value the database cannot hold: refuse the record, keep serving the rest. The
        # message names the kind of problem only; the values may be personal data.
        log.warning("sync: record refused by the database: %s", type(error).__name__)
        return SyncResult(_uuid(record), "rejected", Wording(NOT_STORED), "data")


class _Refusal(Exception):
    def __init__(self, result: SyncResult) -> None:
        self.result = result
