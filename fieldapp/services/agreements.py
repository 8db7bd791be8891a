"""Payment plans and rent deductions from benefits on a case, and the arrears list's check of
a plan (kept while the arrears fall as agreed, broken when an instalment was missed).

No Flask here: the use cases (usecases.agreements) check who may change the case and write
the audit line; the sync handler (services.sync) and the desk's forms both come through here,
so the rules of what a plan or a deduction may hold are written once."""

from __future__ import annotations

import calendar
import uuid as uuid_module
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.wording import N_, Wording
from ..models import Case
from ..models.agreements import (
    DEDUCTION_CONFIRMERS,
    BenefitDeduction,
    PaymentPlan,
    deduction_benefits_for,
)
from ..models.types import utcnow
from ..models.user import User
from .tabular import CellError, parse_amount

# A plan of more than five years of monthly instalments is not one a tenant keeps.
MAX_INSTALMENTS = 60
# An instalment or a start may lie a little in the past (agreed last week, entered today) and
# up to six years ahead; a date outside that is a typing error.
PAST_DATES = timedelta(days=62)
FUTURE_DATES = timedelta(days=6 * 366)
# More than this (in minor units: 100 million kroner) is not arrears of a home.
MAX_AMOUNT = 10_000_000_000
MAX_NOTE = 1_000
# Plans the next arrears list checks; ended ones are left as they are.
CHECKED_STATES = ("active", "kept")
LIVE_PLAN_STATES = ("active", "kept", "broken")
LIVE_DEDUCTION_STATES = ("applied", "confirmed")

FIELD_WORDS = {
    "arrears_at_start": N_("Arrears at the start"),
    "instalments": N_("Instalments"),
    "instalment_amount": N_("Amount per instalment"),
    "first_due_on": N_("First instalment on"),
    "instalment_count": N_("Number of instalments"),
    "due_on": N_("Due date"),
    "amount": N_("Amount per month"),
    "benefit": N_("Benefit"),
    "starts_on": N_("Starts on"),
    "state": N_("State"),
    "pending_until": N_("Answer expected by"),
    "confirmed_by": N_("Confirmed by"),
    "confirmed_on": N_("Confirmed on"),
    "note": N_("Note"),
}


class AgreementError(ValueError):
    """A value a plan or a deduction cannot hold; names the field (args[0] is a Wording)."""

    def __init__(self, field: str, message: str, **values) -> None:
        super().__init__(Wording(message, field=Wording(FIELD_WORDS.get(field, field)), **values))
        self.field = field


def money(field: str, value: object) -> int:
    """An amount as the country writes it ("1.500,50", "1 500,50", "1500") in minor units,
    more than zero; a number from a phone's JSON is whole kroner."""
    if type(value) is int:
        minor = value * 100
    elif isinstance(value, str) and value.strip():
        try:
            # No amount of a home's rent is 40 characters long; a longer one is not read.
            # Digits are ASCII: "١٢٣".isdigit() is true, and int() reads it (parse_amount too).
            if len(value) > 40 or any(ch.isdigit() and not ch.isascii() for ch in value):
                raise CellError(value)
            minor = parse_amount(value)
        except ValueError:
            raise AgreementError(
                field, N_("%(field)s: %(value)s is not an amount"), value=repr(value[:40])
            ) from None
    else:
        raise AgreementError(field, N_("%(field)s is missing"))
    if not 0 < minor <= MAX_AMOUNT:
        raise AgreementError(
            field, N_("%(field)s: %(value)s must be more than 0"), value=repr(str(value)[:40])
        )
    return minor


def a_date(field: str, value: object, today: date, *, required: bool = True) -> date | None:
    """A date (a date, or YYYY-MM-DD text) near enough to today to be meant."""
    if value in (None, ""):
        if required:
            raise AgreementError(field, N_("%(field)s is missing"))
        return None
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise AgreementError(
                field,
                N_("%(field)s: %(value)s is not a date (YYYY-MM-DD)"),
                value=repr(str(value)[:40]),
            ) from None
    if not today - PAST_DATES <= day <= today + FUTURE_DATES:
        raise AgreementError(
            field, N_("%(field)s: %(value)s is not a plausible date"), value=day.isoformat()
        )
    return day


