"""The demo municipality: a Helsingør-like town seeded for `fieldapp demo` and the browser tests."""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ..config import Config
from ..domain.registers import address_key
from ..models import (
    Action,
    ArrearsRecord,
    BenefitDeduction,
    Case,
    CaseEvent,
    Consent,
    HoldRequest,
    Household,
    ImportBatch,
    Landlord,
    LegalStep,
    Organisation,
    Partner,
    PaymentPlan,
    Team,
    Tenancy,
    User,
    Visit,
)
from ..models.types import utcnow
from . import gazetteer
from .accounts import create_user
from .agreements import check_plan, expected_arrears
from .fieldwork import current_consent_texts, ensure_consent_texts
from .retention import purge
from .tabular import normalise_name, normalise_phone
from .triage import refresh_priorities

CONSENT_RETENTION_MONTHS = Config.CONSENT_RETENTION_MONTHS

DEMO_LOGINS: list[tuple[str, str]] = [
    ("lead@example.org", "lead"),
    ("worker@example.org", "worker"),
    ("admin@example.org", "admin"),
    ("dpo@example.org", "dpo"),
    ("lead.nord@example.org", "lead"),
    ("worker.nord@example.org", "worker"),
    ("partner@example.org", "partner"),
    ("landlord@example.org", "landlord"),
]
DEMO_TEAM = "Boligsocialt team"
DEMO_HOUSEHOLDS = 60
# A second team with a register of its own, so that team isolation is there to see: its lead
# and worker find nothing of the first team's, and the first team nothing of theirs.
SECOND_TEAM = "Boligsocialt team Nord"
SECOND_TEAM_MIX: list[tuple[str, str | None]] = [
    ("new", None),
    ("new", None),
    ("attempting_contact", None),
    ("in_contact", None),
    ("plan_agreed", None),
    ("closed", "paid_up"),
]

# Town centre of the demo (Helsingør station area); households are spread around it.
_CENTRE = (56.0338, 12.6127)
_STREETS = [
    ("Stengade", "3000"),
    ("Kongensgade", "3000"),
    ("Nøjsomhedsvej", "3000"),
    ("Rønnebær Allé", "3000"),
    ("Vapnagaard", "3000"),
    ("Birkevej", "3000"),
    ("Gefionsvej", "3000"),
    ("Mørdrupvej", "3000"),
    ("Kvistgårdvej", "3000"),
    ("Ny Hammermøllevej", "3000"),
    ("Grønnehave", "3000"),
    ("Hornbækvej", "3000"),
    ("Espergærde Centervej", "3060"),
    ("Stokholmsvej", "3060"),
    ("Tibberupvej", "3060"),
]
_FIRST = [
    "Mette",
    "Anders",
    "Fatima",
    "Jonas",
    "Sofie",
    "Ali",
    "Camilla",
    "Lars",
    "Amina",
    "Peter",
    "Nadia",
    "Henrik",
    "Julie",
    "Omar",
    "Line",
    "Bo",
    "Sara",
    "Kasper",
]
_LAST = [
    "Jensen",
    "Nielsen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Hussein",
    "Olsen",
    "Madsen",
    "Yilmaz",
    "Kristensen",
]
_LANGUAGES = ["da"] * 8 + ["ar", "tr", "so", "en"]

# (status, outcome or None, how many): every state a case can be in, with every outcome.
_MIX: list[tuple[str, str | None, int]] = [
    ("new", None, 14),
    ("attempting_contact", None, 10),
    ("in_contact", None, 9),
    ("plan_agreed", None, 9),
    ("closed", "paid_up", 4),
    ("closed", "payment_plan", 3),
    ("closed", "rent_from_benefits", 3),
    ("closed", "rehoused", 2),
    ("closed", "moved_away", 2),
    ("closed", "evicted", 2),
    ("closed", "declined_help", 1),
    ("closed", "other", 1),
]


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@dataclass
class _Town:
    """What every seeded case refers to."""

    today: date
    team: Team
    lead: User
    workers: list[User]
    landlords: list[Landlord]
    batches: dict
    list_dates: tuple[date, date]


def is_seeded(session: Session) -> bool:
    """True when the database already holds an organisation (demo or real)."""
    return bool(session.scalar(select(func.count()).select_from(Organisation)))


