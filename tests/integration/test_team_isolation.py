"""Two teams share one server and never each other's register: what a lead of team B does
with a file, a page or the command line finds, counts and changes nothing of team A's.

Each test stores team A's register, lets team B act on it, and compares team A's rows before
and after (on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import (
    ArrearsRecord,
    AuditEvent,
    Case,
    CaseEvent,
    Household,
    ImportBatch,
    Landlord,
    LegalStep,
    Team,
    Tenancy,
    Visit,
)
from fieldapp.usecases import Actor, NotFound, UnitOfWork
from fieldapp.usecases.households import ErasureRequest, erase_household_on_request
from fieldapp.usecases.imports import (
    ArrearsUpload,
    import_arrears_list,
    import_legal_steps_file,
    list_imports,
)
from tests.support import PASSWORD, AuthActions

LANDLORD = "Boligselskabet Nord"
ARREARS_HEADER = ["Lejemålsnr.", "Navn", "Adresse", "Postnr.", "By", "Restance", "Opgjort pr."]
STEPS_HEADER = ["Adresse", "Postnr.", "Hændelse", "Dato"]
SECRET_NOTE = "Fortæller om misbrug og indlæggelse"  # what team B must never read


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def team_a_rows(app) -> dict[str, object]:
    """Everything of team A's register that team B's actions could touch, by value."""
    with app.app_context():
        team = db.session.scalar(select(Team).where(Team.name == "Team A"))
        cases = db.session.scalars(select(Case).where(Case.team_id == team.id).order_by(Case.id))
        tenancies = db.session.scalars(
            select(Tenancy).where(Tenancy.team_id == team.id).order_by(Tenancy.id)
        )
        households = db.session.scalars(
            select(Household).where(Household.team_id == team.id).order_by(Household.id)
        )
        case_ids = select(Case.id).where(Case.team_id == team.id)
        return {
            "cases": [(c.id, c.status, c.outcome, c.version, c.priority) for c in cases],
            "tenancies": [
                (t.id, t.reference, t.current_arrears, t.arrears_as_of) for t in tenancies
            ],
            "households": [(h.id, h.name, h.address, h.phone) for h in households],
            "steps": db.session.scalar(
                select(func.count()).select_from(LegalStep).where(LegalStep.case_id.in_(case_ids))
            ),
            "events": db.session.scalar(
                select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id.in_(case_ids))
            ),
            "records": db.session.scalar(
                select(func.count())
                .select_from(ArrearsRecord)
                .join(Tenancy, Tenancy.id == ArrearsRecord.tenancy_id)
                .where(Tenancy.team_id == team.id)
            ),
        }


@pytest.fixture
def register(app, make_user, make_case):
    """Team A: a lead, a worker, three open cases at one landlord (one with a visit note on
    addiction), and team B: a lead and a worker with nothing yet."""
    lead_a = make_user("lead", team="Team A")
    worker_a = make_user("worker", team="Team A")
    lead_b = make_user("lead", team="Team B")
    worker_b = make_user("worker", team="Team B")
    ids = [
        make_case(address=f"Stengade {n}", reference=f"A-{n}", worker_id=worker_a.id)
        for n in (1, 2, 3)
    ]
    with app.app_context():
        db.session.add(
            Visit(
                client_uuid=str(uuid.uuid4()),
                case_id=ids[0],
                worker_id=worker_a.id,
                channel="door",
                result="met",
                notes=SECRET_NOTE,
                occurred_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
            )
        )
        db.session.commit()
        household_a = db.session.get(Case, ids[0]).tenancy.household_id
    return {
        "lead_a": lead_a,
        "worker_a": worker_a,
        "lead_b": lead_b,
        "worker_b": worker_b,
        "cases": ids,
        "household_a": household_a,
    }


def as_person(app, user_id: int) -> Actor:
    from fieldapp.models import User

    return Actor.person(db.session.get(User, user_id), "192.0.2.7")


def test_a_legal_step_file_of_team_b_naming_team_a_addresses_changes_nothing_of_team_a(
    app, register
):
    """Finding 1 (critical): "executed" for team A's address closed A's case as evicted and
    opened a B case on A's household, whose record B could then read and erase."""
    before = team_a_rows(app)
    data = csv_bytes(STEPS_HEADER, [["Stengade 1", "3000", "Udsættelse gennemført", "20-11-2026"]])
    with app.app_context():
        actor = as_person(app, register["lead_b"].id)
        with UnitOfWork(db.session) as uow:
            report = import_legal_steps_file(uow, actor, data, "fogedret.csv")
    assert team_a_rows(app) == before
    # For team B the address is one it does not know, and the row names no landlord: it is
    # rejected with the same words as for an address nobody knows.
    assert (report.new, report.rejected) == (0, 1)
    assert [(e.field, e.reason) for e in report.errors] == [
        ("landlord", "landlord is missing and no known tenancy has this reference or address")
    ]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 3


