"""Apply records sent from a phone's outbox: each at most once, each answered on its own."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.cases import bump_version, claim_version
from ..domain.households import (
    HOUSEHOLD_FIELD_WORDS,
    PHONE_EDITABLE,
    HouseholdValueError,
    clean_value,
)
from ..domain.outbox import MAX_SIGNATURE_CHARS, MAX_TEXT
from ..domain.wording import N_, Wording
from ..models import (
    ACTION_OWNERS,
    ACTION_STATUSES,
    CONSENT_METHODS,
    CONSENT_SCOPES,
    CONSENT_STATES,
    NEEDS,
    VISIT_CHANNELS,
    VISIT_RESULTS,
    Action,
    ActionUpdate,
    Case,
    CaseConflict,
    CaseEdit,
    CaseEvent,
    Consent,
    ConsentText,
    Need,
    Partner,
    User,
    Visit,
)
from ..models.agreements import BenefitDeduction, PaymentPlan
from ..models.types import utcnow
from . import agreements
from .access import may_change

RECORD_MODELS = {
    "visit": Visit,
    "consent": Consent,
    "need": Need,
    "action": Action,
    "case_edit": CaseEdit,
    "action_status": ActionUpdate,
    "payment_plan": PaymentPlan,
    "benefit_deduction": BenefitDeduction,
}
# What one worker may send in 24 hours: a busy day is about a hundred records; beyond these a
# runaway phone or a stolen session fills the disk. Refused records stay on the phone.
MAX_RECORDS_PER_DAY = 1_000
MAX_SIGNATURE_CHARS_PER_DAY = 3_000_000
# Dates a record may name (a follow-up, a due date) and how old a record may say it is.
OLDEST_RECORD = timedelta(days=366)
FURTHEST_DATE = timedelta(days=2 * 366)


# The names of a record's fields in a message the phone shows next to the record (the
# `field` of the answer stays the code).
FIELD_WORDS = {
    **HOUSEHOLD_FIELD_WORDS,
    "uuid": N_("Record number"),
    "type": N_("Kind of record"),
    "user": N_("User"),
    "case_id": N_("Case"),
    "data": N_("Record"),
    "recorded_at": N_("Time recorded"),
    "channel": N_("Contact by"),
    "result": N_("Result"),
    "notes": N_("Notes"),
    "next_step": N_("Next step"),
    "follow_up_on": N_("Follow-up date"),
    "state": N_("Consent"),
    "method": N_("How consent was given"),
    "text_id": N_("Consent text"),
    "scopes": N_("Partners"),
    "signature": N_("Signature"),
    "witness": N_("Witness"),
    "need": N_("Need"),
    "note": N_("Note"),
    "description": N_("Description"),
    "owner": N_("Who does it"),
    "partner_id": N_("Partner"),
    "due_on": N_("Due date"),
    "status": N_("Status"),
    "base_version": N_("Version"),
    "changes": N_("Changes"),
    "action_id": N_("Action"),
}
# A plan's or a deduction's fields (their own messages name them: services.agreements); the
# names above stay for the records that had them first ("state" is a consent's).
FIELD_WORDS = {**agreements.FIELD_WORDS, **FIELD_WORDS}


def field_word(name: str) -> Wording:
    """A record field's name as the phone shows it, in the reader's language."""
    return Wording(FIELD_WORDS.get(name, name))


@dataclass
class SyncResult:
    """The answer for one record: applied, duplicate, conflict (kept for the lead) or rejected.
    The message is worded in the reader's language when the answer is sent (`as_dict`)."""

    uuid: str
    status: str
    message: str | Wording = ""
    field: str = ""

    def as_dict(self) -> dict:
        return {
            "uuid": self.uuid,
            "status": self.status,
            "message": str(self.message),
            "field": self.field,
        }


def _answer(client_uuid: str, field: str, message: str, **values) -> SyncResult:
    """A rejection naming the field (`%(field)s` in the message is its name)."""
    wording = Wording(message, field=field_word(field), **values)
    return SyncResult(client_uuid, "rejected", wording, field)


ALREADY_RECEIVED = N_("already received")


class Rejected(ValueError):
    """The record cannot be applied as sent; names the field. The message is English with
    %(name)s values (`%(field)s`: the field's name), or a Wording."""

    def __init__(self, field: str, message: str | Wording, **values) -> None:
        if not isinstance(message, Wording):
            message = Wording(message, field=field_word(field), **values)
        super().__init__(message)
        self.field = field