def seed_demo(
    session: Session,
    password: str,
    today: date | None = None,
    seed: int = 2016,
    *,
    history: bool = False,
    consent_months: int = CONSENT_RETENTION_MONTHS,
) -> bool:
    """Fill an empty database with the demo town; return False (and touch nothing) otherwise.

    Dates are relative to today so deadlines are always ahead of whoever opens the demo.
    With `history` (`fieldapp demo` asks for it), each team's register also holds five years
    of closed cases (see `seed_history`), held as they are after the retention job ran with
    `consent_months`. The tests that only need today's town leave it out: it is most of the
    seeding time (bench/bench_demo_seed.py).
    """
    if is_seeded(session):
        return False
    now = utcnow() if today is None else datetime.combine(today, time(12), tzinfo=UTC)
    today = today or date.today()
    rng = random.Random(seed)

    organisation = Organisation(
        name="Helsingør Kommune (demo)",
        country="DK",
        currency="DKK",
        timezone="Europe/Copenhagen",
        default_language="da",
        office_lat=56.0361,
        office_lon=12.6136,
        is_demo=True,
    )
    team = Team(name=DEMO_TEAM, organisation=organisation)
    session.add_all([organisation, team])
    session.flush()

    lead = create_user(
        session,
        "lead@example.org",
        password,
        "lead",
        DEMO_TEAM,
        "Hanne Lund (teamleder)",
        demo_password=password,
    )
    workers = [
        create_user(
            session,
            "worker@example.org",
            password,
            "worker",
            DEMO_TEAM,
            "Mette Holm",
            demo_password=password,
        ),
        create_user(
            session,
            "worker2@example.org",
            password,
            "worker",
            DEMO_TEAM,
            "Jonas Friis",
            demo_password=password,
        ),
        create_user(
            session,
            "worker3@example.org",
            password,
            "worker",
            DEMO_TEAM,
            "Amina Said",
            demo_password=password,
        ),
    ]
    # Between them the team speaks the households' languages (the planner matches them).
    workers[0].languages = "da,en,tr"
    workers[1].languages = "da,en,so"
    workers[2].languages = "da,ar,en"
    create_user(
        session,
        "admin@example.org",
        password,
        "admin",
        None,
        "Systemadministrator",
        demo_password=password,
    )
    create_user(
        session,
        "dpo@example.org",
        password,
        "dpo",
        None,
        "Databeskyttelsesrådgiver",
        demo_password=password,
    )

    landlords = [
        Landlord(name="Boligselskabet Nordkysten", kind="housing_association"),
        Landlord(name="Helsingør Kommune, kommunale udlejningsboliger", kind="municipal"),
        Landlord(name="Øresund Ejendomme ApS", kind="private"),
    ]
    session.add_all(landlords)
    session.add_all(
        [
            Partner(name="Jobcenter Helsingør", kind="job_centre"),
            Partner(name="Gældsrådgivningen", kind="debt_counselling"),
            Partner(name="Distriktspsykiatrien", kind="mental_health"),
            Partner(name="Rusmiddelcenter Helsingør", kind="addiction"),
            Partner(name="Social vicevært Nordkysten", kind="social_janitor"),
            Partner(name="Borgerservice, boligstøtte", kind="benefits_office"),
            Partner(name="Familieafdelingen", kind="children_family"),
        ]
    )
    session.flush()

    list_dates = (today - timedelta(days=22), today - timedelta(days=8))
    town = _Town(
        today, team, lead, workers, landlords, _batches(session, team, lead, landlords, list_dates),
        list_dates,
    )  # fmt: skip
    statuses = [(status, outcome) for status, outcome, n in _MIX for _ in range(n)]
    assert len(statuses) == DEMO_HOUSEHOLDS
    for number, (status, outcome) in enumerate(statuses, start=1):
        _seed_case(session, rng, town, number, status, outcome)

    nord = Team(name=SECOND_TEAM, organisation=organisation)
    session.add(nord)
    session.flush()
    nord_lead = create_user(
        session, "lead.nord@example.org", password, "lead", SECOND_TEAM,
        "Per Nørgaard (teamleder)", demo_password=password,
    )  # fmt: skip
    nord_worker = create_user(
        session, "worker.nord@example.org", password, "worker", SECOND_TEAM,
        "Sofie Berg", demo_password=password,
    )  # fmt: skip
    nord_worker.languages = "da,en,pl"
    nord_town = _Town(
        today, nord, nord_lead, [nord_worker], landlords,
        _batches(session, nord, nord_lead, landlords, list_dates), list_dates,
    )  # fmt: skip
    for offset, (status, outcome) in enumerate(SECOND_TEAM_MIX, start=1):
        _seed_case(session, rng, nord_town, DEMO_HOUSEHOLDS + offset, status, outcome)
    session.flush()
    ensure_consent_texts(session)
    seed_outside(session, town, password, seed)
    if history:
        seed_history(session, [town, nord_town], today, now, consent_months, seed)
        # The cost estimate's baseline: the evictions of the year before outreach began.
        organisation.baseline_evictions_per_year = _STORY[0][0]
    refresh_priorities(session, today=today)
    session.flush()
    return True


def _batches(session, team: Team, lead: User, landlords: list[Landlord], list_dates) -> dict:
    """The two arrears lists of each landlord the team imported, as import batches."""
    batches = {}
    for landlord in landlords:
        for as_of in list_dates:
            name = f"demo-{team.name}-{landlord.name}-{as_of}"
            batch = ImportBatch(
                kind="arrears",
                landlord_id=landlord.id,
                team_id=team.id,
                filename=f"demo-{as_of}.csv",
                file_hash=hashlib.sha256(name.encode()).hexdigest(),
                as_of=as_of,
                created_by_id=lead.id,
                created_at=_at(as_of, 9),
                counts={},
                errors=[],
            )
            session.add(batch)
            batches[landlord.id, as_of] = batch
    session.flush()
    return batches


