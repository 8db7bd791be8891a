"""Words for codes stored in the database, in the reader's language (Flask-Babel) and, for
partners, landlords and legal steps, in the terms of the organisation's country."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, time

from babel.numbers import format_currency
from flask import Flask, has_request_context, request
from flask_babel import format_date as babel_format_date
from flask_babel import format_datetime as babel_format_datetime
from flask_babel import format_decimal as babel_format_decimal
from flask_babel import format_time as babel_format_time
from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..domain.households import safe_phone
from ..domain.legal_clock import clock_rows, offered_steps
from ..domain.organisation import organisation_of
from ..domain.wording import use_translator
from ..extensions import db
from ..models.agreements import deduction_benefits_for
from ..models.field import CONSENT_SCOPES
from ..models.parties import COUNTRIES, partner_kinds_for

ROLE_LABELS = {
    "worker": _l("Outreach worker"),
    "lead": _l("Team lead"),
    "admin": _l("Administrator"),
    "dpo": _l("Data protection officer"),
    "partner": _l("Partner"),
    "landlord": _l("Landlord"),
}


def current_country() -> str:
    """The country whose words a page uses for partners, landlords and legal steps: the
    organisation of the person logged in (an administrator without a team: the first
    organisation's); once per request. Without a request (the command line), Denmark's."""
    if not has_request_context():
        return COUNTRIES[0]
    country = getattr(request, "_doorstep_country", None)
    if country is None:
        country = _country_of_person()
        request._doorstep_country = country
    return country


def _country_of_person() -> str:
    from flask_login import current_user

    from ..domain.organisation import organisation_of

    country = current_user.organisation_country if current_user.is_authenticated else None
    if country is None:  # no team (an administrator): the first organisation's
        organisation = organisation_of(db.session)
        country = organisation.country if organisation is not None else ""
    return country if country in COUNTRIES else COUNTRIES[0]


class CountryLabels(Mapping):
    """Words for codes that differ by country (partners, landlords, legal steps): a mapping
    that answers in the words of the page's organisation's country (`current_country`).
    Each country's table names every code ever stored, also those it does not offer."""

    def __init__(self, **by_country: dict) -> None:
        self.by_country = by_country

    def table(self, country: str | None = None) -> dict:
        """One country's words; the page's country's by default."""
        return self.by_country.get(country or current_country(), self.by_country[COUNTRIES[0]])

    def __getitem__(self, code: str):
        return self.table()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table())

    def __len__(self) -> int:
        return len(self.table())


