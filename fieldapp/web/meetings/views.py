"""Views for the lead's meetings: plan one, compose its agenda from the rules' proposals and
a search, decide case by case, print the agenda/minutes."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ...domain.numbers import whole_number
from ...extensions import db, htmx
from ...models import Partner
from ...services.access import current_scopes
from ...services.audit import record_event
from ...services.meetings import (
    DEFAULT_AGENDA_SIZE,
    MAX_AGENDA_SIZE,
    DecisionRecorded,
    MeetingError,
    NoConsent,
    agenda_for,
    agenda_number,
    load_meeting,
    meetings_of_team,
    proposals_for,
)
from ...usecases import Actor, NotFound, Refused, UnitOfWork
from ...usecases import meetings as meeting_use
from ...usecases.meetings import (
    Decision,
    add_case_to_agenda,
    cases_to_add,
    legal_bases_of,
    plan_meeting,
    remove_from_meeting,
)
from ..labels import AGENDA_REASON_LABELS, DEADLINE_LABELS
from ..security import client_address, is_number, roles_required
from . import bp
from .pdf import minutes_pdf


def _partners():
    return db.session.scalars(select(Partner).order_by(Partner.name)).all()


def _list_page(error: str | None = None, status: int = 200, form: dict | None = None):
    return (
        render_template(
            "meetings/list.html",
            meetings=meetings_of_team(db.session, current_user.team_id),
            partners=_partners(),
            error=error,
            form=form or {},
            today=date.today(),
            default_size=DEFAULT_AGENDA_SIZE,
            max_size=MAX_AGENDA_SIZE,
        ),
        status,
    )


@bp.get("")
@roles_required("lead")
def meetings():
    """The team's meetings and a form to plan the next one."""
    return _list_page()


@bp.post("")
@roles_required("lead")
def create():
    """Plan a meeting; its agenda is built from the register at once."""
    form = request.form
    try:
        held_on = date.fromisoformat(form.get("held_on", ""))
    except ValueError:
        message = _("Date: %(value)r is not a date (YYYY-MM-DD).", value=form.get("held_on", ""))
        return _list_page(message, 400, dict(form))
    partner_ids = [int(v) for v in form.getlist("partner") if is_number(v)]
    raw_size = form.get("agenda_size", "").strip()
    size = whole_number(raw_size, 0, MAX_AGENDA_SIZE) if raw_size else DEFAULT_AGENDA_SIZE
    if size is None:
        message = _(
            "Cases to start with: %(value)r is not a number from 0 to %(max)d.",
            value=raw_size,
            max=MAX_AGENDA_SIZE,
        )
        return _list_page(message, 400, dict(form))
    title = form.get("title", "")
    try:
        with UnitOfWork(db.session) as uow:
            meeting = plan_meeting(uow, _actor(), held_on, title, partner_ids, size)
            meeting_id, count = meeting.id, len(meeting.items)
    except Refused as error:
        return _list_page(str(error), 400, dict(form))
    flash(
        ngettext(
            "Meeting planned; the agenda starts with the most urgent case the rules propose.",
            "Meeting planned; the agenda starts with the %(num)d most urgent cases the rules "
            "propose.",
            count,
        )
        if count
        else _("Meeting planned; the agenda is empty. Add cases from the proposals or a search.")
    )
    return redirect(url_for("meetings.meeting", meeting_id=meeting_id), code=303)


def _actor() -> Actor:
    return Actor.person(current_user, client_address())


def _meeting_or_404(meeting_id: int):
    meeting = load_meeting(db.session, meeting_id, current_user.team_id)
    if meeting is None:
        abort(404)
    return meeting


def _legal_bases() -> list[str]:
    return legal_bases_of(UnitOfWork(db.session), _actor())


def _context(meeting, query: str = "", found=None, whole_page: bool = True):
    partners = _partners()
    return {
        "meeting": meeting,
        # the proposals only on the whole page (an item's fragment does not show them)
        "proposals": proposals_for(db.session, meeting) if whole_page else [],
        "query": query,
        "found": found,
        "numbers": {
            item.id: number
            for number, item in enumerate(
                sorted(meeting.items, key=lambda i: (i.position, i.id)), 1
            )
        },
        "legal_bases": _legal_bases(),
        "partners": partners,
        "partners_by_id": {p.id: p for p in partners},
        "scopes": current_scopes(db.session, [item.case_id for item in meeting.items]),
    }


@bp.get("/<int:meeting_id>")
@roles_required("lead")
def meeting(meeting_id: int):
    """The lead's working view during the meeting: each case and its decision form."""
    found = _meeting_or_404(meeting_id)
    record_event(db.session, current_user, "view", "meeting", found.id, client_address())
    db.session.commit()
    return render_template("meetings/meeting.html", **_context(found), errors={})


