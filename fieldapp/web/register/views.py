"""Views for the team lead's register: dashboard, case list, case page, assignment."""

from __future__ import annotations

from datetime import date, timedelta

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ...domain.wording import english
from ...extensions import db, htmx
from ...models import AuditEvent, Case, User, UserSession
from ...models.types import utcnow
from ...services.access import may_change
from ...services.audit import record_event
from ...services.case_state import case_records, case_state
from ...services.cases import (
    CaseFilters,
    arrears_history,
    assignable_workers,
    case_timeline,
    landlords,
    list_cases,
    other_cases_of_household,
)
from ...services.holds import hold_context
from ...services.sync import open_conflicts
from ...services.tabular import parse_clock
from ...services.worklist import dashboard_figures, local_today
from ...usecases import Actor, NotFound, Refused, UnitOfWork
from ...usecases import cases as case_use
from ...usecases.cases import (
    CHOOSE_THE_WORKER,
    CaseChange,
    NewLegalStep,
    NotAllowed,
    Stale,
    case_in_scope,
    load_case,
)
from ...usecases.households import (
    ErasureRequest,
    ReasonTooShort,
    erase_household_on_request,
    export_household_record,
)
from ...usecases.organisation import ReasonTooShort as GlassReasonTooShort
from ...usecases.organisation import break_glass as break_glass_for
from ..labels import (
    CAUSE_LABELS,
    DEADLINE_LABELS,
    HOUSEHOLD_FIELD_LABELS,
    OUTCOME_LABELS,
    STATUS_LABELS,
    clock_label,
)
from ..security import client_address, is_number, roles_required
from . import bp

FILTERS_KEY = "case_filters"


@bp.get("/dashboard")
@roles_required("lead")
def dashboard():
    """The lead's Monday-morning overview: open cases, deadlines soon, unassigned."""
    figures = dashboard_figures(db.session, current_user.team_id)
    conflicts = open_conflicts(db.session, current_user.team_id)
    return render_template("register/dashboard.html", figures=figures, conflicts=conflicts)


@bp.post("/conflicts/<int:conflict_id>")
@roles_required("lead")
def resolve(conflict_id: int):
    """Take the worker's offline edit, or keep what the register has."""
    try:
        with UnitOfWork(db.session) as uow:
            case_use.resolve_conflict_of_team(
                uow, _actor(), conflict_id, request.form.get("accept") == "1"
            )
    except NotFound:
        abort(404)
    return redirect(url_for("register.dashboard"), code=303)


def _case_list_page(filters: CaseFilters, problems: list[str], status: int = 200):
    page = list_cases(db.session, current_user.team_id, filters)
    context = {
        "page": page,
        "filters": filters,
        "problems": problems,
        "workers": assignable_workers(db.session, current_user.team_id),
        "landlords": landlords(db.session),
    }
    template = "register/_case_table.html" if htmx and not htmx.boosted else "register/cases.html"
    return render_template(template, **context), status


@bp.route("/cases", methods=["GET", "POST"])
@roles_required("lead")
def cases():
    """The case list. Filters are posted (a searched name never lands in a URL or a log) and
    remembered for the session, so coming back to the list keeps them."""
    session.pop(FILTERS_KEY, None)  # where an earlier version kept them (search text too)
    if request.method == "POST":
        filters, problems = CaseFilters.from_form(request.form)
        _login_session().case_filters = filters.as_dict()
        db.session.commit()
    else:
        filters, problems = CaseFilters.from_form(_login_session().case_filters or {})
    return _case_list_page(filters, problems)


def _login_session() -> UserSession:
    """This device's login: the case list's filters are remembered on it, on the server (the
    signed cookie can be read by whoever holds it, and a searched name is personal data)."""
    return db.session.get(UserSession, current_user.session_id)


def _assigned_message(changed: int, ticked: int, worker: User | None) -> str:
    """Say what happened and to whom, and when nothing did, why."""
    if worker is None:
        if changed == 0:
            return _("No case changed: the ticked cases had no worker already.")
        return ngettext(
            "%(num)d case taken back: it has no worker now.",
            "%(num)d cases taken back: they have no worker now.",
            changed,
        )
    name = worker.name or worker.email
    if changed == 0:
        return _("No case changed: the ticked cases were with %(name)s already.", name=name)
    message = ngettext(
        "%(num)d case assigned to %(name)s.", "%(num)d cases assigned to %(name)s.", changed,
        name=name,
    )  # fmt: skip
    if changed < ticked:
        message += " " + _("The others were with %(name)s already or are closed.", name=name)
    return message