# Legal steps in each country's own terms: in Denmark the landlord petitions the bailiff's
# court (fogedretten), which holds a fogedretsmøde and carries out the udsættelse; in Norway
# the landlord petitions the enforcement officer (namsmannen) for fravikelse. English names
# the local term where it helps.
DEADLINE_LABELS = CountryLabels(
    DK={
        "demand": _l("Written demand for payment (påkrav)"),
        "notice_9_11": _l("Notice to the benefits office before a petition"),
        "petition": _l("Petition to the bailiff's court (fogedretten)"),
        "hearing": _l("Meeting in the bailiff's court (fogedretsmøde)"),
        "eviction_scheduled": _l("Eviction by the bailiff (udsættelse)"),
        "executed": _l("Evicted by the bailiff"),
        "withdrawn": _l("Petition withdrawn"),
        "cancelled": _l("Eviction called off"),
        # Deadlines a clock step starts (domain.legal_clock), not steps.
        "demand_expires": _l("The tenant's 14 days to pay end (påkrav)"),
        "earliest_petition": _l("Earliest date of a petition"),
    },
    NO={
        "demand": _l("Written demand for payment"),
        "notice_9_11": _l("Notice to NAV (varsel etter husleieloven § 9-11)"),
        "petition": _l("Petition for eviction (begjæring om fravikelse)"),
        "hearing": _l("Court hearing (rettsmøte)"),
        "eviction_scheduled": _l("Eviction date set by the enforcement officer (fravikelse)"),
        "executed": _l("Eviction carried out (fravikelse)"),
        "withdrawn": _l("Petition for eviction withdrawn"),
        "cancelled": _l("Eviction called off (fravikelse)"),
        "demand_expires": _l("The deadline to pay ends"),
        "earliest_petition": _l("Earliest petition for fravikelse (14 days after the notice)"),
    },
)
LANDLORD_KIND_LABELS = CountryLabels(
    DK={
        "municipal": _l("Municipal housing (kommunal udlejning)"),
        "housing_association": _l("Housing association (almen boligorganisation)"),
        "private": _l("Private landlord"),
    },
    NO={
        "municipal": _l("Municipal housing (kommunal utleiebolig)"),
        "housing_association": _l("Housing cooperative or foundation (boligbyggelag, stiftelse)"),
        "private": _l("Private landlord"),
    },
)
# The partners a case may be shared with (Partner.kind, Consent.scopes). Each country's
# table also words the kinds it does not offer (models.parties.PARTNER_KINDS_BY_COUNTRY), so
# that a stored one still reads: a Danish organisation's "nav" is its job centre and benefits
# office, a Norwegian one's job centre or benefits office is NAV.
SCOPE_LABELS = CountryLabels(
    DK={
        "job_centre": _l("Job centre (jobcenter)"),
        "benefits_office": _l("Benefits office (ydelseskontor, borgerservice)"),
        "debt_counselling": _l("Debt counselling (gældsrådgivning)"),
        "mental_health": _l("Social psychiatry (socialpsykiatri)"),
        "addiction": _l("Addiction treatment (misbrugsbehandling)"),
        "housing_support": _l("Housing social work (boligsocial indsats)"),
        "social_janitor": _l("Social caretaker (social vicevært)"),
        "children_family": _l("Children and families department (familieafdelingen)"),
        "landlord": _l("Landlord"),
        "introduction_centre": _l("Integration services (integrationsindsats)"),
        "nav": _l("Job centre and benefits office"),
        "other": _l("Other"),
    },
    NO={
        "nav": _l("NAV (labour and welfare office)"),
        "housing_support": _l("Housing services (boligtjenesten, boligkontoret)"),
        "addiction": _l("Substance abuse services (rustjenesten)"),
        "mental_health": _l("Mental health services (psykisk helse)"),
        "introduction_centre": _l("Introduction centre (introduksjonssenteret)"),
        "debt_counselling": _l("Financial counselling (økonomisk rådgivning, NAV)"),
        "children_family": _l("Child welfare services (barnevernet)"),
        "landlord": _l("Landlord"),
        "social_janitor": _l("Housing support worker (miljøarbeider)"),
        "job_centre": _l("NAV (work)"),
        "benefits_office": _l("NAV (financial assistance)"),
        "other": _l("Other"),
    },
)
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
EVENT_LABELS = {
    "opened": _l("Case opened"),
    "assigned": _l("Assigned"),
    "status": _l("Status changed"),
    "cause": _l("Cause changed"),
    "closed": _l("Case closed"),
    "cleared": _l("No longer on the arrears list"),
    "arrears": _l("Arrears updated"),
    "legal_step": _l("Legal step entered"),
    "edited": _l("Contact details edited"),
    "visit": _l("Visit"),
    "consent": _l("Consent"),
    "need": _l("Need"),
    "action": _l("Agreed action"),
    "meeting_decision": _l("Decision at the meeting"),
    "conflict_resolved": _l("Conflicting edit resolved"),
    "corrected": _l("Household's details corrected"),
    "partner_update": _l("Action updated by the partner"),
}
HOUSEHOLD_FIELD_LABELS = {
    "name": _l("Name"),
    "address": _l("Address"),
    "postcode": _l("Postcode"),
    "town": _l("Town"),
    "phone": _l("Phone"),
    "language": _l("Language"),
    "adults": _l("Adults"),
    "children": _l("Children"),
    "needs_interpreter": _l("Needs an interpreter"),
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
    "at_time": _l("Time"),
    "place": _l("Court or place"),
}


def clock_label(at: time | None) -> str:
    """A legal step's hour as the reader says it: "at 10:00", "kl. 10.00" (Danish and
    Norwegian write the dot, whatever the locale's clock pattern says); "" for none."""
    if at is None:
        return ""
    return str(_l("at %(hours)s:%(minutes)s", hours=f"{at:%H}", minutes=f"{at:%M}"))