def test_a_legal_step_naming_the_landlord_opens_team_b_own_case(app, register):
    """With the landlord named, the row is a tenancy new to team B: B's own household,
    tenancy and case, closed as evicted; A's case at that address stays as it was."""
    before = team_a_rows(app)
    header = ["Udlejer", *STEPS_HEADER]
    row = [LANDLORD, "Stengade 1", "3000", "Udsættelse gennemført", "20-11-2026"]
    with app.app_context():
        actor = as_person(app, register["lead_b"].id)
        with UnitOfWork(db.session) as uow:
            report = import_legal_steps_file(uow, actor, csv_bytes(header, [row]), "f.csv")
        assert (report.new, report.rejected) == (1, 0), report.errors
    assert team_a_rows(app) == before
    with app.app_context():
        team_b = db.session.scalar(select(Team.id).where(Team.name == "Team B"))
        b_case = db.session.scalar(select(Case).where(Case.team_id == team_b))
        assert b_case.tenancy.household_id != register["household_a"]
        assert b_case.tenancy.household.team_id == team_b == b_case.tenancy.team_id
        assert b_case.status == "closed" and b_case.outcome == "evicted"


def test_team_b_cannot_read_or_erase_team_a_households_on_the_web(app, client, register):
    household = register["household_a"]
    auth = AuthActions(client)
    auth.login(register["lead_b"].email, PASSWORD)
    assert client.get(f"/households/{household}/record").status_code == 404
    response = client.get(f"/households/{household}/record.json")
    assert response.status_code == 404 and SECRET_NOTE not in response.get_data(as_text=True)
    before = team_a_rows(app)
    erase = auth.post(
        f"/households/{household}/erase",
        {"reason": "The tenant asked for it by letter"},
        page="/cases",
    )
    assert erase.status_code == 404
    assert team_a_rows(app) == before
    # Team A's own lead still reads it.
    auth.logout()
    auth.login(register["lead_a"].email, PASSWORD)
    own = client.get(f"/households/{household}/record.json")
    assert own.status_code == 200 and SECRET_NOTE in own.get_data(as_text=True)


def test_erasure_by_the_use_case_is_refused_to_another_team_as_not_found(app, register):
    with app.app_context():
        actor = as_person(app, register["lead_b"].id)
        request = ErasureRequest(register["household_a"], "The tenant asked by letter")
        with pytest.raises(NotFound), UnitOfWork(db.session) as uow:
            erase_household_on_request(uow, actor, request)


