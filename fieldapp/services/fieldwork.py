"""What the case card shows at the door, and the consent texts workers read out."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from ..models import Action, Case, Consent, ConsentText, Need, Partner, User, Visit
from .partner_work import PartnerNote, partner_notes

LANGUAGES = ("da", "nb", "en")

DEFAULT_CONSENT_TEXTS = {
    "da": (
        "Jeg giver samtykke til, at kommunens opsøgende medarbejder må indhente og udveksle "
        "oplysninger om min boligsituation, økonomi og de behov, vi har aftalt, med de "
        "samarbejdspartnere, der er krydset af nedenfor. Formålet er at forebygge, at jeg "
        "mister min bolig. Jeg kan til enhver tid trække mit samtykke tilbage."
    ),
    "nb": (
        "Jeg samtykker til at kommunens oppsøkende medarbeider kan innhente og utveksle "
        "opplysninger om min bosituasjon, økonomi og de behovene vi har avtalt, med "
        "samarbeidspartnerne som er krysset av nedenfor. Formålet er å hindre at jeg mister "
        "boligen min. Jeg kan når som helst trekke samtykket tilbake."
    ),
    "en": (
        "I consent to the municipality's outreach worker obtaining and sharing information "
        "about my housing, finances and the needs we have agreed on with the partners ticked "
        "below. The purpose is to prevent me from losing my home. I can withdraw this consent "
        "at any time."
    ),
}


def current_consent_texts(session: Session) -> dict[str, ConsentText]:
    """The newest version of the consent text in each language."""
    newest = (
        select(ConsentText.language, func.max(ConsentText.version).label("version"))
        .group_by(ConsentText.language)
        .subquery()
    )
    rows = session.scalars(
        select(ConsentText).join(
            newest,
            (ConsentText.language == newest.c.language) & (ConsentText.version == newest.c.version),
        )
    )
    return {text.language: text for text in rows}


def add_consent_text(session: Session, language: str, body: str, by: User | None) -> ConsentText:
    """A new version of the text in a language; earlier versions stay for consents given."""
    if language not in LANGUAGES:
        raise ValueError(f"Language {language!r} is not one of {', '.join(LANGUAGES)}.")
    body = body.strip()
    if len(body) < 20:
        raise ValueError("The consent text is too short to be a consent text.")
    latest = session.scalar(
        select(func.max(ConsentText.version)).where(ConsentText.language == language)
    )
    text = ConsentText(
        language=language, version=(latest or 0) + 1, body=body, created_by_id=by.id if by else None
    )
    session.add(text)
    session.flush()
    return text


def ensure_consent_texts(session: Session) -> None:
    """Give a new deployment the default texts so consent can be recorded from day one."""
    existing = current_consent_texts(session)
    for language, body in DEFAULT_CONSENT_TEXTS.items():
        if language not in existing:
            add_consent_text(session, language, body, None)


@dataclass
class CaseCard:
    """Everything the worker needs at the door, newest first."""

    visits: list[Visit]
    consent: Consent | None
    needs: list[Need]
    actions: list[Action]
    partners: dict[int, Partner]
    consented_scopes: set[str] = field(default_factory=set)
    # Each action's latest update by its partner (services.partner_work), by action id.
    partner_notes: dict[int, PartnerNote] = field(default_factory=dict)

    def lacks_consent(self, action: Action) -> bool:
        """True when an action would share data with a partner the tenant has not agreed to."""
        if action.partner_id is None:
            return False
        partner = self.partners.get(action.partner_id)
        return partner is not None and partner.kind not in self.consented_scopes


def case_card(session: Session, case: Case) -> CaseCard:
    """The case's visits, consent, needs and actions in a handful of queries."""
    visits = session.scalars(
        select(Visit)
        .options(joinedload(Visit.worker))
        .where(Visit.case_id == case.id)
        .order_by(Visit.occurred_at.desc())
    ).all()
    consent = session.scalar(
        select(Consent)
        .where(Consent.case_id == case.id)
        .order_by(Consent.recorded_at.desc(), Consent.id.desc())
        .limit(1)
    )
    needs = session.scalars(
        select(Need).where(Need.case_id == case.id).order_by(Need.recorded_at.desc())
    ).all()
    actions = session.scalars(
        select(Action).where(Action.case_id == case.id).order_by(Action.recorded_at.desc())
    ).all()
    partners = {p.id: p for p in session.scalars(select(Partner))}
    scopes = set(consent.scopes) if consent is not None and consent.state == "given" else set()
    notes = partner_notes(session, [a.id for a in actions if a.partner_id is not None])
    return CaseCard(list(visits), consent, list(needs), list(actions), partners, scopes, notes)
