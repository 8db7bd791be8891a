"""Search the audit log and export what was found as CSV."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, render_template, request
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from ...domain.numbers import whole_number
from ...extensions import db
from ...models.types import utcnow
from ...services.audit import audit_csv, parse_audit_query, record_event, search_events
from ...services.processing import records_of_processing
from ..security import client_address, roles_required
from . import bp

PAGE_SIZE = 100
# What the page's own links (next page, CSV) carry on: the filters, nothing else it was sent.
FILTER_NAMES = ("user", "case", "action", "from", "to")


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])


@bp.get("/audit")
@roles_required("lead", "dpo")
def search():
    """Who read or changed what, newest first; filters by person, case, action and dates.

    The filters are ids, codes and dates (never names), so they may sit in the URL."""
    query, errors = parse_audit_query(request.args)
    page = request.args.get("page", "1")
    page_number = whole_number(page, 1, 99_999) or 1
    rows, total = (
        search_events(
            db.session,
            current_user,
            query,
            zone=_zone(),
            limit=PAGE_SIZE,
            offset=(page_number - 1) * PAGE_SIZE,
        )
        if not errors
        else ([], 0)
    )
    return render_template(
        "audit/search.html",
        rows=rows,
        total=total,
        page=page_number,
        pages=max(1, -(-total // PAGE_SIZE)),
        args=MultiDict({k: v for k, v in request.args.items() if k in FILTER_NAMES and v}),
        errors=errors,
        zone=_zone(),
    ), 400 if errors else 200


@bp.get("/audit.csv")
@roles_required("lead", "dpo")
def export():
    """Every event the search finds, as CSV; the export is itself written to the log."""
    query, errors = parse_audit_query(request.args)
    if errors:
        return current_app.response_class(
            "\n".join(errors.values()) + "\n", status=400, mimetype="text/plain"
        )
    rows, total = search_events(db.session, current_user, query, zone=_zone(), limit=None)
    record_event(
        db.session, current_user, "export", "audit", "", client_address(), f"{total} events"
    )
    db.session.commit()
    response = current_app.response_class(audit_csv(rows, _zone()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response


@bp.get("/records-of-processing")
@roles_required("dpo", "admin")
def processing():
    """Records of processing (Art. 30), generated from the live deployment."""
    record = records_of_processing(db.session, current_app.config, utcnow())
    return render_template("audit/processing.html", record=record)


@bp.get("/records-of-processing.json")
@roles_required("dpo", "admin")
def processing_json():
    """The same, for the supervisory authority or the municipality's own register."""
    record = records_of_processing(db.session, current_app.config, utcnow())
    response = current_app.response_class(
        current_app.json.dumps(record, ensure_ascii=False, indent=2), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="records-of-processing.json"'
    return response