def test_a_household_with_cases_of_two_teams_is_exported_by_neither(app, register, make_case):
    """A register written before the teams were separated may hold such a household: no one
    team may hand it out or erase it alone (the other team's notes are in it)."""
    with app.app_context():
        household = db.session.get(Household, register["household_a"])
        team_b = db.session.scalar(select(Team.id).where(Team.name == "Team B"))
        landlord = db.session.scalar(select(Landlord).where(Landlord.name == LANDLORD))
        tenancy = Tenancy(household=household, landlord=landlord, reference="B-9", team_id=team_b)
        db.session.add(Case(tenancy=tenancy, team_id=team_b))
        db.session.commit()
        for lead in ("lead_a", "lead_b"):
            actor = as_person(app, register[lead].id)
            with pytest.raises(NotFound), UnitOfWork(db.session) as uow:
                erase_household_on_request(
                    uow, actor, ErasureRequest(household.id, "The tenant asked by letter")
                )


def test_team_b_arrears_list_neither_updates_nor_clears_nor_reveals_team_a(app, register):
    """Finding 2: B's complete list of the same landlord cleared A's tenancies as paid up,
    and the preview said "updated" for A's tenant, telling B who is in the register."""
    before = team_a_rows(app)
    rows = [["A-1", "Lars Bakken", "Stengade 1", "3000", "Helsingør", "9.999,00", "20-11-2026"]]
    upload_rows = csv_bytes(ARREARS_HEADER, rows)
    with app.app_context():
        actor = as_person(app, register["lead_b"].id)
        landlord = db.session.scalar(select(Landlord).where(Landlord.name == LANDLORD))
        upload = ArrearsUpload(upload_rows, "liste.csv", landlord, complete_list=True)
        with UnitOfWork(db.session, dry_run=True) as uow:
            preview = import_arrears_list(uow, actor, upload, today=date(2026, 11, 21))
        assert (preview.new, preview.updated, preview.cleared) == (1, 0, 0)
        with UnitOfWork(db.session) as uow:
            report = import_arrears_list(uow, actor, upload, today=date(2026, 11, 21))
        assert preview.counts() == report.counts()
    assert team_a_rows(app) == before
    with app.app_context():
        team_b = db.session.scalar(select(Team.id).where(Team.name == "Team B"))
        theirs = db.session.scalars(select(Tenancy).where(Tenancy.reference == "A-1")).all()
        assert sorted(t.team_id is not None and t.team_id == team_b for t in theirs) == [
            False,
            True,
        ]


def test_import_history_is_the_team_own(app, register):
    data = csv_bytes(STEPS_HEADER, [["Stengade 1", "3000", "Udsættelse gennemført", "20-11-2026"]])
    with app.app_context():
        actor_b = as_person(app, register["lead_b"].id)
        with UnitOfWork(db.session) as uow:
            import_legal_steps_file(uow, actor_b, data, "fogedret.csv")
        actor_a = as_person(app, register["lead_a"].id)
        assert [b.filename for b in list_imports(actor_b, db.session)] == ["fogedret.csv"]
        assert list_imports(actor_a, db.session) == []
        # The same file imported by team A is A's first import, not "already imported".
        with UnitOfWork(db.session, dry_run=True) as uow:
            again = import_legal_steps_file(uow, actor_a, data, "fogedret.csv")
        assert not again.already_imported
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
        assert audit.address == "192.0.2.7"
        assert db.session.scalar(select(ImportBatch.team_id)) == actor_b.team_id


