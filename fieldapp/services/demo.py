"""The demo municipality: a Helsingør-like town seeded for `fieldapp demo` and the browser tests."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.registers import address_key
from ..models import (
    ArrearsRecord,
    Case,
    CaseEvent,
    Household,
    ImportBatch,
    Landlord,
    LegalStep,
    Organisation,
    Partner,
    Team,
    Tenancy,
    User,
)
from . import gazetteer
from .accounts import create_user
from .fieldwork import ensure_consent_texts
from .tabular import normalise_name, normalise_phone
from .triage import refresh_priorities

DEMO_LOGINS: list[tuple[str, str]] = [
    ("lead@example.org", "lead"),
    ("worker@example.org", "worker"),
    ("admin@example.org", "admin"),
    ("dpo@example.org", "dpo"),
    ("lead.nord@example.org", "lead"),
    ("worker.nord@example.org", "worker"),
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


def seed_demo(session: Session, password: str, today: date | None = None, seed: int = 2016) -> bool:
    """Fill an empty database with the demo town; return False (and touch nothing) otherwise.

    Dates are relative to today so deadlines are always ahead of whoever opens the demo.
    """
    if is_seeded(session):
        return False
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