@bp.post("/<int:meeting_id>/agenda")
@roles_required("lead")
def add_case(meeting_id: int):
    """Put a case on the agenda (from the proposals or a search), before or during the
    meeting; the same form sent twice adds it once."""
    raw = request.form.get("case_id", "")
    if not is_number(raw):
        abort(404)
    try:
        with UnitOfWork(db.session) as uow:
            item, added = add_case_to_agenda(uow, _actor(), meeting_id, int(raw))
            number = agenda_number(item.meeting, item)
            item_id = item.id
    except NotFound:
        abort(404)
    except Refused:
        flash(_("Only an open case can go on the agenda."))
        return redirect(url_for("meetings.meeting", meeting_id=meeting_id), code=303)
    if added:
        flash(_("Added to the agenda as item %(num)d.", num=number))
    else:
        flash(_("That case is on the agenda already, as item %(num)d.", num=number))
    url = url_for("meetings.meeting", meeting_id=meeting_id) + f"#item-{item_id}"
    return redirect(url, code=303)


@bp.post("/<int:meeting_id>/items/<int:item_id>/remove")
@roles_required("lead")
def remove_item(meeting_id: int, item_id: int):
    """Take a case off the agenda; refused once a decision is recorded for it."""
    try:
        with UnitOfWork(db.session) as uow:
            number = remove_from_meeting(uow, _actor(), meeting_id, item_id)
    except NotFound:
        abort(404)
    except DecisionRecorded:
        found = _meeting_or_404(meeting_id)
        item = next(i for i in found.items if i.id == item_id)
        message = _(
            "Item %(num)d stays on the agenda: a decision is recorded for it, and it is an "
            "action on the case and on the partners' copies. Correct the decision instead.",
            num=agenda_number(found, item),
        )
        page = render_template(
            "meetings/meeting.html", **_context(found), errors={item.id: message}
        )
        return page, 409
    flash(_("Item %(num)d is off the agenda; the items after it move up.", num=number))
    return redirect(url_for("meetings.meeting", meeting_id=meeting_id), code=303)


@bp.post("/<int:meeting_id>/search")
@roles_required("lead")
def search(meeting_id: int):
    """Find an open case of the team to add, by name, address or tenancy number (posted,
    never in a URL; without the Nordic letters too, as on the case list)."""
    query = request.form.get("q", "").strip()[:100]
    try:
        with UnitOfWork(db.session) as uow:
            found = cases_to_add(uow, _actor(), meeting_id, query)
    except NotFound:
        abort(404)
    meeting = _meeting_or_404(meeting_id)
    context = {**_context(meeting, query, found), "errors": {}}
    if htmx and not htmx.boosted:
        return render_template("meetings/_search.html", **context)
    return render_template("meetings/meeting.html", **context)


@bp.post("/<int:meeting_id>/items/<int:item_id>")
@roles_required("lead")
def decide(meeting_id: int, item_id: int):
    """Record the decision for one case; it becomes an action on the case."""
    found = _meeting_or_404(meeting_id)
    item = next((i for i in found.items if i.id == item_id), None)
    if item is None:
        abort(404)
    form = request.form
    error = None
    due_on = None
    if form.get("due_on"):
        try:
            due_on = date.fromisoformat(form["due_on"])
        except ValueError:
            error = _("Due date: %(value)r is not a date (YYYY-MM-DD).", value=form["due_on"])
    partner_raw = form.get("partner_id", "")
    partner_id = int(partner_raw) if is_number(partner_raw) else None
    if error is None:
        decision = Decision(
            form.get("decision", ""),
            partner_id,
            form.get("responsible", ""),
            due_on,
            form.get("legal_basis", "").strip(),
        )
        try:
            with UnitOfWork(db.session) as uow:
                item = meeting_use.decide(uow, _actor(), meeting_id, item_id, decision)
                number = agenda_number(item.meeting, item)
        except NoConsent as refused:
            error = _(
                "%(partner)s cannot be given this: the tenant has not consented to sharing "
                "with %(partner)s. Ask for consent at the next visit, or choose the legal "
                "basis for sharing without consent.",
                partner=refused.partner,
            )
        except MeetingError as problem:
            error = str(problem)
    if error is not None:
        found = _meeting_or_404(meeting_id)
        item = next(i for i in found.items if i.id == item_id)
        context = {**_context(found, whole_page=not htmx), "item": item, "errors": {item.id: error}}
        template = "meetings/_item.html" if htmx else "meetings/meeting.html"
        return render_template(template, **context), 400 if not htmx else 200
    if htmx:
        found = _meeting_or_404(meeting_id)
        item = next(i for i in found.items if i.id == item_id)
        return render_template(
            "meetings/_item.html",
            **_context(found, whole_page=False),
            item=item,
            errors={},
            saved=True,
        )
    flash(_("Decision saved for item %(num)d; it is an action on the case.", num=number))
    return redirect(
        url_for("meetings.meeting", meeting_id=meeting_id) + f"#item-{item_id}", code=303
    )