CHANNEL_LABELS = {
    "door": _l("At the door"),
    "phone": _l("By phone"),
    "office": _l("At the office"),
    "letter": _l("By letter"),
}
RESULT_LABELS = {
    "met": _l("Met the tenant"),
    "not_home": _l("Not at home"),
    "note_left": _l("Left a note"),
    "refused": _l("Refused to talk"),
    "moved": _l("Has moved"),
    "wrong_address": _l("Wrong address"),
}
_NEEDS = {
    "debt_counselling": _l("Debt counselling"),
    "budget": _l("Budget"),
    "benefit_application": _l("Benefit application"),
    "rent_from_benefits": _l("Rent paid directly from benefits"),
    "housing_benefit": _l("Housing benefit"),
    "cheaper_home": _l("Cheaper home"),
    "social_janitor": _l("Social janitor"),
    "housing_support": _l("Housing support"),
    "mental_health": _l("Mental health"),
    "addiction": _l("Addiction"),
    "children_family": _l("Children and family"),
    "interpreter": _l("Interpreter"),
}
# Help with work is the job centre's in Denmark and NAV's in Norway.
NEED_LABELS = CountryLabels(
    DK={**_NEEDS, "job_centre": _l("Job centre (jobcenter)")},
    NO={**_NEEDS, "job_centre": _l("Work and activity (NAV)")},
)
CONSENT_STATE_LABELS = {
    "given": _l("Consent given"),
    "declined": _l("Consent declined"),
    "withdrawn": _l("Consent withdrawn"),
}
METHOD_LABELS = {
    "signature": _l("Signature on the screen"),
    "verbal_witness": _l("Verbal, with a witness"),
    "paper": _l("On paper"),
}
OWNER_LABELS = {"tenant": _l("Tenant"), "worker": _l("Worker"), "partner": _l("Partner")}
ACTION_STATUS_LABELS = {
    "agreed": _l("Agreed"),
    "in_progress": _l("In progress"),
    "done": _l("Done"),
    "dropped": _l("Dropped"),
}
_AGENDA_REASONS = {
    "overdue_action": _l("Overdue action"),
    "new_in_arrears": _l("New in arrears"),
    "arrears_grew": _l("Arrears grew"),
    "no_contact": _l("No contact yet"),
    "added_by_lead": _l("Added by the team lead"),
}
# A legal deadline soon (Case.next_deadline: a court or bailiff date, or the end of a clock
# step's days, domain.legal_clock), in each country's terms.
AGENDA_REASON_LABELS = CountryLabels(
    DK={
        **_AGENDA_REASONS,
        "deadline_soon": _l(
            "A legal deadline within 4 weeks (påkrav, meeting in the bailiff's court, eviction)"
        ),
    },
    NO={
        **_AGENDA_REASONS,
        "deadline_soon": _l(
            "A legal deadline within 4 weeks (notice under § 9-11, court hearing, fravikelse)"
        ),
    },
)
UNASSIGNED_LABELS = {
    "no_coordinates": _l("no position on the map"),
    "no_worker_speaks_language": _l("no worker speaks the household's language"),
    "not_reachable_in_hours": _l("cannot be reached within the working hours"),
    "not_enough_hours": _l("the hours are full"),
    "optional_not_worth_it": _l("left for another day"),
    "already_visited": _l("already visited that day"),
    "no_workers": _l("no worker chosen"),
    "locked_worker_not_out": _l("locked to a worker who is not out that day"),
    "window_outside_hours": _l("the agreed time is outside the worker's hours"),
    "booking_not_met": _l("locked or agreed time that cannot be met with the other visits"),
    "case_not_open": _l("locked, but the case is no longer open"),
}
GEOCODE_PROBLEM_LABELS = {
    "not_found": _l("the geocoder does not know this address"),
    "too_far": _l("found too far from the municipality"),
    "failed": _l("the geocoder did not answer; try again later"),
}
# Payment plans and rent deductions from benefits (models.agreements). The benefits are the
# country's own: frivillig trekk from what NAV pays (Norway); the municipality's direct payment
# of the rent, or help under aktivloven § 81 a / § 81 b (Denmark).
PLAN_STATE_LABELS = {
    "active": _l("Running"),
    "kept": _l("Kept"),
    "broken": _l("Broken"),
    "ended": _l("Ended"),
}
DEDUCTION_STATE_LABELS = {
    "applied": _l("Applied for"),
    "confirmed": _l("Confirmed"),
    "refused": _l("Refused"),
    "ended": _l("Ended"),
}
CONFIRMER_LABELS = CountryLabels(
    DK={"landlord": _l("the landlord"), "benefit_office": _l("the benefit office")},
    NO={"landlord": _l("the landlord"), "benefit_office": _l("the NAV office")},
)
BENEFIT_LABELS = CountryLabels(
    DK={
        "cash_benefit": _l("Direct payment of the rent from cash benefit (kontanthjælp)"),
        "section_81a": _l("Direct payment of the rent (aktivloven § 81 a)"),
        "section_81b": _l("Help to keep the home (aktivloven § 81 b)"),
        "pension": _l("Direct payment of the rent from the pension (folkepension)"),
        "early_retirement": _l("Direct payment of the rent from early retirement (førtidspension)"),
        "other": _l("Other benefit"),
        "disability": _l("Disability benefit"),
        "aap": _l("Work assessment allowance"),
        "old_age_pension": _l("Old-age pension"),
        "social_assistance": _l("Social assistance"),
    },
    NO={
        "disability": _l("Voluntary deduction from disability benefit (uføretrygd)"),
        "aap": _l("Voluntary deduction from work assessment allowance (AAP)"),
        "old_age_pension": _l("Voluntary deduction from old-age pension (alderspensjon)"),
        "social_assistance": _l("Rent paid from social assistance (sosialhjelp)"),
        "other": _l("Other benefit"),
        "cash_benefit": _l("Cash benefit"),
        "section_81a": _l("Direct payment of the rent"),
        "section_81b": _l("Help to keep the home"),
        "pension": _l("Pension"),
        "early_retirement": _l("Early retirement pension"),
    },
)
# Why the landlord is asked to hold a petition (models.agreements.HOLD_REASONS), in each
# country's words: the benefit office is NAV in Norway; a deduction is "trekk" there and a
# direct payment of the rent in Denmark.
_HOLD_REASONS_EVERYWHERE = {
    "payment_plan": _l("A payment plan is being agreed"),
    "debt_counselling": _l("The tenant is in debt counselling"),
    "treatment": _l("The tenant is in treatment"),
    "rehousing": _l("The tenant is moving to a cheaper home"),
}
HOLD_REASON_LABELS = CountryLabels(
    DK={
        **_HOLD_REASONS_EVERYWHERE,
        "benefit_application": _l("An application to the benefits office is being decided"),
        "rent_deduction": _l("Direct payment of the rent from a benefit is being set up"),
    },
    NO={
        **_HOLD_REASONS_EVERYWHERE,
        "benefit_application": _l("An application to NAV is being decided"),
        "rent_deduction": _l("Deduction of the rent from a benefit (trekk) is being set up"),
    },
)
HOLD_STATE_LABELS = {
    "requested": _l("Waiting for the landlord's answer"),
    "accepted": _l("Accepted by the landlord"),
    "declined": _l("Declined by the landlord"),
    "withdrawn": _l("Withdrawn"),
}
HOLD_ENDING_LABELS = {
    "payment": _l("Ended in payment"),
    "petition": _l("Ended in a petition"),
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
            months = babel_format_decimal(value, format="#,##0.#")
            parts.append(str(_l("%(months)s months' rent", months=months)))
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
        elif code == "assess_at_once":
            # Denmark only (domain.legal_clock): the petition's date, in the reader's words.
            filed = babel_format_date(date.fromisoformat(value), "medium")
            parts.append(
                str(_l("petition %(date)s: assess at once (retssikkerhedsloven § 5 a)", date=filed))
            )
        elif code == "plan_broken":
            due = reason.get("due_on")
            shortfall = money_text(round((value or 0) / 100), _currency())
            if due:
                day = babel_format_date(date.fromisoformat(due), "medium")
                broken = _l(
                    "payment plan broken: %(amount)s behind since the instalment of %(date)s",
                    amount=shortfall,
                    date=day,
                )
                parts.append(str(broken))
            else:
                parts.append(str(_l("payment plan broken: %(amount)s behind", amount=shortfall)))
        elif code == "plan_kept":
            parts.append(str(_l("payment plan kept")))
    return " · ".join(parts)


def offered_scopes() -> list[str]:
    """The partners a consent may cover, as the page's organisation's country offers them."""
    return [kind for kind in partner_kinds_for(current_country()) if kind in CONSENT_SCOPES]


def _translate(msgid: str, values: dict) -> str | None:
    # A service's Wording on a page: the page's language (domain.wording).
    if not has_request_context():
        return None
    return gettext(msgid, **values)


def init_labels(app: Flask) -> None:
    """Make the label helpers available in every template."""
    use_translator(_translate)

    @app.template_filter("money")
    def _money(minor_units: int | None) -> str:
        # Stored in øre; shown as whole kroner with the organisation's currency, in the
        # reader's way of writing it: "13.000 kr." (da), "13 000 kr" (nb), "DKK 13,000" (en).
        if minor_units is None:
            return ""
        return money_text(round(minor_units / 100), _currency())

    @app.template_filter("language_name")
    def _language_name(code: str | None) -> str:
        # A language code (da, so, ar) as the language's name in the reader's language.
        return language_name(code)

    @app.template_filter("months")
    def _months(value: float | None) -> str:
        # Months of rent in the reader's number format: 2,5 in Danish, 2.5 in English.
        return "" if value is None else babel_format_decimal(value, format="#,##0.#")

    @app.template_filter("format_datetime")
    def _format_datetime(value) -> str:
        return babel_format_datetime(value, "short") if value else ""

    @app.template_filter("format_time")
    def _format_time(value) -> str:
        return babel_format_time(value, "short") if value else ""

    @app.template_filter("input_time")
    def _input_time(value) -> str:
        # The value of an <input type="time">: HH:MM in the reader's time zone.
        return babel_format_time(value, "HH:mm") if value else ""

    app.add_template_filter(clock_label, "clock")

    @app.template_filter("tel_link")
    def _tel_link(phone: str | None) -> str:
        # Only a number becomes a link: a stored "javascript:…" or free text stays text.
        number = safe_phone((phone or "").replace(" ", ""))
        return f"tel:{number}" if number else ""

    @app.template_filter("iso_date")
    def _iso_date(value: str | None) -> date | None:
        # A date kept as text in JSON (a plan's instalment) as a date, for format_date.
        try:
            return date.fromisoformat(value) if value else None
        except (TypeError, ValueError):
            return None

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
            "household_field_labels": HOUSEHOLD_FIELD_LABELS,
            "cause_labels": CAUSE_LABELS,
            "outcome_labels": OUTCOME_LABELS,
            "status_labels": STATUS_LABELS,
            "deadline_labels": DEADLINE_LABELS,
            "step_options": lambda: [
                (code, DEADLINE_LABELS.get(code, code)) for code in offered_steps(current_country())
            ],
            "legal_clock": lambda case: clock_rows(
                current_country(), case.legal_steps, case.next_deadline, case.next_deadline_kind
            ),
            "landlord_kind_labels": LANDLORD_KIND_LABELS,
            "sort_labels": SORT_LABELS,
            "channel_labels": CHANNEL_LABELS,
            "result_labels": RESULT_LABELS,
            "need_labels": NEED_LABELS,
            "scope_labels": SCOPE_LABELS,
            "consent_state_labels": CONSENT_STATE_LABELS,
            "method_labels": METHOD_LABELS,
            "owner_labels": OWNER_LABELS,
            "action_status_labels": ACTION_STATUS_LABELS,
            "agenda_reason_label": lambda code: AGENDA_REASON_LABELS.get(code, code),
            "unassigned_label": lambda code: UNASSIGNED_LABELS.get(code, code),
            "geocode_problem_label": lambda code: GEOCODE_PROBLEM_LABELS.get(code, code),
            "field_label": lambda code: FIELD_LABELS.get(code or "", code or ""),
            "offered_scopes": offered_scopes,
            "plan_state_labels": PLAN_STATE_LABELS,
            "deduction_state_labels": DEDUCTION_STATE_LABELS,
            "confirmer_labels": CONFIRMER_LABELS,
            "benefit_labels": BENEFIT_LABELS,
            "offered_benefits": lambda: deduction_benefits_for(current_country()),
            "hold_reason_labels": HOLD_REASON_LABELS,
            "hold_state_label": lambda code: HOLD_STATE_LABELS.get(code, code),
            "hold_ending_label": lambda code: HOLD_ENDING_LABELS.get(code or "", code or ""),
        }


def _currency() -> str:
    """The reader's organisation's currency, read with the person (`User.organisation_currency`);
    without a team (an administrator) or a login, the first organisation's."""
    currency = getattr(current_user, "organisation_currency", None)
    if currency is None:
        organisation = organisation_of(db.session)
        currency = organisation.currency if organisation is not None else "DKK"
    return currency


def money_text(whole_units: int, currency: str) -> str:
    """A whole amount with its currency in the reader's locale, without decimals."""
    locale = get_locale()
    pattern = re.sub(r"\.0+", "", locale.currency_formats["standard"].pattern)
    # CLDR puts a space between a code and the digits ("DKK 13,000"); Babel does not.
    pattern = pattern.replace("¤#", "¤\xa0#").replace("¤-", "¤\xa0-")
    return format_currency(
        whole_units, currency, format=pattern, locale=locale, currency_digits=False
    )


def language_name(code: str | None) -> str:
    """A language's name in the reader's language ("so" is "somali" in Danish, "Somali" in
    English); an unknown code is shown as it was stored."""
    if not code:
        return ""
    name = get_locale().languages.get(code.strip().lower().replace("-", "_"))
    return name[:1].upper() + name[1:] if name else code
