"""Words for codes stored in the database, in the reader's language (Flask-Babel)."""

from __future__ import annotations

from datetime import date

from flask import Flask
from flask_babel import format_date as babel_format_date
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
        }
