"""Upload → preview (nothing stored) → confirm (stored, mapping saved) → report."""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, select

from ...domain.organisation import organisation_of
from ...domain.registers import in_register
from ...extensions import db, htmx
from ...models import (
    LANDLORD_KINDS,
    ImportBatch,
    Landlord,
    StagedUpload,
)
from ...models.types import utcnow
from ...services.audit import record_event
from ...services.cases import landlords
from ...services.geocoding import (
    GeocoderNotConfigured,
    count_without_position,
    geocode_next,
    make_geocoder,
)
from ...services.imports import ImportReport, find_landlord
from ...services.tabular import ARREARS_FIELDS, LEGAL_STEP_FIELDS, RowError, rejected_rows_csv
from ...usecases import Actor, Refused, UnitOfWork
from ...usecases.imports import (
    ArrearsUpload,
    PartialList,
    import_arrears_list,
    import_legal_steps_file,
    in_arrears,
    list_imports,
    mass_clear,
    own_landlord,
    own_uploads,
)
from ..security import client_address, is_number, roles_required
from . import bp

KINDS = ("arrears", "legal_steps")
# A landlord person uses the same pages for their own lists: the landlord fixed to theirs
# (User.landlord_id: never a form field), the team to theirs, the history to their uploads.
IMPORTING = ("lead", "landlord")
STAGED_FOR = timedelta(hours=24)
# Rejected rows the preview and report pages list; the rest are counted and downloadable,
# so a list of 100,000 bad rows gives a page of the same size as one of 100.
SHOWN_ERRORS = 100


@bp.before_request
def _landlord_is_bound():
    """A landlord's account not bound to a landlord and a team has no lists to send."""
    if getattr(current_user, "role", None) == "landlord" and (
        current_user.landlord_id is None or current_user.team_id is None
    ):
        abort(403)


def _form_page(error: str | None = None, status: int = 200, form: dict | None = None):
    if htmx:
        status = 200  # htmx swaps only 2xx answers; the message must reach the lead
    actor = Actor.person(current_user)
    batches = list_imports(actor, db.session)
    fixed = own_landlord(db.session, actor)
    choices = [fixed] if fixed is not None else landlords(db.session)
    names = {landlord.id: landlord.name for landlord in choices}
    return (
        render_template(
            "imports/upload.html",
            landlords=choices,
            fixed_landlord=fixed,
            kinds=LANDLORD_KINDS,
            batches=batches,
            landlord_names=names,
            error=error,
            form=form or {},
        ),
        status,
    )


@bp.get("")
@roles_required(*IMPORTING)
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
        "older_list": form.get("older_list") == "1",
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
    if current_user.role == "landlord":
        # Their own landlord, whatever the form says (a forged landlord id changes nothing).
        values.update(landlord=str(current_user.landlord_id), new_landlord="")
        return values, None
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
@roles_required(*IMPORTING)
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
        older_list=values["older_list"],
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


def _mapping_from_form(values=None) -> dict[str, str] | None:
    """The lead's header → field choices from the preview form, or from the query string of
    the download link that carries them (None when not sent)."""
    values = request.form if values is None else values
    headers = values.getlist("header")
    fields = values.getlist("field")
    if not headers or len(headers) != len(fields):
        return None
    allowed = set(ARREARS_FIELDS) | {""}
    return {h: f for h, f in zip(headers, fields, strict=True) if f in allowed}


def _landlord_for(staged: StagedUpload) -> Landlord:
    if staged.landlord_id is not None:
        return db.session.get(Landlord, staged.landlord_id)
    # Another upload naming the same new landlord may have been imported since this one was
    # staged; creating it twice broke the unique name (a 500).
    return find_landlord(
        db.session, staged.landlord_name, create=True, kind=staged.landlord_kind or "private"
    )


def _actor() -> Actor:
    return Actor.person(current_user, request.remote_addr or "")


