"""The tenant's right of access (GDPR Art. 15): everything the register holds on a household,
as one document a person can read and a machine can process.

`household_record` gathers it from every table that refers to the household, its tenancies or
their cases; the page and the JSON file are two renderings of the same dict, so they cannot
disagree. Amounts are in minor units (øre) in the JSON and formatted on the page.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    Action,
    ActionUpdate,
    ArrearsRecord,
    Case,
    CaseConflict,
    CaseEdit,
    CaseEvent,
    Consent,
    ConsentText,
    Household,
    ImportBatch,
    Landlord,
    LegalStep,
    MeetingItem,
    Need,
    Partner,
    Tenancy,
    User,
    Visit,
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in names}


def household_record(session: Session, household: Household, now: datetime) -> dict[str, Any]:
    """Everything held on the household, newest facts included; see the module docstring."""
    tenancies = list(session.scalars(select(Tenancy).where(Tenancy.household_id == household.id)))
    tenancy_ids = [t.id for t in tenancies]
    cases = list(session.scalars(select(Case).where(Case.tenancy_id.in_(tenancy_ids))))
    case_ids = [c.id for c in cases]
    names = dict(session.execute(select(User.id, User.name)).all())
    landlords = dict(session.execute(select(Landlord.id, Landlord.name)).all())
    partners = dict(session.execute(select(Partner.id, Partner.name)).all())

    def by_case(model, order) -> dict[int, list]:
        grouped: dict[int, list] = {case_id: [] for case_id in case_ids}
        for item in session.scalars(
            select(model).where(model.case_id.in_(case_ids)).order_by(order)
        ):
            grouped[item.case_id].append(item)
        return grouped

    steps = by_case(LegalStep, LegalStep.date)
    visits = by_case(Visit, Visit.occurred_at)
    needs = by_case(Need, Need.recorded_at)
    actions = by_case(Action, Action.recorded_at)
    consents = by_case(Consent, Consent.recorded_at)
    events = by_case(CaseEvent, CaseEvent.at)
    edits = by_case(CaseEdit, CaseEdit.applied_at)
    conflicts = by_case(CaseConflict, CaseConflict.created_at)
    items = by_case(MeetingItem, MeetingItem.id)
    action_ids = [a.id for group in actions.values() for a in group]
    updates: dict[int, list] = {}
    for update in session.scalars(
        select(ActionUpdate).where(ActionUpdate.action_id.in_(action_ids))
    ):
        updates.setdefault(update.action_id, []).append(update)
    texts = {t.id: t for t in session.scalars(select(ConsentText))}
    records = list(
        session.scalars(
            select(ArrearsRecord)
            .where(ArrearsRecord.tenancy_id.in_(tenancy_ids))
            .order_by(ArrearsRecord.as_of)
        )
    )
    batch_ids = {r.batch_id for r in records if r.batch_id}
    batches = {
        b.id: b for b in session.scalars(select(ImportBatch).where(ImportBatch.id.in_(batch_ids)))
    }

    return {
        "produced_at": now.isoformat(),
        "controller": "the municipality running this Doorstep register",
        "purpose": "preventing evictions: outreach, advice and coordination with partners",
        "household": _row(
            household, "id", "name", "address", "postcode", "town", "phone", "language",
            "needs_interpreter", "adults", "children", "lat", "lon", "geo_source", "created_at",
        ),
        "tenancies": [
            {
                **_row(
                    t, "id", "reference", "monthly_rent", "current_arrears",
                    "months_in_arrears", "arrears_as_of", "created_at",
                ),
                "landlord": landlords.get(t.landlord_id, ""),
                "arrears_history": [
                    {
                        **_row(r, "as_of", "amount", "months_in_arrears", "monthly_rent"),
                        "source": _source(batches.get(r.batch_id)),
                    }
                    for r in records
                    if r.tenancy_id == t.id
                ],
            }
            for t in tenancies
        ],
        "cases": [
            {
                **_row(
                    c, "id", "status", "cause", "outcome", "priority", "opened_at",
                    "closed_at", "last_contact_at", "anonymised_at",
                ),
                "tenancy_id": c.tenancy_id,
                "worker": names.get(c.assigned_worker_id, ""),
                "legal_steps": [
                    _row(s, "kind", "date", "at_time", "place", "note", "source")
                    for s in steps[c.id]
                ],
                "visits": [
                    {
                        **_row(v, "occurred_at", "channel", "result", "notes", "next_step",
                               "follow_up_on"),
                        "worker": names.get(v.worker_id, ""),
                    }
                    for v in visits[c.id]
                ],
                "needs": [_row(n, "need", "note", "recorded_at") for n in needs[c.id]],
                "actions": [
                    {
                        **_row(a, "description", "need", "owner", "due_on", "status",
                               "recorded_at"),
                        "partner": partners.get(a.partner_id, ""),
                        "status_changes": [
                            _row(u, "status", "recorded_at") for u in updates.get(a.id, [])
                        ],
                    }
                    for a in actions[c.id]
                ],
                "consents": [
                    {
                        **_row(k, "state", "scopes", "method", "witness", "language",
                               "recorded_at"),
                        "signature_held": bool(k.signature),
                        "text_version": texts[k.text_id].version if k.text_id in texts else None,
                        "text": texts[k.text_id].body if k.text_id in texts else "",
                    }
                    for k in consents[c.id]
                ],
                "meeting_decisions": [
                    {
                        **_row(i, "decision", "responsible", "due_on", "decided_at"),
                        "partner": partners.get(i.partner_id, ""),
                    }
                    for i in items[c.id]
                ],
                "changes_from_the_field": [_row(e, "changes", "applied_at") for e in edits[c.id]],
                "conflicting_changes": [
                    _row(k, "proposed", "created_at", "resolution") for k in conflicts[c.id]
                ],
                "history": [_row(e, "at", "kind", "detail") for e in events[c.id]],
            }
            for c in cases
        ],
    }  # fmt: skip


def _source(batch: ImportBatch | None) -> str:
    if batch is None:
        return ""
    return f"{batch.filename} ({batch.as_of.isoformat() if batch.as_of else ''})"