def _seed_case(session, rng, town: _Town, number: int, status: str, outcome: str | None) -> None:
    """One household, its tenancy, two arrears lists and a case in the given state."""
    street, postcode = rng.choice(_STREETS)
    address = f"{street} {rng.randint(1, 120)}, {rng.choice(['st. tv.', '1. th.', '2. mf.', ''])}"
    address = address.rstrip(", ")
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    phone = "+45 " + " ".join(str(rng.randint(20 if i == 0 else 10, 99)) for i in range(4))
    household = Household(
        team_id=town.team.id,
        name=name,
        name_key=normalise_name(name),
        address=address,
        postcode=postcode,
        town="Espergærde" if postcode == "3060" else "Helsingør",
        address_key=address_key(address, postcode),
        phone=normalise_phone(phone),
        language=rng.choice(_LANGUAGES),
        adults=rng.choice([1, 1, 2]),
        children=rng.choice([0, 0, 0, 1, 2, 3]),
        lat=_CENTRE[0] + rng.uniform(-0.025, 0.02),
        lon=_CENTRE[1] + rng.uniform(-0.03, 0.012),
        geo_source="demo",
        geo_accuracy="address",
    )
    # On its street, as a real map shows it (the random draw above keeps the seed's sequence).
    position = gazetteer.locate(address, household.town)
    if position is not None:
        household.lat, household.lon = position
    household.needs_interpreter = household.language not in ("da", "en")
    landlord = town.landlords[number % len(town.landlords)]
    rent = rng.choice([5200, 6100, 6800, 7400, 8300, 9500]) * 100
    months = round(rng.uniform(1.0, 4.5), 1)
    tenancy = Tenancy(
        team_id=town.team.id,
        household=household,
        landlord=landlord,
        reference=f"DEMO-{number:04d}",
        monthly_rent=rent,
        current_arrears=int(rent * months),
        months_in_arrears=months,
        arrears_as_of=_at(town.list_dates[1], 9),
    )
    session.add_all([household, tenancy])
    session.flush()
    for as_of, factor in zip(town.list_dates, (0.7, 1.0), strict=True):
        session.add(
            ArrearsRecord(
                tenancy_id=tenancy.id,
                batch_id=town.batches[landlord.id, as_of].id,
                as_of=as_of,
                amount=int(tenancy.current_arrears * factor),
                months_in_arrears=round(months * factor, 1),
                monthly_rent=rent,
            )
        )

    worker = None if status == "new" and number % 3 else town.workers[number % len(town.workers)]
    opened = town.today - timedelta(days=rng.randint(9, 80))
    case = Case(
        tenancy=tenancy,
        team_id=town.team.id,
        assigned_worker=worker,
        status=status,
        cause=rng.choice(["economic"] * 5 + ["behavioural", "contract_end", "other"]),
        outcome=outcome,
        opened_at=_at(opened),
    )
    if status in ("in_contact", "plan_agreed", "closed"):
        case.last_contact_at = _at(town.today - timedelta(days=rng.randint(1, 30)), 14)
    if status == "closed":
        case.closed_at = _at(town.today - timedelta(days=rng.randint(0, 8)), 15)
    session.add(case)
    session.flush()
    session.add(
        CaseEvent(
            case_id=case.id,
            at=case.opened_at,
            user_id=town.lead.id,
            kind="opened",
            detail={"source": "arrears_list"},
        )
    )
    if worker is not None:
        session.add(
            CaseEvent(
                case_id=case.id,
                at=case.opened_at,
                user_id=town.lead.id,
                kind="assigned",
                detail={"worker_id": worker.id},
            )
        )
    for kind, offset in _legal_story(rng, number, status, outcome):
        session.add(
            LegalStep(
                case_id=case.id,
                kind=kind,
                date=town.today + timedelta(days=offset),
                source="demo",
                created_by_id=town.lead.id,
            )
        )


def _legal_story(rng, number, status, outcome) -> list[tuple[str, int]]:
    """The legal steps of a case, as (kind, days from today): most open cases have none yet."""
    if outcome == "evicted":
        return [("petition", -70), ("hearing", -40), ("eviction_scheduled", -6), ("executed", -6)]
    if status == "closed" and outcome in ("paid_up", "payment_plan", "rent_from_benefits"):
        return [("petition", -50), ("withdrawn", -10)] if number % 2 else []
    if status == "closed":
        return [("petition", -45), ("cancelled", -5)] if number % 3 == 0 else []
    if number % 4 == 0:
        return [("petition", -20), ("hearing", rng.randint(3, 25))]
    if number % 7 == 0:
        return [("petition", -60), ("hearing", -20), ("eviction_scheduled", rng.randint(2, 12))]
    if number % 5 == 0:
        return [("petition", -rng.randint(2, 15))]
    return []


# ---------------------------------------------------------------------------
# The partner and the landlord in the loop (issue #21)
# ---------------------------------------------------------------------------
#
# partner@example.org works for the debt counselling service and landlord@example.org for the
# housing association, both with the first team. Their tenants are today's cases, by number
# (the tenancy's DEMO-nnnn): the housing association is the landlord of every third one. Some
# tenants consent, some declined or withdrew, some were never asked; the agreements hang on
# those cases, every state of each occurring at least once.
PARTNER_LOGIN = ("partner@example.org", "Lone Dahl (Gældsrådgivningen)")
LANDLORD_LOGIN = ("landlord@example.org", "Kim Brandt (Boligselskabet Nordkysten)")
DEBT_COUNSELLING = "Gældsrådgivningen"
# (case number, state, scopes, days before today): the consents of today's demo, oldest first
# per case. The housing association's cases are 3, 6, … 27, 30, 33, 36, 39, 42 (open), 45 …
# 60 (closed), all worker@example.org's; 64 is the second team's (neither login sees it).
# The top of that worker's day (12, 21, 36, 24, 42: the browser tests' door flows start there)
# is left as it was: no consent, action or agreement.
_OUTSIDE_CONSENTS: tuple[tuple[int, str, tuple[str, ...], int], ...] = (
    (25, "given", ("debt_counselling", "benefits_office"), 20),
    (26, "given", ("debt_counselling",), 12),
    (27, "given", ("debt_counselling", "landlord"), 30),
    (28, "given", ("job_centre",), 9),
    (30, "given", ("landlord",), 15),
    (33, "given", ("debt_counselling", "landlord", "benefits_office"), 40),
    (34, "given", ("debt_counselling", "job_centre"), 25),
    (35, "declined", (), 18),
    (39, "given", ("debt_counselling", "landlord"), 35),
    (39, "withdrawn", (), 4),
    (45, "given", ("debt_counselling", "landlord"), 50),
    (48, "given", ("landlord",), 60),
    (54, "declined", (), 20),
    (57, "given", ("landlord",), 70),
    (64, "given", ("debt_counselling", "landlord"), 14),
)
# (case number, partner kind, description, need, status, due in days): the actions agreed
# with the tenant for a partner. Those for the debt counselling service on consented cases
# are the partner login's; the job centre's and the withdrawn case's are not.
_OUTSIDE_ACTIONS: tuple[tuple[int, str, str, str, str, int], ...] = (
    (25, "debt_counselling", "Gennemgå budget og gæld med lejer", "debt_counselling", "agreed", 2),
    (26, "debt_counselling", "Kontakt kreditorer om en afdragsordning", "debt_counselling",
     "in_progress", 4),
    (27, "debt_counselling", "Møde om gældssanering", "debt_counselling", "agreed", -2),
    (34, "debt_counselling", "Budgetsamtale med lejer og bisidder", "budget", "agreed", 12),
    (34, "job_centre", "Afklaringssamtale på jobcentret", "job_centre", "agreed", 7),
    (33, "debt_counselling", "Hjælp med ansøgning efter § 81 b", "rent_from_benefits", "agreed",
     1),
    (33, "debt_counselling", "Oversigt over kreditorer", "debt_counselling", "done", -10),
    (39, "debt_counselling", "Gældsrådgivning: første samtale", "debt_counselling", "agreed", 3),
)  # fmt: skip


