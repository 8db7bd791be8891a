"""Words for codes stored in the database, in the reader's language (Flask-Babel)."""

from __future__ import annotations

from datetime import date

from flask import Flask
from flask_babel import format_date as babel_format_date
from flask_babel import format_datetime as babel_format_datetime
from flask_babel import format_decimal as babel_format_decimal
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

ROLE_LABELS = {
    "worker": _l("Outreach worker"),
    "lead": _l("Team lead"),
    "admin": _l("Administrator"),
}
DEADLINE_LABELS = {
    "petition": _l("Petition"),
    "hearing": _l("Hearing"),
    "eviction_scheduled": _l("Eviction"),
    "executed": _l("Evicted"),
    "withdrawn": _l("Withdrawn"),
    "cancelled": _l("Cancelled"),
}
STATUS_LABELS = {
    "new": _l("New"),
    "attempting_contact": _l("Trying to reach"),
    "in_contact": _l("In contact"),
    "plan_agreed": _l("Plan agreed"),
    "closed": _l("Closed"),
}

CAUSE_LABELS = {
    "economic": _l("Economic"),
    "behavioural": _l("Behavioural"),
    "contract_end": _l("Contract ended"),
    "other": _l("Other"),
}
OUTCOME_LABELS = {
    "paid_up": _l("Paid up"),
    "payment_plan": _l("Payment plan"),
    "rent_from_benefits": _l("Rent paid from benefits"),
    "rehoused": _l("Rehoused"),
    "moved_away": _l("Moved away"),
    "evicted": _l("Evicted"),
    "declined_help": _l("Declined help"),
    "other": _l("Other"),
}
LANDLORD_KIND_LABELS = {
    "municipal": _l("Municipal housing"),
    "housing_association": _l("Housing association"),
    "private": _l("Private landlord"),
}
EVENT_LABELS = {
    "opened": _l("Case opened"),
    "assigned": _l("Assigned"),
    "status": _l("Status changed"),
    "cause": _l("Cause changed"),
    "closed": _l("Case closed"),
    "cleared": _l("No longer on the arrears list"),
    "arrears": _l("Arrears updated"),
    "legal_step": _l("Legal step entered"),
}
FIELD_LABELS = {
    "tenancy_ref": _l("Tenancy number"),
    "tenant_name": _l("Tenant's name"),
    "address": _l("Address"),
    "postcode": _l("Postcode"),
    "town": _l("Town"),
    "phone": _l("Phone"),
    "monthly_rent": _l("Monthly rent"),
    "arrears": _l("Arrears"),
    "months_in_arrears": _l("Months in arrears"),
    "as_of": _l("List date"),
    "landlord": _l("Landlord"),
    "step": _l("Step"),
    "date": _l("Date"),
    "cause": _l("Cause"),
    "children": _l("Children"),
}
SORT_LABELS = {
    "priority": _l("Priority"),
    "deadline": _l("Next deadline"),
    "arrears": _l("Arrears"),
    "last_contact": _l("Longest without contact"),
    "address": _l("Address"),
}


def reasons_text(reasons: list[dict]) -> str:
    """Render triage reasons as "hearing in 6 days · 3 months' rent · children"."""
    parts: list[str] = []
    for reason in reasons:
        code, value = reason.get("code"), reason.get("value")
        if code == "deadline":
            kind = DEADLINE_LABELS.get(reason.get("kind", ""), "")
            if value <= 0:
                parts.append(str(_l("%(kind)s today or overdue", kind=kind)))
            else:
                parts.append(
                    ngettext(
                        "%(kind)s in %(num)d day", "%(kind)s in %(num)d days", value, kind=kind
                    )
                )
        elif code == "arrears_months":
            parts.append(str(_l("%(months)s months' rent", months=f"{value:g}")))
        elif code == "children":
            parts.append(ngettext("%(num)d child", "%(num)d children", value))
        elif code == "revolving_door":
            parts.append(str(_l("earlier petition or eviction")))
        elif code == "no_contact":
            parts.append(
                ngettext("no contact for %(num)d day", "no contact for %(num)d days", value)
            )
        elif code == "never_contacted":
            parts.append(str(_l("not yet contacted")))
    return " · ".join(parts)


def init_labels(app: Flask) -> None:
    """Make the label helpers available in every template."""

    @app.template_filter("money")
    def _money(minor_units: int | None) -> str:
        # Stored in øre; shown as whole kroner in the reader's number format.
        if minor_units is None:
            return ""
        return babel_format_decimal(round(minor_units / 100), format="#,##0")

    @app.template_filter("format_datetime")
    def _format_datetime(value) -> str:
        return babel_format_datetime(value, "short") if value else ""

    @app.template_filter("format_date")
    def _format_date(value: date | None) -> str:
        return babel_format_date(value, "medium") if value else ""

    @app.context_processor
    def _labels():
        return {
            "role_label": lambda code: ROLE_LABELS.get(code, code),
            "deadline_label": lambda code: DEADLINE_LABELS.get(code or "", code or ""),
            "status_label": lambda code: STATUS_LABELS.get(code, code),
            "reasons_text": reasons_text,
            "cause_label": lambda code: CAUSE_LABELS.get(code or "", code or ""),
            "outcome_label": lambda code: OUTCOME_LABELS.get(code or "", code or ""),
            "landlord_kind_label": lambda code: LANDLORD_KIND_LABELS.get(code, code),
            "event_label": lambda code: EVENT_LABELS.get(code, code),
            "cause_labels": CAUSE_LABELS,
            "outcome_labels": OUTCOME_LABELS,
            "status_labels": STATUS_LABELS,
            "deadline_labels": DEADLINE_LABELS,
            "landlord_kind_labels": LANDLORD_KIND_LABELS,
            "sort_labels": SORT_LABELS,
            "field_label": lambda code: FIELD_LABELS.get(code or "", code or ""),
        }