def _note(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AgreementError("note", N_("%(field)s must be text"))
    text = value.replace("\x00", "").strip()
    if len(text) > MAX_NOTE:
        raise AgreementError(
            "note", N_("%(field)s is longer than %(limit)s characters"), limit=MAX_NOTE
        )
    return text


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def monthly_instalments(amount: object, first_due_on: object, count: object, today: date) -> list:
    """The instalments of a plan entered as "this much a month from this date, n times" (the
    form at the door and at the desk): [{"due_on", "amount"}], one month apart."""
    minor = money("instalment_amount", amount)
    first = a_date("first_due_on", first_due_on, today)
    number = count if type(count) is int else None
    if isinstance(count, str) and count.strip().isascii() and count.strip().isdigit():
        number = int(count.strip()) if len(count.strip()) <= 3 else None
    if number is None or not 1 <= number <= MAX_INSTALMENTS:
        raise AgreementError(
            "instalment_count",
            N_("%(field)s: %(value)s is not a number from 1 to %(limit)s"),
            value=repr(str(count)[:40]),
            limit=MAX_INSTALMENTS,
        )
    return [{"due_on": _add_months(first, n).isoformat(), "amount": minor} for n in range(number)]


def clean_instalments(instalments: object, arrears_at_start: int, today: date) -> list[dict]:
    """The instalments as stored: 1 to MAX_INSTALMENTS, each a plausible date (in date order)
    and an amount over 0, together no more than the arrears they pay off."""
    if not isinstance(instalments, list) or not instalments:
        raise AgreementError("instalments", N_("%(field)s: give at least one instalment"))
    if len(instalments) > MAX_INSTALMENTS:
        raise AgreementError(
            "instalments", N_("%(field)s: more than %(limit)s"), limit=MAX_INSTALMENTS
        )
    clean: list[dict] = []
    for item in instalments:
        if not isinstance(item, dict):
            raise AgreementError("instalments", N_("%(field)s: each needs a date and an amount"))
        day = a_date("due_on", item.get("due_on"), today)
        amount = item.get("amount")
        if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
            raise AgreementError(
                "instalments",
                N_("%(field)s: %(value)s must be more than 0"),
                value=repr(str(amount)[:40]),
            )
        if clean and day.isoformat() < clean[-1]["due_on"]:
            raise AgreementError(
                "due_on", N_("%(field)s: %(value)s is before the instalment above it"),
                value=day.isoformat(),
            )  # fmt: skip
        clean.append({"due_on": day.isoformat(), "amount": amount})
    total = sum(item["amount"] for item in clean)
    if total > arrears_at_start:
        raise AgreementError(
            "instalments",
            N_("%(field)s: together %(total)s, more than the arrears (%(arrears)s)"),
            total=_kroner(total),
            arrears=_kroner(arrears_at_start),
        )
    return clean


def _kroner(minor: int) -> str:
    whole, part = divmod(minor, 100)
    return f"{whole:,}".replace(",", ".") + (f",{part:02d}" if part else "")


def _uuid(value: str | None) -> str:
    if not value:
        return str(uuid_module.uuid4())
    return str(uuid_module.UUID(str(value)))


def create_plan(
    session: Session,
    case: Case,
    user: User,
    *,
    arrears_at_start: object,
    instalments: object,
    note: object = "",
    client_uuid: str | None = None,
    recorded_at: datetime | None = None,
    today: date | None = None,
) -> PaymentPlan:
    """A payment plan on the case (AgreementError names what cannot be stored)."""
    today = today or date.today()
    start = money("arrears_at_start", arrears_at_start)
    plan = PaymentPlan(
        client_uuid=_uuid(client_uuid),
        case_id=case.id,
        created_by_id=user.id,
        arrears_at_start=start,
        instalments=clean_instalments(instalments, start, today),
        note=_note(note),
        state="active",
        check_detail={},
        recorded_at=recorded_at or utcnow(),
    )
    session.add(plan)
    session.flush()
    return plan


def end_plan(session: Session, plan: PaymentPlan) -> bool:
    """Stop a plan by hand; False when it had ended already."""
    if plan.state == "ended":
        return False
    plan.state = "ended"
    session.flush()
    return True


def create_deduction(
    session: Session,
    case: Case,
    user: User,
    country: str | None,
    *,
    benefit: object,
    amount: object,
    starts_on: object,
    state: object = "applied",
    pending_until: object = None,
    confirmed_by: object = "",
    note: object = "",
    client_uuid: str | None = None,
    recorded_at: datetime | None = None,
    today: date | None = None,
) -> BenefitDeduction:
    """A rent deduction from a benefit of the organisation's country: applied (with the date
    the answer is due) or confirmed (by the landlord or the benefit office)."""
    today = today or date.today()
    benefits = deduction_benefits_for(country)
    if benefit not in benefits:
        raise AgreementError(
            "benefit",
            N_("%(field)s: %(value)s is not one of %(choices)s"),
            value=repr(str(benefit)[:40]),
            choices=", ".join(benefits),
        )
    if state not in ("applied", "confirmed"):
        raise AgreementError(
            "state", N_("%(field)s: %(value)s is not one of %(choices)s"),
            value=repr(str(state)[:40]), choices="applied, confirmed",
        )  # fmt: skip
    deduction = BenefitDeduction(
        client_uuid=_uuid(client_uuid),
        case_id=case.id,
        created_by_id=user.id,
        benefit=benefit,
        amount=money("amount", amount),
        starts_on=a_date("starts_on", starts_on, today),
        state=state,
        pending_until=a_date("pending_until", pending_until, today, required=False)
        if state == "applied"
        else None,
        note=_note(note),
        recorded_at=recorded_at or utcnow(),
    )
    if state == "confirmed":
        deduction.confirmed_by = _confirmer(confirmed_by)
        deduction.confirmed_at = deduction.recorded_at
    session.add(deduction)
    session.flush()
    return deduction


def _confirmer(value: object) -> str:
    if value not in DEDUCTION_CONFIRMERS:
        raise AgreementError(
            "confirmed_by",
            N_("%(field)s: %(value)s is not one of %(choices)s"),
            value=repr(str(value)[:40]),
            choices=", ".join(DEDUCTION_CONFIRMERS),
        )
    return value


def confirm_deduction(
    session: Session, deduction: BenefitDeduction, by: object, on: object, today: date | None = None
) -> None:
    """The landlord or the benefit office confirmed the deduction, on that day."""
    today = today or date.today()
    if deduction.state not in ("applied", "confirmed"):
        raise AgreementError("state", N_("%(field)s: the deduction has ended"))
    who = _confirmer(by)
    day = a_date("confirmed_on", on, today)
    if day > today:
        raise AgreementError(
            "confirmed_on", N_("%(field)s: %(value)s is in the future"), value=day.isoformat()
        )
    deduction.state = "confirmed"
    deduction.confirmed_by = who
    deduction.confirmed_at = datetime(day.year, day.month, day.day, 12, tzinfo=utcnow().tzinfo)
    deduction.pending_until = None
    session.flush()


def close_deduction(session: Session, deduction: BenefitDeduction, state: object) -> bool:
    """Refused (by the benefit office) or ended; False when it was closed already."""
    if state not in ("refused", "ended"):
        raise AgreementError(
            "state", N_("%(field)s: %(value)s is not one of %(choices)s"),
            value=repr(str(state)[:40]), choices="refused, ended",
        )  # fmt: skip
    if deduction.state in ("refused", "ended"):
        return False
    deduction.state = state
    deduction.pending_until = None
    session.flush()
    return True


# --- the arrears list's check ---------------------------------------------------------------


def expected_arrears(plan: PaymentPlan, as_of: date) -> int:
    """What the arrears should be on that day: at the start, less the instalments due by then."""
    paid = sum(i["amount"] for i in plan.instalments if i["due_on"] <= as_of.isoformat())
    return max(plan.arrears_at_start - paid, 0)


def check_plan(plan: PaymentPlan, listed: int, as_of: date) -> None:
    """Mark the plan kept (the listed arrears at or below what the instalments due by the
    list's date leave) or broken (above: the first instalment not paid and by how much)."""
    expected = expected_arrears(plan, as_of)
    detail: dict = {"as_of": as_of.isoformat(), "expected": expected, "listed": listed}
    if listed <= expected:
        plan.state = "kept"
        detail["code"] = "paid_off" if listed <= 0 else "kept"
    else:
        plan.state = "broken"
        remaining = plan.arrears_at_start
        missed = None
        for instalment in plan.instalments:
            if instalment["due_on"] > as_of.isoformat():
                break
            remaining -= instalment["amount"]
            if listed > remaining:
                missed = instalment
                break
        detail.update(
            code="missed",
            due_on=missed["due_on"] if missed else None,
            shortfall=listed - expected,
        )
    plan.checked_on = as_of
    plan.check_detail = detail


def check_plans(session: Session, listed: dict[int, int], as_of: date) -> list[int]:
    """For a list applied (listed: tenancy id -> arrears on it), check every active or kept
    plan of those tenancies' cases (and re-check one this list's date broke: a list imported
    again gives the same result). A list dated before the plan was recorded, or older than its
    last check, leaves it. Returns
    the ids of the cases whose plans were checked."""
    if not listed:
        return []
    checked: set[int] = set()
    tenancy_ids = list(listed)
    for start in range(0, len(tenancy_ids), 500):
        chunk = tenancy_ids[start : start + 500]
        rows = session.execute(
            select(PaymentPlan, Case.tenancy_id)
            .join(Case, PaymentPlan.case_id == Case.id)
            .where(Case.tenancy_id.in_(chunk), PaymentPlan.state.in_(LIVE_PLAN_STATES))
        ).all()
        for plan, tenancy_id in rows:
            if as_of < plan.recorded_at.date():
                continue  # a list from before the plan was agreed says nothing about it
            if plan.checked_on is not None and as_of < plan.checked_on:
                continue
            if plan.state == "broken" and plan.checked_on != as_of:
                continue
            paid_off = (plan.check_detail or {}).get("code") == "paid_off"
            if paid_off and plan.checked_on != as_of:
                continue  # paid off is the plan's end: new arrears later are a new matter
            check_plan(plan, listed[tenancy_id], as_of)
            checked.add(plan.case_id)
    session.flush()
    return sorted(checked)


def plan_reasons(session: Session, case_ids) -> dict[int, dict]:
    """For triage: per case (of those given; None: all), its plan's priority reason (a broken
    plan first, else a kept one), from the last check."""
    query = select(PaymentPlan.case_id, PaymentPlan.state, PaymentPlan.check_detail).where(
        PaymentPlan.state.in_(("kept", "broken"))
    )
    if case_ids is not None:
        if not case_ids:
            return {}
        query = query.where(PaymentPlan.case_id.in_(list(case_ids)))
    rows = session.execute(query.order_by(PaymentPlan.id)).all()
    reasons: dict[int, dict] = {}
    for case_id, state, detail in rows:
        if state == "broken":
            reasons[case_id] = {
                "code": "plan_broken",
                "value": int((detail or {}).get("shortfall") or 0),
                "due_on": (detail or {}).get("due_on"),
            }
        elif reasons.get(case_id, {}).get("code") != "plan_broken":
            reasons[case_id] = {"code": "plan_kept", "value": 0}
    return reasons


# --- reading ----------------------------------------------------------------------------------


def plans_of(session: Session, case_id: int) -> list[PaymentPlan]:
    return list(
        session.scalars(
            select(PaymentPlan).where(PaymentPlan.case_id == case_id).order_by(PaymentPlan.id)
        )
    )


def deductions_of(session: Session, case_id: int) -> list[BenefitDeduction]:
    return list(
        session.scalars(
            select(BenefitDeduction)
            .where(BenefitDeduction.case_id == case_id)
            .order_by(BenefitDeduction.id)
        )
    )


def current_agreements(session: Session, case_ids) -> dict[int, dict]:
    """For the landlord's flags (services.flags) and other summaries: per case, its live
    plans (active, kept, broken) and live deductions (applied, confirmed), newest last:
    {case_id: {"plans": [PaymentPlan], "deductions": [BenefitDeduction]}}. Two statements;
    the caller has scoped case_ids."""
    ids = list(case_ids)
    found: dict[int, dict] = {case_id: {"plans": [], "deductions": []} for case_id in ids}
    if not ids:
        return found
    for plan in session.scalars(
        select(PaymentPlan)
        .where(PaymentPlan.case_id.in_(ids), PaymentPlan.state.in_(LIVE_PLAN_STATES))
        .order_by(PaymentPlan.id)
    ):
        found[plan.case_id]["plans"].append(plan)
    for deduction in session.scalars(
        select(BenefitDeduction)
        .where(BenefitDeduction.case_id.in_(ids), BenefitDeduction.state.in_(LIVE_DEDUCTION_STATES))
        .order_by(BenefitDeduction.id)
    ):
        found[deduction.case_id]["deductions"].append(deduction)
    return found