def seed_outside(session: Session, town: _Town, password: str, seed: int) -> None:
    """The two outside logins and what they see: consents, the partner's actions, payment
    plans, rent deductions and requests to hold a petition (rows written directly, as the rest
    of the demo is). A random of its own, so the rest of the demo draws as it did."""
    rng = random.Random(seed + 2)
    today, lead = town.today, town.lead
    association = town.landlords[0]
    create_user(
        session, PARTNER_LOGIN[0], password, "partner", town.team.name, PARTNER_LOGIN[1],
        demo_password=password, partner_name=DEBT_COUNSELLING,
    )  # fmt: skip
    landlord = create_user(
        session, LANDLORD_LOGIN[0], password, "landlord", town.team.name, LANDLORD_LOGIN[1],
        demo_password=password, landlord_name=association.name,
    )  # fmt: skip
    # Today's cases by number (the history, seeded after, has none yet).
    cases = {
        int(reference.removeprefix("DEMO-")): case
        for case, reference in session.execute(
            select(Case, Tenancy.reference).join(Tenancy, Tenancy.id == Case.tenancy_id)
        )
    }
    texts = current_consent_texts(session)
    partners = {kind: id_ for kind, id_ in session.execute(select(Partner.kind, Partner.id))}

    def by(case: Case) -> int:
        return case.assigned_worker_id or lead.id

    def at(case: Case, days_ago: int, hour: int = 11) -> datetime:
        """That many days before today, but never before the day after the case opened."""
        return max(_at(today - timedelta(days=days_ago), hour), case.opened_at + timedelta(1))

    for number, state, scopes, days_ago in _OUTSIDE_CONSENTS:
        case = cases[number]
        session.add(
            Consent(
                client_uuid=_uuid(rng), case_id=case.id, worker_id=by(case), state=state,
                scopes=list(scopes), method="verbal_witness", witness=lead.name,
                text_id=texts["da"].id if "da" in texts else None, language="da",
                recorded_at=at(case, days_ago), received_at=at(case, days_ago, 16),
            )
        )  # fmt: skip
    for number, kind, description, need, status, due in _OUTSIDE_ACTIONS:
        case = cases[number]
        session.add(
            Action(
                client_uuid=_uuid(rng), case_id=case.id, worker_id=by(case),
                description=description, need=need, owner="partner", partner_id=partners[kind],
                due_on=today + timedelta(days=due), status=status, recorded_at=at(case, 14),
                received_at=at(case, 14, 16),
            )
        )  # fmt: skip

    last_list = town.list_dates[1]

    def plan(number: int, state: str, started: int, months: int, found: str | None) -> None:
        """Agreed `started` days ago, instalments monthly from two weeks later; `found`: what
        the last arrears list showed, checked as a real list is (services.agreements):
        "kept" (the arrears as expected), "paid_off" (none left), "broken" (an instalment
        more than expected)."""
        case = cases[number]
        owed = case.tenancy.current_arrears
        amount = -(-owed // months // 100) * 100
        first = at(case, started).date() + timedelta(days=14)
        row = PaymentPlan(
            client_uuid=_uuid(rng), case_id=case.id, created_by_id=by(case),
            arrears_at_start=owed, note="Aftalt med lejer og udlejer.", state=state,
            instalments=[
                {"due_on": (first + timedelta(days=30 * i)).isoformat(), "amount": amount}
                for i in range(months)
            ],
            check_detail={}, recorded_at=at(case, started), received_at=at(case, started, 16),
        )  # fmt: skip
        if found is not None:
            expected = expected_arrears(row, last_list)
            listed = {"kept": expected, "paid_off": 0, "broken": expected + amount}[found]
            check_plan(row, listed, last_list)
        session.add(row)

    plan(33, "active", 6, 6, None)
    plan(27, "active", 45, 8, "kept")
    plan(48, "active", 120, 4, "paid_off")  # paid off: the case closed with the plan
    plan(34, "active", 50, 6, "broken")
    plan(39, "ended", 35, 6, None)  # stopped when the tenant withdrew the consent

    def deduction(number: int, benefit: str, state: str, days_ago: int, **answer) -> None:
        case = cases[number]
        session.add(
            BenefitDeduction(
                client_uuid=_uuid(rng), case_id=case.id, created_by_id=by(case),
                benefit=benefit, amount=case.tenancy.monthly_rent, state=state,
                starts_on=_month_start(at(case, days_ago).date() + timedelta(days=20)),
                confirmed_at=at(case, days_ago - 5) if answer.get("confirmed_by") else None,
                recorded_at=at(case, days_ago), received_at=at(case, days_ago, 16), **answer,
            )
        )  # fmt: skip

    deduction(26, "section_81a", "applied", 5, pending_until=today + timedelta(days=10))
    deduction(33, "cash_benefit", "confirmed", 30, confirmed_by="landlord")
    deduction(25, "pension", "confirmed", 18, confirmed_by="benefit_office")
    deduction(30, "section_81b", "refused", 14, note="Afslag: indtægt over grænsen.")
    deduction(51, "cash_benefit", "ended", 60, confirmed_by="benefit_office")

    def hold(number: int, state: str, reason: str, days_ago: int, **answer) -> None:
        """Asked days_ago (after the case opened), until four weeks later; an accepted hold
        of a closed case ended as the case closed."""
        case = cases[number]
        asked = at(case, days_ago, 10)
        answered = state in ("accepted", "declined")
        ended = state == "accepted" and case.closed_at is not None
        session.add(
            HoldRequest(
                case_id=case.id, landlord_id=case.tenancy.landlord_id,
                requested_by_id=by(case), requested_at=asked,
                until=asked.date() + timedelta(days=28), reason=reason, state=state,
                answered_by_id=landlord.id if answered else None,
                answered_at=asked + timedelta(days=2) if answered else None,
                ended_on=case.closed_at.date() if ended else None, **answer,
            )
        )  # fmt: skip

    hold(33, "requested", "payment_plan", 2)
    hold(27, "accepted", "debt_counselling", 20, answer_note="Vi afventer gældsrådgivningen.")
    hold(48, "accepted", "payment_plan", 60, ended_with="payment")
    hold(57, "accepted", "benefit_application", 60, ended_with="petition")
    hold(30, "declined", "rent_deduction", 12, answer_note="Restancen er for stor.")
    hold(45, "withdrawn", "payment_plan", 30)
    # Another landlord's case: the landlord login never sees it.
    hold(34, "requested", "payment_plan", 3)


def _month_start(day: date) -> date:
    return day.replace(day=1)


# ---------------------------------------------------------------------------
# Five years of history
# ---------------------------------------------------------------------------
#
# The register of the demo town reaches back five years (this one and the four before), so
# that the outcome page has a story to tell: outreach begins in the second year, executed
# evictions fall as in Helsingør (75 → 54 → … → 9 a year), petitions halve as in Drammen, and
# more tenants are met before their hearing. The figures are never written down: the history
# is arrears lists every 14 days, cases opened from them, visits, consents, legal steps and
# outcomes, and services.reports counts them like any other register's.

# Per year, oldest first, both teams together: executed evictions, petitions, cases settled
# from the arrears list without a petition, and the share of the cases with a hearing whose
# tenant was met before it (the contact rate). The current year's share is up to the history's
# last day, and the 66 cases of today's demo count towards it.
_STORY: tuple[tuple[int, int, int, float], ...] = (
    (75, 170, 8, 0.10),
    (54, 150, 35, 0.35),
    (33, 126, 55, 0.55),
    (18, 104, 65, 0.70),
    (9, 85, 70, 0.82),
)
HISTORY_YEARS = len(_STORY)
# Per year, the share of petitioned households that are petitioned again after their case
# closed (the revolving door, `repeat_petitions`): it narrows as outreach settles debts.
_AGAIN = (0.22, 0.15, 0.10, 0.06, 0.04)
# The second team's part of every figure (a smaller district).
_NORD_SHARE = 0.2
_LIST_DAYS = 14
# The history ends this many days before today: the last case closes before today's demo
# cases were opened, and its tenancy has left the lists before the demo's own two lists.
_HISTORY_ENDS = 40
_SETTLED = ("paid_up", "payment_plan", "rent_from_benefits")
_AFTER_HEARING = ("payment_plan", "rent_from_benefits", "rehoused", "moved_away", "other")
_EARLY = ("paid_up", "payment_plan", "payment_plan", "rent_from_benefits", "declined_help")
_SCOPES = ("debt_counselling", "landlord", "benefits_office", "job_centre", "social_janitor")
_NOTES = (
    "Talt med lejer ved døren; aftalt møde med gældsrådgivningen.",
    "Lejer var hjemme; ansøgning om boligstøtte sendt.",
    "Aftalt afdragsordning med udlejer.",
)


@dataclass
class _Past:
    """One closed case of the history, as dates, before it becomes rows."""

    town: _Town
    number: int
    landlord: Landlord
    opened: date
    closed: date
    outcome: str
    steps: list[tuple[str, date]]
    hearing: date | None = None
    met_before_hearing: bool = False
    rehoused_on: date | None = None
    # The earlier case of the same tenancy when the household was petitioned again.
    again_of: _Past | None = None


def _share(total: int, team_index: int) -> int:
    """The first team's or the second team's part of a yearly figure."""
    nord = round(total * _NORD_SHARE)
    return total - nord if team_index == 0 else nord


def _list_day(first: date, day: date) -> date:
    """The latest of the 14-day arrears lists on or before the day (lists run back from the
    demo's own first list, `first`)."""
    back = -(-(first - day).days // _LIST_DAYS)
    return first - timedelta(days=_LIST_DAYS * back)


def seed_history(
    session: Session,
    towns: list[_Town],
    today: date,
    now: datetime,
    consent_months: int,
    seed: int = 2016,
) -> None:
    """Five years of closed cases for each team's register (see the comment above), then the
    retention job, so that old cases are held as the register holds them after it ran."""
    rng = random.Random(seed + 1)
    last = today - timedelta(days=_HISTORY_ENDS)
    first_year = today.year - HISTORY_YEARS + 1
    existing = _existing_steps(session, today)
    texts = {language: text.id for language, text in current_consent_texts(session).items()}
    pasts: list[_Past] = []
    number = 0
    for team_index, town in enumerate(towns):
        for offset, (executed, petitions, early, _rate) in enumerate(_STORY):
            year = first_year + offset
            start, end = date(year, 1, 1), min(date(year, 12, 31), last - timedelta(days=5))
            if end < start:
                continue
            # The current year so far: its part of the year's figures, less what today's
            # cases already bring (an evicted case brings its own petition too).
            part = ((end - start).days + 1) / ((date(year, 12, 31) - start).days + 1)
            known = {
                kind: existing["steps"].get((town.team.id, kind, year), 0)
                for kind in ("executed", "petition")
            }
            n_executed = max(0, round(_share(executed, team_index) * part) - known["executed"])
            n_petitions = max(
                0, round(_share(petitions, team_index) * part) - known["petition"] - n_executed
            )
            n_early = round(_share(early, team_index) * part)
            for kind, count in (("evicted", n_executed), ("petition", n_petitions)):
                for _ in range(count):
                    number += 1
                    anchor = start + timedelta(days=rng.randint(0, (end - start).days))
                    pasts.append(_past_case(rng, town, number, kind, anchor, last))
                    if kind == "petition" and rng.random() < _AGAIN[offset]:
                        again = _past_again(rng, pasts[-1], number + 1, last)
                        if again is not None:
                            number += 1
                            pasts.append(again)
            for _ in range(n_early):
                number += 1
                anchor = start + timedelta(days=rng.randint(0, (end - start).days))
                pasts.append(_past_case(rng, town, number, "early", anchor, last))
    _choose_contacts(rng, pasts, existing["hearings"], first_year)
    _insert_history(session, rng, pasts, first_year, texts)
    purge(session, now, consent_months=consent_months)


def _existing_steps(session: Session, today: date) -> dict:
    """What today's demo cases already add to the years: steps by (team, kind, year), and
    their hearings held by (team, year) (nobody has met those tenants yet)."""
    steps: dict[tuple[int, str, int], int] = {}
    first_hearing: dict[tuple[int, int, int], date] = {}
    for team_id, case_id, kind, day in session.execute(
        select(Case.team_id, Case.id, LegalStep.kind, LegalStep.date).join(
            Case, LegalStep.case_id == Case.id
        )
    ):
        steps[team_id, kind, day.year] = steps.get((team_id, kind, day.year), 0) + 1
        if kind == "hearing" and day <= today:
            first_hearing[team_id, day.year, case_id] = day
    hearings: dict[tuple[int, int], int] = {}
    for team_id, year, _case_id in first_hearing:
        hearings[team_id, year] = hearings.get((team_id, year), 0) + 1
    return {"steps": steps, "hearings": hearings}


def _past_case(rng, town: _Town, number: int, kind: str, anchor: date, last: date) -> _Past:
    """The dates of one history case: `anchor` is the day of its eviction ("evicted"), its
    petition ("petition") or its opening ("early"); nothing falls after `last`."""

    def days(low: int, high: int) -> timedelta:
        return timedelta(days=rng.randint(low, high))

    landlord = town.landlords[number % len(town.landlords)]
    if kind == "evicted":
        hearing = anchor - days(21, 56)
        petition = hearing - days(28, 70)
        steps = [
            ("petition", petition),
            ("hearing", hearing),
            ("eviction_scheduled", anchor),
            ("executed", anchor),
        ]
        past = _Past(town, number, landlord, petition - days(14, 60), anchor, "evicted", steps)
        past.hearing = hearing
        if rng.random() < 0.15:
            past.rehoused_on = min(anchor + days(30, 150), last)
        return past
    if kind == "early":
        return _Past(
            town, number, landlord, anchor, min(anchor + days(20, 90), last),
            rng.choice(_EARLY), [],
        )  # fmt: skip
    opened = anchor - days(14, 60)
    path = rng.random()
    if path < 0.45:  # the landlord withdraws the petition once the rent is paid
        withdrawn = anchor + days(10, 45)
        steps = [("petition", anchor), ("withdrawn", withdrawn)]
        past = _Past(town, number, landlord, opened, withdrawn, rng.choice(_SETTLED), steps)
    else:  # heard, then withdrawn (paid after the ruling) or cancelled (moved, rehoused)
        hearing = anchor + days(28, 60)
        end = hearing + days(7, 35)
        last_kind, outcome = (
            ("withdrawn", rng.choice(_SETTLED))
            if path < 0.8
            else ("cancelled", rng.choice(_AFTER_HEARING))
        )
        steps = [("petition", anchor), ("hearing", hearing), (last_kind, end)]
        past = _Past(town, number, landlord, opened, end, outcome, steps, hearing)
    return _squeeze(past, anchor, last)


def _past_again(rng, first: _Past, number: int, last: date) -> _Past | None:
    """The same tenancy petitioned again some months after its case closed, or None when
    that would fall after the history's end."""
    anchor = first.closed + timedelta(days=rng.randint(90, 330))
    if anchor > last - timedelta(days=5):
        return None
    again = _past_case(rng, first.town, number, "petition", anchor, last)
    again.landlord, again.again_of = first.landlord, first
    return again


def _squeeze(past: _Past, anchor: date, last: date) -> _Past:
    """Pull the dates after the anchor in towards it so that none falls after `last`."""
    if past.closed <= last:
        return past
    span, room = (past.closed - anchor).days, max(0, (last - anchor).days)

    def pulled(day: date) -> date:
        return day if day <= anchor else anchor + timedelta(days=(day - anchor).days * room // span)

    past.steps = [(kind, pulled(day)) for kind, day in past.steps]
    past.hearing = pulled(past.hearing) if past.hearing else None
    past.closed = pulled(past.closed)
    return past


def _choose_contacts(rng, pasts: list[_Past], existing: dict, first_year: int) -> None:
    """Mark, per team and year of hearing, the cases whose tenant was met before it: the
    year's contact rate, counting today's demo cases whose hearing was held (none met)."""
    by_year: dict[tuple[int, int], list[_Past]] = {}
    for past in pasts:
        if past.hearing is not None:
            by_year.setdefault((past.town.team.id, past.hearing.year), []).append(past)
    for (team_id, year), group in by_year.items():
        offset = min(max(year - first_year, 0), HISTORY_YEARS - 1)
        rate = _STORY[offset][3]
        met = round(rate * (len(group) + existing.get((team_id, year), 0)))
        for past in rng.sample(group, min(met, len(group))):
            past.met_before_hearing = True


def _uuid(rng) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _insert_history(session: Session, rng, pasts: list[_Past], first_year: int, texts) -> None:
    """Write the history in a few bulk inserts: households, tenancies, cases, then the rows
    that hang on them."""
    outreach_from = date(first_year + 1, 1, 1)
    first_lists = [
        _list_day(past.town.list_dates[0], past.opened - timedelta(days=1)) for past in pasts
    ]
    new_households = iter(
        _insert(
            session,
            Household,
            [
                _history_household(rng, past, first_list)
                for past, first_list in zip(pasts, first_lists, strict=True)
                if past.again_of is None
            ],
        )
    )
    # By case number: its household's id and its tenancy's place in `tenancies`.
    household_of: dict[int, int] = {}
    tenancy_of: dict[int, int] = {}
    tenancies: list[dict] = []
    lists: dict[tuple[int, int, date], dict[str, int]] = {}
    records: list[tuple[int, tuple[int, int, date], dict]] = []
    for past, first_list in zip(pasts, first_lists, strict=True):
        cleared = _list_day(past.town.list_dates[0], past.closed) + timedelta(days=_LIST_DAYS)
        if past.again_of is None:
            household_of[past.number] = next(new_households)
            tenancies.append(
                {
                    "team_id": past.town.team.id,
                    "household_id": household_of[past.number],
                    "landlord_id": past.landlord.id,
                    "reference": f"DEMO-H{past.number:04d}",
                    "monthly_rent": rng.choice([5200, 6100, 6800, 7400, 8300, 9500]) * 100,
                    "current_arrears": 0,
                    "months_in_arrears": 0.0,
                    "arrears_as_of": _at(cleared, 9),
                    "created_at": _at(first_list, 9),
                }
            )
            tenancy_of[past.number] = len(tenancies) - 1
        else:
            household_of[past.number] = household_of[past.again_of.number]
            tenancy_of[past.number] = tenancy_of[past.again_of.number]
            tenancies[tenancy_of[past.number]]["arrears_as_of"] = _at(cleared, 9)
        index = tenancy_of[past.number]
        rent = tenancies[index]["monthly_rent"]
        # On every list from the first until it is paid or gone, then cleared on the next one.
        months = round(rng.uniform(1.0, 2.5), 1)
        day = first_list
        while day <= cleared:
            key = (past.town.team.id, past.landlord.id, day)
            owed = round(min(months + 0.5 * (day - first_list).days / _LIST_DAYS, 8.0), 1)
            owed = 0.0 if day == cleared else owed
            records.append((index, key, {"amount": int(rent * owed), "months_in_arrears": owed}))
            counts = lists.setdefault(key, {"new": 0, "updated": 0, "cleared": 0})
            if day == cleared:
                counts["cleared"] += 1
            else:
                counts["new" if day == first_list and past.again_of is None else "updated"] += 1
            day += timedelta(days=_LIST_DAYS)
    # A few evicted households turn up later at a municipal tenancy the team registers.
    municipal = {
        past.town.team.id: next(ll for ll in past.town.landlords if ll.kind == "municipal")
        for past in pasts
    }
    for past in pasts:
        if past.rehoused_on is not None:
            tenancies.append(
                {
                    "team_id": past.town.team.id,
                    "household_id": household_of[past.number],
                    "landlord_id": municipal[past.town.team.id].id,
                    "reference": f"DEMO-R{past.number:04d}",
                    "monthly_rent": 480000,
                    "current_arrears": 0,
                    "months_in_arrears": 0.0,
                    "arrears_as_of": None,
                    "created_at": _at(past.rehoused_on, 11),
                }
            )
    tenancy_ids = _insert(session, Tenancy, tenancies)
    batch_ids = _insert_lists(session, _towns_of(pasts), lists)
    _insert(
        session,
        ArrearsRecord,
        [
            {
                "tenancy_id": tenancy_ids[index],
                "batch_id": batch_ids[key],
                "as_of": key[2],
                "monthly_rent": tenancies[index]["monthly_rent"],
                **values,
            }
            for index, key, values in records
        ],
        returning=False,
    )
    cases, events, steps, visits, consents = [], [], [], [], []
    for past in pasts:
        tenancy_id = tenancy_ids[tenancy_of[past.number]]
        town = past.town
        worker = town.workers[past.number % len(town.workers)]
        met = _history_visits(rng, past, worker, outreach_from)
        cases.append(
            {
                "tenancy_id": tenancy_id,
                "team_id": town.team.id,
                "assigned_worker_id": worker.id,
                "status": "closed",
                "cause": rng.choice(["economic"] * 5 + ["behavioural", "contract_end", "other"]),
                "outcome": past.outcome,
                "priority": 0,
                "priority_reasons": [],
                "opened_at": _at(past.opened),
                "closed_at": _at(past.closed, 15),
                "last_contact_at": max((v["occurred_at"] for v in met if v["result"] == "met"),
                                       default=None),
            }
        )  # fmt: skip
        visits.append(met)
    case_ids = _insert(session, Case, cases)
    for past, case, case_id, case_visits in zip(pasts, cases, case_ids, visits, strict=True):
        lead = past.town.lead.id
        events += [
            {"case_id": case_id, "at": case["opened_at"], "user_id": lead, "kind": "opened",
             "detail": {"source": "arrears_list"}},
            {"case_id": case_id, "at": case["opened_at"], "user_id": lead, "kind": "assigned",
             "detail": {"worker_id": case["assigned_worker_id"]}},
            {"case_id": case_id, "at": case["closed_at"], "user_id": lead, "kind": "closed",
             "detail": {"outcome": past.outcome}},
        ]  # fmt: skip
        steps += [
            {"case_id": case_id, "kind": kind, "date": day, "source": "import",
             "created_by_id": lead, "created_at": _at(day, 16)}
            for kind, day in past.steps
        ]  # fmt: skip
        for visit in case_visits:
            visit["case_id"] = case_id
            if visit.pop("consent", False):
                consents.append(_history_consent(rng, past, visit, texts))
    _insert(session, CaseEvent, events, returning=False)
    _insert(session, LegalStep, steps, returning=False)
    _insert(session, Visit, [v for group in visits for v in group], returning=False)
    _insert(session, Consent, consents, returning=False)


def _towns_of(pasts: list[_Past]) -> dict[int, _Town]:
    """The towns (teams) the history cases belong to, by team id."""
    return {past.town.team.id: past.town for past in pasts}


def _insert(session: Session, model, rows: list[dict], returning: bool = True) -> list[int]:
    """Insert rows in one bulk statement on the table (no ORM objects: several thousand rows
    in a fraction of a second); the new ids in the rows' order when asked for."""
    if not rows:
        return []
    table = model.__table__
    if not returning:
        session.execute(insert(table), rows)
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, rows))


def _insert_lists(session: Session, towns: dict[int, _Town], lists: dict) -> dict:
    """The arrears lists (import batches) the history's tenancies were on, with their counts."""
    keys = sorted(lists, key=lambda key: (key[2], key[0], key[1]))
    rows = []
    for team_id, landlord_id, as_of in keys:
        town = towns[team_id]
        name = f"demo-{town.team.name}-{landlord_id}-{as_of}"
        rows.append(
            {
                "kind": "arrears",
                "landlord_id": landlord_id,
                "team_id": team_id,
                "filename": f"restanceliste-{as_of}.csv",
                "file_hash": hashlib.sha256(name.encode()).hexdigest(),
                "as_of": as_of,
                "created_by_id": town.lead.id,
                "created_at": _at(as_of, 9),
                "counts": {"unchanged": 0, "rejected": 0, **lists[team_id, landlord_id, as_of]},
                "errors": [],
            }
        )
    return dict(zip(keys, _insert(session, ImportBatch, rows), strict=True))


def _history_household(rng, past: _Past, first_list: date) -> dict:
    """A household of the history (the retention job blanks the old ones afterwards)."""
    street, postcode = rng.choice(_STREETS)
    address = f"{street} {rng.randint(1, 120)}"
    town = "Espergærde" if postcode == "3060" else "Helsingør"
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    position = gazetteer.locate(address, town) or (
        _CENTRE[0] + rng.uniform(-0.025, 0.02),
        _CENTRE[1] + rng.uniform(-0.03, 0.012),
    )
    language = rng.choice(_LANGUAGES)
    phone = "+45 " + " ".join(str(rng.randint(20 if i == 0 else 10, 99)) for i in range(4))
    return {
        "team_id": past.town.team.id,
        "name": name,
        "name_key": normalise_name(name),
        "address": address,
        "postcode": postcode,
        "town": town,
        "address_key": address_key(address, postcode),
        "phone": normalise_phone(phone),
        "language": language,
        "needs_interpreter": language not in ("da", "en"),
        "adults": rng.choice([1, 1, 2]),
        "children": rng.choice([0, 0, 0, 1, 2, 3]),
        "lat": position[0],
        "lon": position[1],
        "geo_source": "demo",
        "geo_accuracy": "address",
        "created_at": _at(first_list, 9),
    }


def _history_visits(rng, past: _Past, worker: User, outreach_from: date) -> list[dict]:
    """The contact attempts of a history case; a visit that meets the tenant may carry a
    consent (`consent`: True, taken out before the insert)."""

    def visit(day: date, channel: str, result: str, hour: int = 0) -> dict:
        return {
            "client_uuid": _uuid(rng),
            "worker_id": worker.id,
            "channel": channel,
            "result": result,
            "notes": rng.choice(_NOTES) if result == "met" else "",
            "occurred_at": _at(day, hour or rng.randint(9, 16)),
            "received_at": _at(day, 17),
        }

    def between(low: date, high: date) -> date:
        return low + timedelta(days=rng.randint(0, max(0, (high - low).days)))

    start = past.opened + timedelta(days=1)
    outreach = past.opened >= outreach_from
    # Before a hearing the tenant is met only if chosen so; without one, most are met once
    # outreach has begun (and, before it, a few come to the office after the letter).
    if past.hearing is not None:
        meet_by = past.hearing - timedelta(days=1) if past.met_before_hearing else None
    elif rng.random() < (0.85 if outreach else 0.15):
        meet_by = past.closed
    else:
        meet_by = None
    visits = [] if outreach else [visit(start, "letter", "note_left", 9)]
    if meet_by is not None and meet_by >= start:
        met_on = between(start, meet_by)
        for _ in range(rng.randint(0, 2) if outreach else 0):
            visits.append(visit(between(start, met_on), "door", "not_home"))
        visits.append(visit(met_on, "door" if outreach else "office", "met"))
        visits[-1]["consent"] = outreach and rng.random() < 0.75
    elif outreach:
        until = past.hearing - timedelta(days=1) if past.hearing else past.closed
        for _ in range(rng.randint(1, 3)):
            visits.append(visit(between(start, max(start, until)), "door", "not_home"))
    visits.sort(key=lambda v: v["occurred_at"])
    return visits


def _history_consent(rng, past: _Past, visit: dict, texts: dict[str, int]) -> dict:
    """Consent given at the visit that met the tenant, witnessed or on paper."""
    witnessed = rng.random() < 0.6
    colleague = next((w for w in past.town.workers if w.id != visit["worker_id"]), past.town.lead)
    return {
        "client_uuid": _uuid(rng),
        "case_id": visit["case_id"],
        "worker_id": visit["worker_id"],
        "state": "given",
        "scopes": rng.sample(_SCOPES, 2),
        "method": "verbal_witness" if witnessed else "paper",
        "witness": colleague.name if witnessed else "",
        "text_id": texts.get("da"),
        "language": "da",
        "recorded_at": visit["occurred_at"],
        "received_at": visit["received_at"],
    }