@bp.post("/cases/assign")
@roles_required("lead")
def assign():
    """Give the ticked cases to a worker, or take them back ("not assigned")."""
    ids = [int(v) for v in request.form.getlist("case") if is_number(v)]
    raw_worker = request.form.get("worker", "")
    filters, _problems = CaseFilters.from_form(_login_session().case_filters or {})
    problems: list[str] = []
    if not ids:
        problems.append(_("Tick at least one case to assign."))
    worker = None
    if raw_worker not in ("0", "") and is_number(raw_worker):
        worker = db.session.get(User, int(raw_worker))
    if raw_worker == "" or (raw_worker != "0" and worker is None):
        problems.append(_("Choose the worker to assign the cases to."))
    if problems:
        return _case_list_page(filters, problems, 400 if not htmx else 200)
    try:
        with UnitOfWork(db.session) as uow:
            changed = case_use.assign(uow, _actor(), ids, worker.id if worker else None)
    except Refused as error:
        return _case_list_page(filters, [str(error)], 400 if not htmx else 200)
    flash(_assigned_message(changed, len(ids), worker))
    if htmx:
        return _case_list_page(filters, [])
    return redirect(url_for("register.cases"), code=303)


def _actor() -> Actor:
    return Actor.person(current_user, client_address())


def _load_case(case_id: int) -> Case:
    case = load_case(db.session, case_id)
    if case is None:
        abort(404)
    return case


def _case_for_current_user(case_id: int, change: bool = True) -> Case:
    """The case, if this person may change it (change=False: may read it); else 403."""
    try:
        return case_in_scope(UnitOfWork(db.session), _actor(), case_id, change=change)
    except NotFound:
        abort(404)
    except NotAllowed:
        abort(403)


def _break_glass_grant(case_id: int) -> AuditEvent | None:
    """The administrator's recent emergency access to this case, if any: the audit line that
    records it (with its reason) is the grant, so it can be neither forged nor extended."""
    since = utcnow() - timedelta(minutes=current_app.config["BREAK_GLASS_MINUTES"])
    return db.session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.user_id == current_user.id,
            AuditEvent.action == "break_glass",
            AuditEvent.object_type == "case",
            AuditEvent.object_id == str(case_id),
            AuditEvent.at > since,
        )
        .order_by(AuditEvent.at.desc())
        .limit(1)
    )


def _case_page(
    case: Case,
    error: str | None = None,
    status: int = 200,
    grant: AuditEvent | None = None,
    agreement_error: dict | None = None,
):
    record_event(db.session, current_user, "view", "case", case.id, client_address())
    db.session.commit()
    history = arrears_history(db.session, case.tenancy_id)
    records = case_records(db.session, case.id)
    state = case_state(db.session, case, records)
    timeline = case_timeline(db.session, case, records)
    for entry in timeline:
        if entry.kind == "meeting_decision":
            # The event names the meeting; what was decided is on the agenda item (and goes
            # when the case's free text is anonymised, services.retention).
            entry.detail["item"] = state.decisions.get(entry.detail.get("meeting"))
    context = {
        "case": case,
        "history": history,
        "chart": arrears_chart(history),
        "state": state,
        "timeline": timeline,
        "other_cases": other_cases_of_household(db.session, case),
        "workers": assignable_workers(db.session, current_user.team_id)
        if current_user.role == "lead"
        else [],
        "error": error,
        "today": local_today(db.session, current_user),
        "grant": grant,
        "read_only": grant is not None or not may_change(db.session, current_user, case),
        "agreement_error": agreement_error,
        # The page has the tenant's current consent already (state): no second read of it.
        **hold_context(db.session, case, consented="landlord" in state.consented_kinds),
    }
    return render_template("register/case.html", **context), status


@bp.get("/cases/<int:case_id>")
@roles_required("lead", "worker", "admin")
def case_page(case_id: int):
    """Everything about one case: household, tenancy, arrears, legal timeline, history.

    An administrator sees it only read-only, for a while, after giving a reason (break the
    glass); until then the answer is 403 with the form that asks for the reason."""
    if current_user.role == "admin":
        grant = _break_glass_grant(case_id)
        if grant is None:
            return render_template("register/break_glass.html", case_id=case_id), 403
        return _case_page(_load_case(case_id), grant=grant)
    return _case_page(_case_for_current_user(case_id, change=False))


@bp.post("/cases/<int:case_id>/break-glass")
@roles_required("admin")
def break_glass(case_id: int):
    """Emergency access for an administrator: the reason goes to the audit log."""
    try:
        with UnitOfWork(db.session) as uow:
            break_glass_for(uow, _actor(), case_id, request.form.get("reason", ""))
    except NotFound:
        abort(404)
    except GlassReasonTooShort:
        error = _("Give the reason in a sentence (at least 10 characters).")
        return render_template("register/break_glass.html", case_id=case_id, error=error), 400
    return redirect(url_for("register.case_page", case_id=case_id), code=303)