def _run(uow: UnitOfWork, staged: StagedUpload, mapping: dict[str, str] | None, complete=False):
    if staged.kind == "legal_steps":
        return import_legal_steps_file(uow, _actor(), staged.data, staged.filename)
    upload = ArrearsUpload(
        data=staged.data,
        filename=staged.filename,
        landlord=_landlord_for(staged),
        as_of=staged.as_of,
        mapping=mapping,
        complete_list=complete,
        older_list=staged.older_list,
    )
    return import_arrears_list(uow, _actor(), upload)


def _in_arrears(staged: StagedUpload) -> int:
    """How many of the landlord's tenancies in the lead's register are in arrears now."""
    if staged.kind != "arrears" or staged.landlord_id is None:
        return 0
    landlord = db.session.get(Landlord, staged.landlord_id)
    return in_arrears(UnitOfWork(db.session), _actor(), landlord) if landlord else 0


def _refused_page(filename: str, kind: str, reason: str):
    return _form_page(
        _("The file %(name)s was refused: %(reason)s", name=filename, reason=reason),
        400,
        {"kind": kind},
    )


def _preview(staged: StagedUpload, mapping: dict[str, str] | None, error: str | None = None):
    staged_id, kind, filename = staged.id, staged.kind, staged.filename
    in_arrears_now = _in_arrears(staged)
    landlord_name = staged.landlord_name or (
        db.session.get(Landlord, staged.landlord_id).name if staged.landlord_id else ""
    )
    try:
        with UnitOfWork(db.session, dry_run=True) as uow:  # a preview stores nothing
            report = _run(uow, staged, mapping)
    except Refused as refused:
        db.session.execute(delete(StagedUpload).where(StagedUpload.id == staged_id))
        db.session.commit()
        return _refused_page(filename, kind, str(refused))
    fields = ARREARS_FIELDS if kind == "arrears" else LEGAL_STEP_FIELDS
    # The download must list the rows this preview rejected, so it is sent the lead's column
    # choices too (header names only: never a cell of a data row).
    chosen = {"header": list(mapping), "field": list(mapping.values())} if mapping else {}
    return render_template(
        "imports/preview.html",
        report=report,
        shown_errors=SHOWN_ERRORS,
        errors_url=url_for("imports.staged_rejected_rows", staged_id=staged_id, **chosen),
        staged_id=staged_id,
        kind=kind,
        filename=filename,
        landlord_name=landlord_name,
        fields=list(fields),
        in_arrears=in_arrears_now,
        warn_mass_clear=kind == "arrears" and mass_clear(report.cleared, in_arrears_now),
        error=error,
    ), 400 if error else 200


@bp.post("/<staged_id>/preview")
@roles_required(*IMPORTING)
def repreview(staged_id: str):
    """Show the preview again with the lead's own column choices."""
    return _preview(_staged(staged_id), _mapping_from_form())


@bp.post("/<staged_id>/confirm")
@roles_required(*IMPORTING)
def confirm(staged_id: str):
    """Import the previewed file for real and save the confirmed column mapping."""
    staged = _staged(staged_id)
    mapping = _mapping_from_form()
    kind, filename = staged.kind, staged.filename
    complete = request.form.get("complete_list") == "1"
    try:
        with UnitOfWork(db.session) as uow:
            report = _run(uow, staged, mapping, complete)
            uow.session.delete(staged)
    except PartialList as partial:
        message = _(
            "This list leaves out %(cleared)d of the %(total)d tenancies now in arrears; "
            "importing it marks them paid up. Tick that this is the landlord's complete list, "
            "or upload the complete list.",
            cleared=partial.cleared,
            total=partial.in_arrears,
        )
        return _preview(_staged(staged_id), mapping, message)
    except Refused as refused:
        return _refused_page(filename, kind, str(refused))
    if report.batch_id is not None:
        # Post/redirect/get: the result has its own address, so a reload shows it again
        # instead of asking to send the form twice (or a 404 for the used staged file).
        return redirect(url_for("imports.batch_report", batch_id=report.batch_id), code=303)
    return _report_page(report, kind)


