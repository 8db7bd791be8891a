"""What the administrator sets for the whole organisation: the two-factor rule, the consent
texts and the legal bases for sharing without consent; and an administrator's emergency
access to a case (break the glass)."""

from __future__ import annotations

from ..domain.organisation import organisation_of
from ..domain.sharing import LegalBasesError, clean_legal_bases
from ..models import Case, ConsentText, Organisation
from ..services.audit import record_event
from ..services.fieldwork import add_consent_text
from . import Actor, NotFound, Refused, UnitOfWork


def _only_admin(actor: Actor) -> None:
    if actor.role != "admin" or actor.user is None:
        raise Refused("Only an administrator changes the organisation's settings.")


def _admin(uow: UnitOfWork, actor: Actor) -> Organisation:
    _only_admin(actor)
    organisation = organisation_of(uow.session)
    if organisation is None:
        raise NotFound("No organisation yet.")
    return organisation


def require_two_factor(uow: UnitOfWork, actor: Actor, required: bool) -> None:
    """Require (or stop requiring) two-factor login for leads and administrators."""
    organisation = _admin(uow, actor)
    organisation.require_totp = required
    record_event(
        uow.session, actor.user, "update", "organisation", organisation.id, actor.address,
        "two-factor login required" if required else "two-factor login optional",
    )  # fmt: skip


def publish_consent_text(uow: UnitOfWork, actor: Actor, language: str, body: str) -> ConsentText:
    """A new version of the consent wording in one language (every version is kept)."""
    _only_admin(actor)
    try:
        text = add_consent_text(uow.session, language, body, actor.user)
    except ValueError as error:
        raise Refused(str(error)) from None
    record_event(uow.session, actor.user, "create", "consent_text", text.id, actor.address)
    return text


def set_legal_bases(uow: UnitOfWork, actor: Actor, text: str) -> None:
    """The legal bases for sharing without consent, one a line, checked by line."""
    organisation = _admin(uow, actor)
    try:
        organisation.sharing_legal_bases = clean_legal_bases(text)
    except LegalBasesError as error:
        raise Refused(str(error)) from None
    record_event(
        uow.session, actor.user, "update", "organisation", organisation.id, actor.address,
        "legal bases for sharing without consent",
    )  # fmt: skip


class ReasonTooShort(Refused):
    """Breaking the glass needs its reason in a sentence."""


def break_glass(uow: UnitOfWork, actor: Actor, case_id: int, reason: str) -> None:
    """An administrator's emergency, read-only access to a case for a while; the reason is
    the audit line the case page looks for (and the DPO reads)."""
    if actor.role != "admin" or actor.user is None:
        raise Refused("Only an administrator breaks the glass.")
    reason = " ".join(reason.split())
    if len(reason) < 10:
        raise ReasonTooShort("Give the reason in a sentence (at least 10 characters).")
    if uow.session.get(Case, case_id) is None:
        raise NotFound("No such case.")
    record_event(uow.session, actor.user, "break_glass", "case", case_id, actor.address, reason)


def set_identity_provider(
    uow: UnitOfWork, actor: Actor, organisation_name: str, assignments: list[str], defaults: dict
) -> Organisation:
    """An organisation's own identity providers (OIDC_*/SAML_* settings; an empty value removes
    one, no setting left: the installation's again), checked as a whole before anything is
    stored. Only the operator at the command line: the settings hold a client secret and key
    paths, and decide who can log in. Audited by setting name, never by value."""
    from sqlalchemy import select

    from ..domain.identity import (
        IdentitySettingsError,
        parse_identity_assignments,
        stored_identity_settings,
    )

    if actor.role != "operator":
        raise Refused("Identity providers are set at the command line.")
    organisation = uow.session.scalar(
        select(Organisation).where(Organisation.name == organisation_name)
    )
    if organisation is None:
        raise NotFound(f"There is no organisation named {organisation_name!r}.")
    try:
        current = stored_identity_settings(organisation.identity_settings)
        updated = parse_identity_assignments(assignments, current, defaults)
    except IdentitySettingsError as error:
        raise Refused(str(error)) from None
    import json

    organisation.identity_settings = json.dumps(updated, sort_keys=True) if updated else ""
    changed = sorted(k for k in set(current) | set(updated) if current.get(k) != updated.get(k))
    record_event(
        uow.session, actor.user, "update", "organisation", organisation.id, actor.address,
        "identity provider settings: " + (", ".join(changed) or "unchanged"),
    )  # fmt: skip
    return organisation
