"""Upload → preview (nothing stored) → confirm (stored, mapping saved) → report."""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, func, select

from ...extensions import db, htmx
from ...models import (
    LANDLORD_KINDS,
    ImportBatch,
    Landlord,
    Organisation,
    StagedUpload,
    Tenancy,
)
from ...models.types import utcnow
from ...services.cases import landlords
from ...services.geocoding import (
    GeocoderNotConfigured,
    count_without_position,
    geocode_next,
    make_geocoder,
)
from ...services.imports import ImportReport, find_landlord, import_arrears, import_legal_steps
from ...services.tabular import ARREARS_FIELDS, LEGAL_STEP_FIELDS, FileRefused
from ..security import is_number, roles_required
from . import bp

KINDS = ("arrears", "legal_steps")
STAGED_FOR = timedelta(hours=24)


def _form_page(error: str | None = None, status: int = 200, form: dict | None = None):
    if htmx:
        status = 200  # htmx swaps only 2xx answers; the message must reach the lead
    batches = db.session.scalars(
        select(ImportBatch).order_by(ImportBatch.created_at.desc()).limit(20)
    ).all()
    names = {landlord.id: landlord.name for landlord in landlords(db.session)}
    return (
        render_template(
            "imports/upload.html",
            landlords=landlords(db.session),
            kinds=LANDLORD_KINDS,
            batches=batches,
            landlord_names=names,
            error=error,
            form=form or {},
        ),
        status,
    )


@bp.get("")
@roles_required("lead")
def upload():
    """The upload form and the latest imports."""
    return _form_page()


def _parse_upload_form() -> tuple[dict, str | None]:
    form = request.form
    values = {
        "kind": form.get("kind", "arrears"),
        "landlord": form.get("landlord", ""),
        "new_landlord": form.get("new_landlord", "").strip(),
        "new_landlord_kind": form.get("new_landlord_kind", "private"),
        "as_of": form.get("as_of", "").strip(),
    }
    if values["kind"] not in KINDS:
        return values, _("Choose what kind of list this is.")
    if values["as_of"]:
        try:
            date.fromisoformat(values["as_of"])
        except ValueError:
            return values, _(
                "List date: %(value)r is not a date (YYYY-MM-DD).", value=values["as_of"]
            )
    if values["kind"] == "arrears":
        if values["new_landlord"]:
            if values["new_landlord_kind"] not in LANDLORD_KINDS:
                return values, _("Choose the kind of the new landlord.")
        elif (
            not is_number(values["landlord"])
            or db.session.get(Landlord, int(values["landlord"])) is None
        ):
            return values, _("Choose the landlord whose list this is, or name a new one.")
    return values, None


@bp.post("")
@roles_required("lead")
def stage():
    """Keep the uploaded file and show what importing it would do; nothing is stored yet."""
    values, problem = _parse_upload_form()
    upload = request.files.get("file")
    if problem is None and (upload is None or not upload.filename):
        problem = _("Choose the file to upload.")
    if problem:
        return _form_page(problem, 400, values)
    data = upload.read()
    db.session.execute(delete(StagedUpload).where(StagedUpload.created_at < utcnow() - STAGED_FOR))
    staged = StagedUpload(
        kind=values["kind"],
        user_id=current_user.id,
        filename=upload.filename[:255],
        as_of=date.fromisoformat(values["as_of"]) if values["as_of"] else None,
        data=data,
    )
    if values["kind"] == "arrears":
        if values["new_landlord"]:
            existing = find_landlord(db.session, values["new_landlord"])
            if existing is not None:
                staged.landlord_id = existing.id
            else:
                staged.landlord_name = values["new_landlord"][:200]
                staged.landlord_kind = values["new_landlord_kind"]
        else:
            staged.landlord_id = int(values["landlord"])
    db.session.add(staged)
    db.session.commit()
    return _preview(staged, mapping=None)


def _staged(staged_id: str) -> StagedUpload:
    staged = db.session.get(StagedUpload, staged_id)
    if staged is None or staged.user_id != current_user.id:
        abort(404)
    return staged


def _mapping_from_form() -> dict[str, str] | None:
    """The lead's header → field choices from the preview form (None when not sent)."""
    headers = request.form.getlist("header")
    fields = request.form.getlist("field")
    if not headers or len(headers) != len(fields):
        return None
    allowed = set(ARREARS_FIELDS) | {""}
    return {h: f for h, f in zip(headers, fields, strict=True) if f in allowed}


def _landlord_for(staged: StagedUpload) -> Landlord:
    if staged.landlord_id is not None:
        return db.session.get(Landlord, staged.landlord_id)
    landlord = Landlord(name=staged.landlord_name, kind=staged.landlord_kind or "private")
    db.session.add(landlord)
    db.session.flush()
    return landlord


def _run(staged: StagedUpload, mapping: dict[str, str] | None, dry_run: bool) -> ImportReport:
    if staged.kind == "legal_steps":
        return import_legal_steps(
            db.session, staged.data, staged.filename, user=current_user, dry_run=dry_run
        )
    landlord = _landlord_for(staged)
    return import_arrears(
        db.session,
        staged.data,
        staged.filename,
        landlord,
        as_of=staged.as_of,
        user=current_user,
        dry_run=dry_run,
        mapping=mapping,
    )