def _report_page(report, kind: str):
    landlord = current_user.role == "landlord"
    errors_url = None
    if report.batch_id is not None:
        errors_url = url_for("imports.batch_rejected_rows", batch_id=report.batch_id)
    return render_template(
        "imports/report.html",
        report=report,
        shown_errors=SHOWN_ERRORS,
        errors_url=errors_url,
        kind=kind,
        missing_positions=(
            count_without_position(db.session, current_user.team_id)
            if kind == "arrears" and not landlord
            else 0
        ),
        cases_url=url_for("landlord.tenants" if landlord else "register.cases"),
        geocoder=bool(current_app.config.get("GEOCODER")),
    )


def _own_batch(batch_id: int) -> ImportBatch:
    query = select(ImportBatch).where(
        ImportBatch.id == batch_id, in_register(ImportBatch.team_id, current_user.team_id)
    )
    if current_user.role == "landlord":
        query = query.where(own_uploads(Actor.person(current_user)))  # only their own
    batch = db.session.scalar(query)
    if batch is None:
        abort(404)  # another team's import looks the same as none
    return batch


@bp.get("/batches/<int:batch_id>")
@roles_required(*IMPORTING)
def batch_report(batch_id: int):
    """What an import into the lead's own team's register did (a landlord person: one of
    their landlord's own uploads), its rejected rows included: the read is audited."""
    batch = _own_batch(batch_id)
    report = ImportReport(
        kind=batch.kind,
        filename=batch.filename,
        file_hash=batch.file_hash,
        landlord=None,
        as_of=batch.as_of,
        dry_run=False,
        errors=[RowError(**error) for error in batch.errors],
        batch_id=batch.id,
        **{key: int(value) for key, value in (batch.counts or {}).items()},
    )
    record_event(db.session, current_user, "view", "import_batch", batch.id, client_address())
    db.session.commit()
    return _report_page(report, batch.kind)


def _rejected_rows_file(errors: list[RowError], name: str, object_type: str, object_id):
    """The CSV download of rejected rows; the export is audited (a count, never values)."""
    record_event(
        db.session,
        current_user,
        "export",
        object_type,
        object_id,
        client_address(),
        f"{len(errors)} rejected rows",
    )
    db.session.commit()
    response = current_app.response_class(rejected_rows_csv(errors), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<staged_id>/rejected-rows.csv")
@roles_required(*IMPORTING)
def staged_rejected_rows(staged_id: str):
    """Every row the preview of the lead's own staged file rejects, as CSV."""
    staged = _staged(staged_id)
    try:
        with UnitOfWork(db.session, dry_run=True) as uow:  # the preview again: stores nothing
            report = _run(uow, staged, _mapping_from_form(request.args))
    except Refused as refused:
        return current_app.response_class(f"{refused}\n", status=400, mimetype="text/plain")
    return _rejected_rows_file(report.errors, "rejected-rows.csv", "staged_upload", staged_id)


@bp.get("/batches/<int:batch_id>/rejected-rows.csv")
@roles_required(*IMPORTING)
def batch_rejected_rows(batch_id: int):
    """Every row an import into the lead's own team's register rejected, as CSV."""
    batch = _own_batch(batch_id)
    errors = [RowError(**error) for error in batch.errors]
    return _rejected_rows_file(errors, f"rejected-rows-{batch_id}.csv", "import_batch", batch_id)


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
    total = total or count_without_position(db.session, current_user.team_id)
    try:
        organisation = organisation_of(db.session, current_user.team_id)
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
    # Only the lead's own team's households: another team's addresses are neither looked up
    # nor listed here.
    report, cursor = geocode_next(db.session, geocoder, after, team_id=current_user.team_id)
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