@bp.post("/cases/<int:case_id>")
@roles_required("lead", "worker")
def update(case_id: int):
    """Change status, cause or outcome; the form carries the version it was based on."""
    case = _case_for_current_user(case_id)
    form = request.form
    version = form.get("version", "")
    if not is_number(version):
        return _case_page(case, _("The form is missing the case version; reload the page."), 400)
    change = CaseChange(
        int(version),
        status=form.get("status") or None,
        cause=form.get("cause") or None,
        outcome=form.get("outcome") or None,
    )
    try:
        with UnitOfWork(db.session) as uow:
            changed = case_use.change_case(uow, _actor(), case_id, change)
            saved = _case_change_message(changed, uow.session.get(Case, case_id))
    except Stale as error:
        return _case_page(_case_for_current_user(case_id), str(error), 409)
    except Refused as error:
        return _case_page(_case_for_current_user(case_id), str(error), 400)
    flash(saved)
    return redirect(url_for("register.case_page", case_id=case_id), code=303)


def _case_change_message(changed: list[str], case: Case) -> str:
    """What the status form changed, in words ("Saved: status In contact.")."""
    if not changed:
        return _("Nothing to save: the status, outcome and cause were as chosen already.")
    words = []
    if "status" in changed:
        words.append(_("status %(status)s", status=STATUS_LABELS.get(case.status, case.status)))
    if "outcome" in changed and case.outcome:
        words.append(_("outcome %(outcome)s", outcome=OUTCOME_LABELS.get(case.outcome, "")))
    if "cause" in changed:
        words.append(_("cause %(cause)s", cause=CAUSE_LABELS.get(case.cause, case.cause)))
    return _("Saved: %(changes)s.", changes=", ".join(str(w) for w in words))


@bp.post("/cases/<int:case_id>/assign")
@roles_required("lead")
def assign_one(case_id: int):
    """Reassign one case from its page; the history keeps who had it before."""
    case = _case_for_current_user(case_id)
    raw = request.form.get("worker", "")
    if raw != "0" and not is_number(raw):
        return _case_page(case, _("Choose the worker to assign the case to."), 400)
    worker_id = None if raw == "0" else int(raw)
    try:
        with UnitOfWork(db.session) as uow:
            changed = case_use.assign(uow, _actor(), [case_id], worker_id)
            worker = uow.session.get(User, worker_id) if worker_id is not None else None
            name = (worker.name or worker.email) if worker is not None else ""
    except Refused as error:
        message = str(error)
        if english(error) == CHOOSE_THE_WORKER:
            message = _("Choose the worker to assign the case to.")
        return _case_page(_case_for_current_user(case_id), message, 400)
    if not name:
        flash(_("Taken back: nobody has the case now.") if changed else _("Nobody had the case."))
    elif changed:
        flash(_("Assigned to %(name)s.", name=name))
    else:
        flash(_("The case was with %(name)s already.", name=name))
    return redirect(url_for("register.case_page", case_id=case_id), code=303)


@bp.post("/cases/<int:case_id>/household")
@roles_required("lead")
def correct(case_id: int):
    """Correct the household's details as the tenant asks (right to rectification)."""
    _case_for_current_user(case_id)
    try:
        with UnitOfWork(db.session) as uow:
            changed = case_use.correct(uow, _actor(), case_id, request.form.to_dict())
    except Refused as error:
        return _case_page(_case_for_current_user(case_id), str(error), 400)
    if changed:
        labels = ", ".join(str(HOUSEHOLD_FIELD_LABELS[name]) for name in changed)
        flash(_("Corrected: %(fields)s.", fields=labels))
    return redirect(url_for("register.case_page", case_id=case_id), code=303)