def _reader(meeting_id: int, action: str):
    """The meeting and the partner a copy is for (none: the whole table); audited."""
    found = _meeting_or_404(meeting_id)
    partner = None
    raw = request.args.get("partner", "")
    if is_number(raw):
        partner = db.session.get(Partner, int(raw))
        if partner is None:
            abort(404)
    elif raw:
        abort(404)
    record_event(
        db.session,
        current_user,
        action,
        "meeting",
        found.id,
        client_address(),
        f"partner {partner.id}" if partner else "all",
    )
    db.session.commit()
    return found, partner


def _copy_note(partner) -> str:
    if partner is not None:
        return _(
            "Copy for %(name)s: tenant details are shown only where the tenant consented "
            "to sharing with you.",
            name=partner.name,
        )
    return _(
        "Copy for the table: tenant details are shown only where the tenant consented to "
        "sharing with every partner present."
    )


def _withheld_note(partner) -> str:
    """What a copy says of a case whose tenant has not consented to share with its reader."""
    if partner is not None:
        return _(
            "Discussed without %(partner)s: the tenant has not agreed to share this case with you.",
            partner=partner.name,
        )
    return _(
        "Discussed without the partners: the tenant has not agreed to share this case with "
        "every partner at the table."
    )


@bp.get("/<int:meeting_id>/print")
@roles_required("lead")
def print_view(meeting_id: int):
    """Agenda and minutes for A4, showing each partner only what the tenant consented to."""
    found, partner = _reader(meeting_id, "print")
    return render_template(
        "meetings/print.html",
        meeting=found,
        lines=agenda_for(db.session, found, partner),
        partner=partner,
        partners_by_id={p.id: p for p in _partners()},
        note=_copy_note(partner),
        withheld_note=_withheld_note(partner),
        copy_title=_copy_title(found, partner),
    )


def _copy_title(meeting, partner) -> str:
    """The copy's title, which a browser offers as the file name when it is saved as PDF."""
    day = format_date(meeting.held_on, "medium")
    if partner is not None:
        return _("Meeting %(date)s, agenda for %(partner)s", date=day, partner=partner.name)
    return _("Meeting %(date)s, agenda for the whole table", date=day)


def _file_word(name: str) -> str:
    """An organisation's name as a file-name word: "Gældsrådgivningen" -> "gaeldsradgivningen"."""
    folded = name.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    plain = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:40] or "partner"


@bp.get("/<int:meeting_id>/minutes.pdf")
@roles_required("lead")
def minutes(meeting_id: int):
    """The same copy as a PDF file, for sending to the partners after the meeting."""
    found, partner = _reader(meeting_id, "export")
    partners_by_id = {p.id: p for p in _partners()}
    rows = []
    for line in agenda_for(db.session, found, partner):
        item, case = line.item, line.item.case
        number = _("Item %(num)d", num=line.number)
        if not line.show_details:
            rows.append([number, _withheld_note(partner), "", "", ""])
            continue
        household = case.tenancy.household
        who = f"{number}\n{line.reference}\n{household.name}\n{household.address}"
        why = "; ".join(str(AGENDA_REASON_LABELS.get(r, r)) for r in item.reasons)
        if case.next_deadline:
            kind = DEADLINE_LABELS.get(case.next_deadline_kind or "", "")
            why += f"\n{kind} {format_date(case.next_deadline, 'medium')}"
        responsible = partners_by_id[item.partner_id].name if item.partner_id else ""
        if item.responsible:
            responsible = f"{responsible}\n{item.responsible}".strip()
        due = format_date(item.due_on, "medium") if item.due_on else ""
        rows.append([who, why, item.decision, responsible, due])
    title = _("Interdisciplinary meeting") + " " + format_date(found.held_on, "medium")
    if found.title:
        title += f" · {found.title}"
    headings = [_("Case"), _("Why on the agenda"), _("Decision"), _("Responsible"), _("Due")]
    data = minutes_pdf(
        title,
        _copy_note(partner),
        headings,
        rows,
        # fpdf2 puts the page count in place of {nb} when the file is written
        lambda page: _("Page %(num)d of %(total)s", num=page, total="{nb}"),
    )
    response = current_app.response_class(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{copy_file_name(found, partner)}"'
    )
    return response


def copy_file_name(meeting, partner) -> str:
    """Each copy its own file name, saying what it is and for whom, with no personal data:
    meeting-2026-12-10-agenda-whole-table.pdf, meeting-2026-12-10-agenda-debt-counselling.pdf
    (the partner's kind; its id too when another partner is of the same kind)."""
    whose = "whole-table"
    if partner is not None:
        whose = _file_word(partner.kind.replace("_", " "))
        twins = db.session.scalar(
            select(func.count()).where(Partner.kind == partner.kind, Partner.id != partner.id)
        )
        if twins:
            whose += f"-{partner.id}"
    return f"meeting-{meeting.held_on.isoformat()}-agenda-{whose}.pdf"