def _text(data: dict, name: str, required: bool = False, limit: int = MAX_TEXT) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise Rejected(name, N_("%(field)s must be text"))
    value = value.replace("\x00", "").strip()
    if required and not value:
        raise Rejected(name, N_("%(field)s is missing"))
    if len(value) > limit:
        raise Rejected(name, N_("%(field)s is longer than %(limit)s characters"), limit=limit)
    return value


def _choice(data: dict, name: str, choices: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in choices:
        problem = N_("%(field)s: %(value)s is not one of %(choices)s")
        raise Rejected(name, problem, value=repr(value), choices=", ".join(choices))
    return value


def _date(data: dict, name: str) -> date | None:
    value = data.get(name) or ""
    if not value:
        return None
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        problem = N_("%(field)s: %(value)s is not a date (YYYY-MM-DD)")
        raise Rejected(name, problem, value=repr(str(value)[:40])) from None
    today = date.today()
    if not today - OLDEST_RECORD <= day <= today + FURTHEST_DATE:
        problem = N_("%(field)s: %(value)s is not a plausible date")
        raise Rejected(name, problem, value=day.isoformat())
    return day


def _moment(value: object, now: datetime) -> datetime:
    """When the phone says it happened; a clock far in the future is not believed."""
    if not value:
        return now
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        problem = N_("%(field)s: %(value)s is not a time")
        raise Rejected("recorded_at", problem, value=repr(value)) from None
    if moment.tzinfo is None:
        raise Rejected("recorded_at", N_("%(field)s must carry a time zone"))
    if moment < now - OLDEST_RECORD:
        problem = N_("%(field)s: %(value)s is more than a year ago")
        raise Rejected("recorded_at", problem, value=repr(str(value)[:40]))
    return min(moment, now + timedelta(minutes=5))


def sent_today(session: Session, worker: User, now: datetime) -> tuple[int, int]:
    """How many records, and how many characters of signatures, the worker's phones sent in
    the last 24 hours."""
    since = now - timedelta(hours=24)
    records = 0
    by_worker = [(m, m.worker_id) for m in (Visit, Consent, Need, Action, ActionUpdate)]
    by_worker += [(m, m.created_by_id) for m in (PaymentPlan, BenefitDeduction)]
    for model, author in by_worker:
        records += (
            session.scalar(
                select(func.count())
                .select_from(model)
                .where(author == worker.id, model.received_at >= since)
            )
            or 0
        )
    signatures = session.scalar(
        select(func.coalesce(func.sum(func.length(Consent.signature)), 0)).where(
            Consent.worker_id == worker.id, Consent.received_at >= since
        )
    )
    return records, int(signatures or 0)


def _is_id(value: object) -> bool:
    """A database id as JSON may carry it: a plain int in range (true is not 1)."""
    return type(value) is int and 0 < value < 2**31


def prefetch(session: Session, records: list) -> tuple[set[tuple[str, str]], list[Case]]:
    """For a batch: the (type, uuid) pairs already in the register, in one query per type,
    and the cases the records name, loaded into the session (so each record costs no lookup).
    A record that arrives in a parallel request after this is caught by the unique constraint.
    Keep the returned cases referenced while applying: the session holds them only weakly.
    """
    by_kind: dict[str, set[str]] = {}
    case_ids: set[int] = set()
    for record in records:
        kind = record.get("type") if isinstance(record, dict) else None
        if not isinstance(kind, str) or kind not in RECORD_MODELS:
            continue
        try:
            by_kind.setdefault(kind, set()).add(str(uuid_module.UUID(str(record.get("uuid", "")))))
        except ValueError:
            continue
        if _is_id(record.get("case_id")):
            case_ids.add(record["case_id"])
    known: set[tuple[str, str]] = set()
    for kind, uuids in by_kind.items():
        models = [RECORD_MODELS[kind]] + ([CaseConflict] if kind == "case_edit" else [])
        for model in models:
            found = session.scalars(select(model.client_uuid).where(model.client_uuid.in_(uuids)))
            known |= {(kind, value) for value in found}
    cases = list(session.scalars(select(Case).where(Case.id.in_(case_ids)))) if case_ids else []
    return known, cases


def already_applied(session: Session, kind: str, client_uuid: str) -> bool:
    """True when a record with this phone UUID is in the register (or kept as a conflict)."""
    model = RECORD_MODELS[kind]
    if session.scalar(select(model.id).where(model.client_uuid == client_uuid)) is not None:
        return True
    if kind == "case_edit":
        found = select(CaseConflict.id).where(CaseConflict.client_uuid == client_uuid)
        return session.scalar(found) is not None
    return False


def apply_record(
    session: Session,
    worker: User,
    record: object,
    now: datetime | None = None,
    known: set[tuple[str, str]] | None = None,
    batched: bool = False,
) -> SyncResult:
    """Validate and apply one outbox record; the caller commits. `known` is what prefetch()
    found already applied in this batch (None: look it up here). batched: the caller commits
    the whole batch as one, so records are not flushed one by one (any error fails the batch
    anyway, and one flush at the commit writes the inserts together); otherwise each record
    is flushed, so a database error belongs to it."""
    now = now or utcnow()
    if not isinstance(record, dict):
        return SyncResult("", "rejected", Wording(N_("a record must be an object")), "")
    raw_uuid = str(record.get("uuid", ""))
    try:
        client_uuid = str(uuid_module.UUID(raw_uuid))
    except ValueError:
        problem = N_("%(field)s: %(value)s is not a UUID")
        return _answer(raw_uuid[:40], "uuid", problem, value=repr(raw_uuid[:40]))
    kind = record.get("type")
    if not isinstance(kind, str) or kind not in RECORD_MODELS:
        problem = N_("%(field)s: %(value)s is not known")
        return _answer(client_uuid, "type", problem, value=repr(kind))
    if (
        (kind, client_uuid) in known
        if known is not None
        else already_applied(session, kind, client_uuid)
    ):
        return SyncResult(client_uuid, "duplicate", Wording(ALREADY_RECEIVED))
    author = record.get("user")
    if author is not None and author != worker.id:
        problem = N_("this record was made by another user; they must send it")
        return _answer(client_uuid, "user", problem)
    case_id = record.get("case_id")
    case = session.get(Case, case_id) if _is_id(case_id) else None
    if case is None:
        problem = N_("%(field)s: %(value)s not found")
        return _answer(client_uuid, "case_id", problem, value=repr(case_id))
    data = record.get("data")
    if not isinstance(data, dict):
        return _answer(client_uuid, "data", N_("%(field)s must be an object"))
    try:
        at = _moment(record.get("recorded_at"), now)
        if not may_change(session, worker, case, recorded_at=at):
            problem = N_(
                "this case is not yours or on your route (any more): it stays on this phone; "
                "show it to your team lead"
            )
            return _answer(client_uuid, "case_id", problem)
        handler = _HANDLERS[kind]
        return handler(session, worker, case, client_uuid, data, at, batched)
    except Rejected as rejected:
        return SyncResult(client_uuid, "rejected", rejected.args[0], rejected.field)


def _flush(session: Session, batched: bool) -> None:
    if not batched:
        session.flush()


def _visit(session, worker, case, client_uuid, data, at, batched) -> SyncResult:
    visit = Visit(
        client_uuid=client_uuid,
        case_id=case.id,
        worker_id=worker.id,
        channel=_choice(data, "channel", VISIT_CHANNELS),
        result=_choice(data, "result", VISIT_RESULTS),
        notes=_text(data, "notes"),
        next_step=_text(data, "next_step", limit=1000),
        follow_up_on=_date(data, "follow_up_on"),
        occurred_at=at,
    )
    session.add(visit)
    # A visit moves the case along but is not an edit of its fields: no version bump, so a
    # colleague's offline edit of the phone number does not turn into a false conflict.
    if visit.result == "met":
        case.last_contact_at = max(filter(None, [case.last_contact_at, at]))
        if case.status in ("new", "attempting_contact"):
            case.status = "in_contact"
    elif case.status == "new":
        case.status = "attempting_contact"
    _flush(session, batched)
    # The priority (days without contact) is refreshed once per sync request, by the caller.
    return SyncResult(client_uuid, "applied")


def _consent(session, worker, case, client_uuid, data, at, batched) -> SyncResult:
    state = _choice(data, "state", CONSENT_STATES)
    method = _choice(data, "method", CONSENT_METHODS)
    language = _choice(data, "language", ("da", "nb", "en"))
    scopes = data.get("scopes") or []
    if not isinstance(scopes, list) or any(s not in CONSENT_SCOPES for s in scopes):
        problem = N_("%(field)s: %(value)s holds an unknown partner kind")
        raise Rejected("scopes", problem, value=repr(scopes))
    if state == "given" and not scopes:
        raise Rejected("scopes", N_("%(field)s: tick at least one partner the consent covers"))
    signature = data.get("signature") or ""
    if method == "signature" and state != "withdrawn":
        if not isinstance(signature, str) or not signature.startswith("data:image/png;base64,"):
            raise Rejected("signature", N_("%(field)s: the tenant's signature is missing"))
        if len(signature) > MAX_SIGNATURE_CHARS:
            raise Rejected("signature", N_("%(field)s: the image is too large"))
    witness = _text(data, "witness", required=method == "verbal_witness", limit=200)
    text_id = data.get("text_id")
    text = session.get(ConsentText, text_id) if _is_id(text_id) else None
    if text is None or text.language != language:
        problem = N_("%(field)s: %(value)s is not a consent text in %(language)s")
        raise Rejected("text_id", problem, value=repr(text_id), language=language)
    session.add(
        Consent(
            client_uuid=client_uuid,
            case_id=case.id,
            worker_id=worker.id,
            state=state,
            scopes=sorted(set(scopes)),
            method=method,
            witness=witness,
            text_id=text.id,
            language=language,
            signature=signature if isinstance(signature, str) else "",
            recorded_at=at,
        )
    )
    _flush(session, batched)
    return SyncResult(client_uuid, "applied")


def _need(session, worker, case, client_uuid, data, at, batched) -> SyncResult:
    session.add(
        Need(
            client_uuid=client_uuid,
            case_id=case.id,
            worker_id=worker.id,
            need=_choice(data, "need", NEEDS),
            note=_text(data, "note", limit=1000),
            recorded_at=at,
        )
    )
    _flush(session, batched)
    return SyncResult(client_uuid, "applied")


def _action(session, worker, case, client_uuid, data, at, batched) -> SyncResult:
    partner_id = data.get("partner_id") or None
    if partner_id is not None:
        if not (_is_id(partner_id) and session.get(Partner, partner_id)):
            problem = N_("%(field)s: %(value)s is not a partner")
            raise Rejected("partner_id", problem, value=repr(partner_id))
    need = data.get("need") or None
    if need is not None and need not in NEEDS:
        raise Rejected("need", N_("%(field)s: %(value)s is not in the catalogue"), value=repr(need))
    session.add(
        Action(
            client_uuid=client_uuid,
            case_id=case.id,
            worker_id=worker.id,
            description=_text(data, "description", required=True, limit=1000),
            need=need,
            owner=_choice(data, "owner", ACTION_OWNERS),
            partner_id=partner_id,
            due_on=_date(data, "due_on"),
            status=data.get("status") if data.get("status") in ACTION_STATUSES else "agreed",
            recorded_at=at,
        )
    )
    _flush(session, batched)
    return SyncResult(client_uuid, "applied")


def _clean_household_changes(changes: object) -> dict:
    """The phone's edit of household details, under the same rules as the lead's correction."""
    if not isinstance(changes, dict) or not changes:
        raise Rejected("changes", N_("%(field)s must name at least one field"))
    clean: dict = {}
    for name, value in changes.items():
        if name not in PHONE_EDITABLE:
            problem = N_("%(field)s: %(value)s cannot be edited from the phone")
            raise Rejected("changes", problem, value=repr(str(name)[:40]))
        try:
            clean[name] = clean_value(name, value)
        except HouseholdValueError as error:
            raise Rejected(name, error.args[0]) from None
    return clean


def _case_edit(session, worker, case, client_uuid, data, at, batched) -> SyncResult:
    base = data.get("base_version")
    if not _is_id(base):
        raise Rejected("base_version", N_("%(field)s is missing"))
    changes = _clean_household_changes(data.get("changes"))
    household = case.tenancy.household
    current = {name: getattr(household, name) for name in changes}
    # Compare-and-set: of two edits based on the same version, exactly one wins, even when
    # they arrive at the same moment on different app servers.
    if not claim_version(session, case.id, base):
        # The same record sent twice at once (the page and the service worker, two tabs):
        # the first copy has bumped the version; the second is that copy, not a conflict.
        if already_applied(session, "case_edit", client_uuid):
            return SyncResult(client_uuid, "duplicate", Wording(ALREADY_RECEIVED))
        session.add(
            CaseConflict(
                client_uuid=client_uuid,
                case_id=case.id,
                worker_id=worker.id,
                base_version=base,
                proposed=changes,
                current=current,
            )
        )
        session.flush()
        problem = N_("the case changed meanwhile; your edit is kept for your lead")
        return SyncResult(client_uuid, "conflict", Wording(problem))
    for name, value in changes.items():
        setattr(household, name, value)
    session.add(
        CaseEdit(
            client_uuid=client_uuid,
            case_id=case.id,
            worker_id=worker.id,
            changes=changes,
            applied_at=at,
        )
    )
    session.add(
        CaseEvent(
            case_id=case.id, user_id=worker.id, kind="edited", detail={"fields": sorted(changes)}
        )
    )
    session.flush()
    return SyncResult(client_uuid, "applied")


def _action_status(session, worker, case, client_uuid, data, at, batched) -> SyncResult:
    action_id = data.get("action_id")
    action = session.get(Action, action_id) if _is_id(action_id) else None
    if action is None or action.case_id != case.id:
        problem = N_("%(field)s: %(value)s is not an action of this case")
        raise Rejected("action_id", problem, value=repr(action_id))
    status = _choice(data, "status", ACTION_STATUSES)
    latest = session.scalar(
        select(func.max(ActionUpdate.recorded_at)).where(ActionUpdate.action_id == action.id)
    )
    session.add(
        ActionUpdate(
            client_uuid=client_uuid,
            action_id=action.id,
            worker_id=worker.id,
            status=status,
            recorded_at=at,
        )
    )
    # Offline phones deliver late: an update made earlier than the last one applied is kept
    # in the history but does not turn the status back.
    if latest is None or at >= latest:
        action.status = status
    session.flush()
    return SyncResult(client_uuid, "applied")


def _payment_plan(session, worker, case, client_uuid, data, at, batched) -> SyncResult:
    try:
        today = at.date()
        instalments = agreements.monthly_instalments(
            data.get("instalment_amount"), data.get("first_due_on"),
            data.get("instalment_count"), today,
        )  # fmt: skip
        agreements.create_plan(
            session, case, worker, arrears_at_start=data.get("arrears_at_start"),
            instalments=instalments, note=data.get("note", ""), client_uuid=client_uuid,
            recorded_at=at, today=today,
        )  # fmt: skip
    except agreements.AgreementError as error:
        raise Rejected(error.field, error.args[0]) from None
    return SyncResult(client_uuid, "applied")


def _benefit_deduction(session, worker, case, client_uuid, data, at, batched) -> SyncResult:
    try:
        agreements.create_deduction(
            session, case, worker, worker.organisation_country,
            benefit=data.get("benefit"), amount=data.get("amount"),
            starts_on=data.get("starts_on"), state=data.get("state") or "applied",
            pending_until=data.get("pending_until") or None,
            confirmed_by=data.get("confirmed_by") or "", note=data.get("note", ""),
            client_uuid=client_uuid, recorded_at=at, today=at.date(),
        )  # fmt: skip
    except agreements.AgreementError as error:
        raise Rejected(error.field, error.args[0]) from None
    return SyncResult(client_uuid, "applied")


_HANDLERS = {
    "visit": _visit,
    "consent": _consent,
    "need": _need,
    "action": _action,
    "case_edit": _case_edit,
    "action_status": _action_status,
    "payment_plan": _payment_plan,
    "benefit_deduction": _benefit_deduction,
}


def open_conflicts(session: Session, team_id: int | None) -> list[CaseConflict]:
    """Offline edits waiting for the lead to decide."""
    query = (
        select(CaseConflict)
        .join(Case, CaseConflict.case_id == Case.id)
        .where(CaseConflict.resolved_at.is_(None))
    )
    if team_id is not None:
        query = query.where((Case.team_id == team_id) | Case.team_id.is_(None))
    return list(session.scalars(query.order_by(CaseConflict.created_at)))


def resolve_conflict(session: Session, conflict: CaseConflict, accept: bool, lead: User) -> None:
    """The lead keeps the register's value or takes the worker's; either way it is recorded."""
    case = session.get(Case, conflict.case_id)
    if accept:
        household = case.tenancy.household
        for name, value in conflict.proposed.items():
            setattr(household, name, value)
        bump_version(case)
    conflict.resolution = "accepted" if accept else "kept"
    conflict.resolved_at = utcnow()
    conflict.resolved_by_id = lead.id
    session.add(
        CaseEvent(
            case_id=case.id,
            user_id=lead.id,
            kind="conflict_resolved",
            detail={"accepted": accept, "fields": sorted(conflict.proposed)},
        )
    )
    session.flush()
