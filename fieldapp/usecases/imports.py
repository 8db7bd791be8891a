"""Importing a landlord's arrears list or a file of legal steps: the web page and the
`fieldapp import-*` commands call these, so the same checks hold for both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from ..domain.registers import in_register
from ..domain.wording import N_, Wording
from ..models import ImportBatch, Landlord, Tenancy, User
from ..services.imports import ImportReport, find_landlord, import_arrears, import_legal_steps
from ..services.tabular import FileRefused
from . import Actor, Refused, UnitOfWork

IMPORTERS = ("lead", "operator", "landlord")
NOT_YOUR_LANDLORD = N_("You can send only your own lists (the landlord you are bound to).")


class PartialList(Refused):
    """The list leaves out many of the tenancies in arrears: probably a partial list."""

    def __init__(self, cleared: int, in_arrears: int) -> None:
        self.cleared, self.in_arrears = cleared, in_arrears
        super().__init__(
            f"This list leaves out {cleared} of the {in_arrears} tenancies now in arrears; "
            "importing it marks them paid up. Say that this is the landlord's complete list, "
            "or import the complete list."
        )


def mass_clear(cleared: int, in_arrears: int) -> bool:
    """A list that leaves out many of the tenancies in arrears is probably a partial list:
    importing it would mark them all paid up, so the importer must say it is complete."""
    return cleared > 5 and cleared > 0.3 * in_arrears


@dataclass(frozen=True)
class ArrearsUpload:
    """What the importer gives: the file, the landlord, and their explicit choices."""

    data: bytes
    filename: str
    landlord: Landlord
    as_of: date | None = None
    mapping: dict[str, str] | None = None
    complete_list: bool = False  # "this is the landlord's whole list" (the partial-list guard)
    older_list: bool = False  # "this list is older than the last one, on purpose"


def _require_importer(actor: Actor) -> None:
    if actor.role not in IMPORTERS:
        raise Refused("Only a team lead imports lists.")
    if actor.role == "lead" and actor.team_id is None and actor.user is not None:
        raise Refused("You belong to no team, so there is no register to import into.")
    if actor.role == "landlord" and (
        actor.user is None or actor.landlord_id is None or actor.team_id is None
    ):
        raise Refused(Wording(NOT_YOUR_LANDLORD))


def own_landlord(session, actor: Actor) -> Landlord | None:
    """The landlord a landlord person's lists are fixed to (None for anyone else)."""
    if actor.role != "landlord" or actor.landlord_id is None:
        return None
    return session.get(Landlord, actor.landlord_id)


def list_imports(actor: Actor, session, limit: int = 20) -> list[ImportBatch]:
    """The latest imports into the actor's register (another team's are not theirs to see)."""
    query = (
        select(ImportBatch)
        .where(in_register(ImportBatch.team_id, actor.team_id))
        .order_by(ImportBatch.created_at.desc())
    )
    if actor.role == "landlord":
        query = query.where(own_uploads(actor))
    return list(session.scalars(query.limit(limit)))


def own_uploads(actor: Actor):
    """For a landlord person: the imports made by people of their landlord (their rows are
    the landlord's own data); a condition on ImportBatch. Nothing for a landlord unbound."""
    people = select(User.id).where(
        User.landlord_id == actor.landlord_id, User.landlord_id.is_not(None),
        User.team_id == actor.team_id,
    )  # fmt: skip
    return ImportBatch.created_by_id.in_(people)


def in_arrears(uow: UnitOfWork, actor: Actor, landlord: Landlord) -> int:
    """How many of the landlord's tenancies in the actor's register are in arrears now."""
    if landlord.id is None:
        return 0
    return (
        uow.session.scalar(
            select(func.count(Tenancy.id)).where(
                Tenancy.landlord_id == landlord.id,
                Tenancy.current_arrears > 0,
                in_register(Tenancy.team_id, actor.team_id),
            )
        )
        or 0
    )


def import_arrears_list(
    uow: UnitOfWork, actor: Actor, upload: ArrearsUpload, *, today: date | None = None
) -> ImportReport:
    """Import (or, in a dry-run unit of work, preview) an arrears list into the actor's
    team's register. Refused (nothing stored): a file that cannot be read, an implausible
    list date, a list that would clear many tenancies without complete_list (not on a dry
    run: the preview shows the warning instead)."""
    _require_importer(actor)
    if actor.role == "landlord" and upload.landlord.id != actor.landlord_id:
        raise Refused(Wording(NOT_YOUR_LANDLORD))  # a landlord's list is fixed to their own
    before = in_arrears(uow, actor, upload.landlord)
    try:
        report = import_arrears(
            uow.session,
            upload.data,
            upload.filename,
            upload.landlord,
            as_of=upload.as_of,
            user=actor.user,
            dry_run=uow.dry_run,
            mapping=upload.mapping,
            today=today,
            team_id=actor.team_id,
            older_list=upload.older_list,
            audit_address=actor.address,
        )
    except FileRefused as error:
        raise Refused(str(error)) from None
    if not uow.dry_run and mass_clear(report.cleared, before) and not upload.complete_list:
        raise PartialList(report.cleared, before)
    if not uow.dry_run and not report.already_imported:
        _save_mapping(uow, upload, report)
    return report


def _save_mapping(uow: UnitOfWork, upload: ArrearsUpload, report: ImportReport) -> None:
    """The confirmed column mapping is kept for the landlord's next lists."""
    from ..models.types import utcnow

    landlord = find_landlord(uow.session, report.landlord or "")
    if landlord is None:
        return
    if upload.mapping is not None:
        landlord.column_mapping = upload.mapping
        landlord.mapping_confirmed_at = utcnow()
    elif landlord.column_mapping is None:
        landlord.column_mapping = dict(report.mapping)
        landlord.mapping_confirmed_at = utcnow()


def import_legal_steps_file(
    uow: UnitOfWork,
    actor: Actor,
    data: bytes,
    filename: str,
    *,
    today: date | None = None,
    landlord_name: str | None = None,
) -> ImportReport:
    """Import (or preview) a file of legal steps into the actor's team's register: a row
    names a tenancy of this team, or opens one of its own; another team's is never found.
    A landlord person's file is about their own tenancies only (others' rows rejected); so
    is a file imported with landlord_name (the command line's --landlord)."""
    _require_importer(actor)
    landlord = own_landlord(uow.session, actor)  # a landlord: only their own tenancies
    if landlord is None and landlord_name:  # an operator importing one landlord's own file
        landlord = find_landlord(uow.session, landlord_name)
        if landlord is None:
            raise Refused(f"There is no landlord named {landlord_name!r}.")
    try:
        return import_legal_steps(
            uow.session,
            data,
            filename,
            user=actor.user,
            dry_run=uow.dry_run,
            today=today,
            team_id=actor.team_id,
            audit_address=actor.address,
            landlord=landlord,
        )
    except FileRefused as error:
        raise Refused(str(error)) from None