def _in_arrears(staged: StagedUpload) -> int:
    """How many of the landlord's tenancies are in arrears now (before this list)."""
    if staged.kind != "arrears" or staged.landlord_id is None:
        return 0
    return (
        db.session.scalar(
            select(func.count(Tenancy.id)).where(
                Tenancy.landlord_id == staged.landlord_id, Tenancy.current_arrears > 0
            )
        )
        or 0
    )


def mass_clear(cleared: int, in_arrears: int) -> bool:
    """A list that leaves out many of the tenancies in arrears is probably a partial list:
    importing it would mark them all paid up, so the lead must say it is complete."""
    return cleared > 5 and cleared > 0.3 * in_arrears


def _preview(staged: StagedUpload, mapping: dict[str, str] | None, error: str | None = None):
    staged_id, kind, filename = staged.id, staged.kind, staged.filename
    in_arrears = _in_arrears(staged)
    landlord_name = staged.landlord_name or (
        db.session.get(Landlord, staged.landlord_id).name if staged.landlord_id else ""
    )
    try:
        report = _run(staged, mapping, dry_run=True)
    except FileRefused as refused:
        db.session.rollback()
        db.session.execute(delete(StagedUpload).where(StagedUpload.id == staged_id))
        db.session.commit()
        return _form_page(
            _("The file %(name)s was refused: %(reason)s", name=filename, reason=str(refused)),
            400,
            {"kind": kind},
        )
    db.session.rollback()  # a preview stores nothing
    fields = ARREARS_FIELDS if kind == "arrears" else LEGAL_STEP_FIELDS
    return render_template(
        "imports/preview.html",
        report=report,
        staged_id=staged_id,
        kind=kind,
        filename=filename,
        landlord_name=landlord_name,
        fields=list(fields),
        in_arrears=in_arrears,
        warn_mass_clear=kind == "arrears" and mass_clear(report.cleared, in_arrears),
        error=error,
    ), 400 if error else 200


@bp.post("/<staged_id>/preview")
@roles_required("lead")
def repreview(staged_id: str):
    """Show the preview again with the lead's own column choices."""
    return _preview(_staged(staged_id), _mapping_from_form())


@bp.post("/<staged_id>/confirm")
@roles_required("lead")
def confirm(staged_id: str):
    """Import the previewed file for real and save the confirmed column mapping."""
    staged = _staged(staged_id)
    mapping = _mapping_from_form()
    in_arrears = _in_arrears(staged)
    try:
        report = _run(staged, mapping, dry_run=False)
    except FileRefused as refused:
        db.session.rollback()
        return _form_page(
            _(
                "The file %(name)s was refused: %(reason)s",
                name=staged.filename,
                reason=str(refused),
            ),
            400,
        )
    complete = request.form.get("complete_list") == "1"
    if staged.kind == "arrears" and mass_clear(report.cleared, in_arrears) and not complete:
        db.session.rollback()
        message = _(
            "This list leaves out %(cleared)d of the %(total)d tenancies now in arrears; "
            "importing it marks them paid up. Tick that this is the landlord's complete list, "
            "or upload the complete list.",
            cleared=report.cleared,
            total=in_arrears,
        )
        return _preview(_staged(staged_id), mapping, message)
    if staged.kind == "arrears" and not report.already_imported:
        landlord = find_landlord(db.session, report.landlord or "")
        if landlord is not None and mapping is not None:
            landlord.column_mapping = mapping
            landlord.mapping_confirmed_at = utcnow()
        elif landlord is not None and landlord.column_mapping is None:
            landlord.column_mapping = dict(report.mapping)
            landlord.mapping_confirmed_at = utcnow()
    # The import service writes the audit line itself (it also serves the CLI).
    db.session.delete(staged)
    db.session.commit()
    return render_template(
        "imports/report.html",
        report=report,
        kind=staged.kind,
        missing_positions=count_without_position(db.session) if staged.kind == "arrears" else 0,
        geocoder=bool(current_app.config.get("GEOCODER")),
    )


@bp.post("/geocode")
@roles_required("lead")
def geocode():
    """Find positions for households without one, ten per request, showing the progress.

    The page posts again by itself (htmx) until every address is done; without JavaScript
    the lead presses Continue. Addresses the geocoder cannot place are listed to fix.
    """
    form = request.form
    after = int(form["after"]) if is_number(form.get("after")) else 0
    done = int(form["done"]) if is_number(form.get("done")) else 0
    total = int(form["total"]) if is_number(form.get("total")) else 0
    total = total or count_without_position(db.session)
    try:
        organisation = db.session.scalar(select(Organisation).order_by(Organisation.id))
        geocoder = make_geocoder(current_app.config, organisation.country if organisation else "")
    except GeocoderNotConfigured as error:
        return render_template(
            "imports/_geocode.html",
            error=str(error),
            done=done,
            total=total,
            after=None,
            problems=[],
        )
    report, cursor = geocode_next(db.session, geocoder, after)
    db.session.commit()
    done = min(total, done + report.looked_up)
    template = "imports/_geocode.html" if htmx else "imports/geocode.html"
    return render_template(
        template,
        error=None,
        done=done,
        total=total,
        after=cursor,
        problems=report.problems,
        placed=report.placed,
    )