def test_the_import_page_refuses_a_list_from_the_future_and_stores_nothing(app, client, register):
    """Finding 3: a list dated 2099 made every later real list "unchanged"."""
    auth = AuthActions(client)
    auth.login(register["lead_a"].email, PASSWORD)
    before = team_a_rows(app)
    rows = [["A-1", "Lars Bakken", "Stengade 1", "3000", "Helsingør", "1,00", "01-01-2099"]]
    with app.app_context():
        landlord_id = db.session.scalar(select(Landlord.id).where(Landlord.name == LANDLORD))
    data = {
        "kind": "arrears",
        "landlord": str(landlord_id),
        "file": (io.BytesIO(csv_bytes(ARREARS_HEADER, rows)), "liste.csv"),
    }
    response = auth.post("/imports", data, page="/imports", content_type="multipart/form-data")
    assert response.status_code == 400
    assert "2099-01-01, after today" in response.get_data(as_text=True)
    assert team_a_rows(app) == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_the_command_line_imports_into_the_named_team_and_audits_the_operator(
    app, runner, register, tmp_path
):
    path = tmp_path / "fogedret.csv"
    header = ["Udlejer", *STEPS_HEADER]
    row = [LANDLORD, "Stengade 1", "3000", "Udsættelse gennemført", "20-11-2026"]
    path.write_bytes(csv_bytes(header, [row]))
    before = team_a_rows(app)
    unnamed = runner.invoke(args=["import-legal-steps", str(path)])
    assert unnamed.exit_code == 2 and "Choose the team with --team" in unnamed.output
    done = runner.invoke(
        args=["import-legal-steps", str(path), "--team", "Team B", "--operator", "ops-anna"]
    )
    assert done.exit_code == 0, done.output
    assert team_a_rows(app) == before
    with app.app_context():
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
        assert audit.user_id is None and audit.address == "cli:ops-anna"


@pytest.fixture
def demo_and_team_b(app, make_user):
    from fieldapp.services.demo import DEMO_TEAM, seed_demo

    app.config["ROUTING_TIME_LIMIT_SECONDS"] = 1
    with app.app_context():
        seed_demo(db.session, "demo")
        db.session.commit()
    lead_b = make_user("lead", team="Team B")
    with app.app_context():
        from fieldapp.models import User

        demo_team = db.session.scalar(select(Team.id).where(Team.name == DEMO_TEAM))
        workers = db.session.scalars(
            select(User.id).where(User.team_id == demo_team, User.role == "worker")
        ).all()
        dpo = db.session.scalar(select(User.id).where(User.role == "dpo"))
    return lead_b, list(workers), dpo


def route_rows(app) -> int:
    from fieldapp.models import Route

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Route))


def test_a_lead_plans_and_publishes_only_for_their_own_team_workers(app, client, demo_and_team_b):
    """Finding 7: a lead planned and published routes for another team's workers and the
    data protection officer."""
    from datetime import timedelta

    lead_b, demo_workers, dpo = demo_and_team_b
    auth = AuthActions(client)
    auth.login(lead_b.email, PASSWORD)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    for chosen in ([str(demo_workers[0])], [str(dpo)], [str(w) for w in demo_workers]):
        response = auth.post("/routes/plan", {"day": tomorrow, "worker": chosen}, page="/routes")
        assert response.status_code == 400
        assert "no active worker of this team" in response.get_data(as_text=True)
    assert route_rows(app) == 0
    published = auth.post("/routes/publish", {"day": tomorrow}, page="/routes")
    assert published.status_code == 400 and route_rows(app) == 0


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_an_impossible_route_day_is_refused_by_name_not_a_500(app, client, demo_and_team_b, day):
    auth = AuthActions(client)
    auth.login("lead@example.org", "demo")
    response = auth.post("/routes/plan", {"day": day}, page="/routes")
    assert response.status_code == 400
    assert f"Day {day} is too far from today" in response.get_data(as_text=True)
    assert route_rows(app) == 0


def test_plan_routes_publish_from_the_command_line_is_audited(app, runner, demo_and_team_b):
    from datetime import timedelta

    from fieldapp.services.demo import DEMO_TEAM

    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    result = runner.invoke(
        args=["plan-routes", "--date", tomorrow, "--team", DEMO_TEAM, "--operator", "ops-bo"]
        + ["--publish", "--time-limit", "1"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        lines = db.session.execute(
            select(AuditEvent.action, AuditEvent.address).where(AuditEvent.object_type == "routes")
        ).all()
    assert sorted(lines) == [("plan", "cli:ops-bo"), ("publish", "cli:ops-bo")]