@bp.post("/cases/<int:case_id>/legal-steps")
@roles_required("lead", "worker")
def legal_step(case_id: int):
    """Enter a petition, hearing or eviction date on the case."""
    case = _case_for_current_user(case_id)
    raw_date = request.form.get("date", "")
    try:
        when = date.fromisoformat(raw_date)
    except ValueError:
        message = _(
            "Date: %(value)r is not a date (use the date picker, YYYY-MM-DD).", value=raw_date
        )
        return _case_page(case, message, 400)
    raw_time = request.form.get("at_time", "").strip()
    try:
        # The time picker sends 10:00; a browser without one sends what was typed (kl. 10.00).
        at_time = parse_clock(raw_time) if raw_time else None
    except ValueError:
        message = _("Time: %(value)r is not a time of day (e.g. 10:00).", value=raw_time)
        return _case_page(case, message, 400)
    step = NewLegalStep(
        request.form.get("kind", ""),
        when,
        request.form.get("note", ""),
        at_time=at_time,
        place=request.form.get("place", ""),
    )
    try:
        with UnitOfWork(db.session) as uow:
            case_use.add_step(uow, _actor(), case_id, step)
    except Refused as error:
        return _case_page(_case_for_current_user(case_id), str(error), 400)
    label = str(DEADLINE_LABELS.get(step.kind, step.kind))
    # The same step sent twice (a double click) is there once: the same words say so.
    day = " ".join(filter(None, (format_date(when), clock_label(at_time))))
    flash(_("%(step)s %(date)s added to the timeline.", step=label, date=day))
    if when < local_today(db.session, current_user):
        # Accepted (a step that happened is history worth having), but said: a hearing
        # dated last year on an open case is more often a typing error than news.
        flash(_("That date has passed: check that it is right."))
    return redirect(url_for("register.case_page", case_id=case_id), code=303)


def arrears_chart(history, width: int = 320, height: int = 90) -> dict | None:
    """Bars for the arrears on each list, scaled into a small SVG (drawn by the template)."""
    if not history:
        return None
    top = max(record.amount for record in history) or 1
    step = width / len(history)
    bars = []
    for index, record in enumerate(history):
        bar_height = max(2.0, (height - 20) * record.amount / top) if record.amount else 2.0
        bars.append(
            {
                "x": round(index * step + step * 0.15, 1),
                "width": round(step * 0.7, 1),
                "y": round(height - 16 - bar_height, 1),
                "height": round(bar_height, 1),
                "record": record,
            }
        )
    return {"width": width, "height": height, "bars": bars}


@bp.post("/cases/<int:case_id>/position")
@roles_required("lead")
def position(case_id: int):
    """Place or move the household's pin by hand; a hand-placed pin always wins."""
    case = _case_for_current_user(case_id)
    form = request.form
    try:
        lat, lon = float(form.get("lat", "")), float(form.get("lon", ""))
    except ValueError:
        lat = lon = float("nan")
    try:
        with UnitOfWork(db.session) as uow:
            case_use.place_pin(uow, _actor(), case_id, lat, lon)
    except NotAllowed:
        abort(403)
    except Refused:
        message = _(
            "Position: %(lat)r, %(lon)r is not a latitude and longitude.",
            lat=form.get("lat", ""),
            lon=form.get("lon", ""),
        )
        return _case_page(case, message, 400)
    flash(_("The pin is placed by hand; it stays where you put it."))
    return redirect(url_for("register.case_page", case_id=case_id), code=303)


def _subject_access(household_id: int, form: str) -> dict:
    try:
        with UnitOfWork(db.session) as uow:
            return export_household_record(
                uow, Actor.person(current_user, client_address()), household_id, form
            )
    except NotFound:
        abort(404)


@bp.get("/households/<int:household_id>/record")
@roles_required("lead")
def subject_access(household_id: int):
    """Everything held on a household, readable and printable (right of access, Art. 15)."""
    return render_template(
        "register/subject_access.html", record=_subject_access(household_id, "html")
    )


@bp.get("/households/<int:household_id>/record.json")
@roles_required("lead")
def subject_access_json(household_id: int):
    """The same, machine-readable, as a download."""
    record = _subject_access(household_id, "json")
    response = current_app.response_class(
        current_app.json.dumps(record, ensure_ascii=False, indent=2),
        mimetype="application/json",
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="household-{household_id}.json"'
    )
    return response


@bp.post("/households/<int:household_id>/erase")
@roles_required("lead")
def erase(household_id: int):
    """Erase a household on the tenant's request, with the reason; refused while a case is
    open. What the statistics need stays, as after the retention period."""
    erasure = ErasureRequest(household_id, request.form.get("reason", ""))
    try:
        with UnitOfWork(db.session) as uow:
            erase_household_on_request(uow, Actor.person(current_user, client_address()), erasure)
    except NotFound:
        abort(404)
    except ReasonTooShort:
        flash(_("Give the reason for the erasure in a sentence (at least 10 characters)."))
        return redirect(url_for("register.subject_access", household_id=household_id), code=303)
    except Refused as refused:
        flash(_("Not erased: %(reason)s.", reason=str(refused)))
        return redirect(url_for("register.subject_access", household_id=household_id), code=303)
    flash(_("The household is erased; the case figures stay for the statistics."))
    return redirect(url_for("register.cases"), code=303)
