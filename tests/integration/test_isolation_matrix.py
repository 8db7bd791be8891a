"""The isolation matrix (issue 16), beside the access matrix: every use case, run by the demo's
second team (its lead or its worker) on an object of the first team — a case, a household, a
tenancy, a landlord's list, a worker, a route, a meeting, a push subscription — is refused or
has no effect. Each row compares the first team's rows before and after, by value, on SQLite
and PostgreSQL.

The access matrix asks "who may open this URL"; this one asks "can what B does reach A's
data", through the use cases the web and the command line share."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import (
    Action,
    ActionUpdate,
    ArrearsRecord,
    AuditEvent,
    Case,
    CaseConflict,
    CaseEvent,
    Consent,
    Household,
    ImportBatch,
    Landlord,
    LegalStep,
    Meeting,
    MeetingItem,
    Partner,
    PushSubscription,
    Route,
    RouteLeftOut,
    RouteStop,
    StagedUpload,
    Team,
    Tenancy,
    User,
    Visit,
)
from fieldapp.models.agreements import BenefitDeduction, HoldRequest, PaymentPlan
from fieldapp.services.accounts import create_user
from fieldapp.services.demo import DEMO_TEAM, SECOND_TEAM, seed_demo
from fieldapp.services.meetings import create_meeting
from fieldapp.usecases import Actor, NotFound, Refused, UnitOfWork
from fieldapp.usecases.agreements import (
    NewDeduction,
    NewPlan,
    add_deduction,
    add_plan,
    close_deduction,
    confirm_deduction,
    end_plan,
)
from fieldapp.usecases.cases import (
    CaseChange,
    NewLegalStep,
    add_step,
    assign,
    change_case,
    correct,
    place_pin,
    resolve_conflict_of_team,
)
from fieldapp.usecases.holds import NewHold, answer, ask_to_hold
from fieldapp.usecases.households import (
    ErasureRequest,
    erase_household_on_request,
    export_household_record,
)
from fieldapp.usecases.imports import (
    ArrearsUpload,
    import_arrears_list,
    import_legal_steps_file,
    list_imports,
)
from fieldapp.usecases.meetings import (
    Decision,
    add_case_to_agenda,
    cases_to_add,
    decide,
    plan_meeting,
    remove_from_meeting,
)
from fieldapp.usecases.outside import (
    ActionChange,
    landlord_tenants,
    partner_case,
    partner_meeting,
    update_partner_action,
)
from fieldapp.usecases.routes import book_visit, drop_visit, move_visit, plan_routes, publish_day
from fieldapp.usecases.sync import apply_outbox
from tests.support import AuthActions

TOMORROW = date.today() + timedelta(days=1)
# What team A's tenant consented to share: with the debt counselling service and the landlord.
SHARED = ["debt_counselling", "landlord"]
SYNC = {"X-Doorstep-Sync": "1", "Origin": "http://localhost"}


def team_rows(team_id: int) -> dict[str, object]:
    """Everything of one team's register and work, by value."""
    s = db.session
    case_ids = select(Case.id).where(Case.team_id == team_id)
    users = select(User.id).where(User.team_id == team_id)

    def count(model, *where) -> int:
        return s.scalar(select(func.count()).select_from(model).where(*where))

    return {
        "cases": s.execute(
            select(
                Case.id,
                Case.status,
                Case.outcome,
                Case.version,
                Case.priority,
                Case.assigned_worker_id,
            )
            .where(Case.team_id == team_id)
            .order_by(Case.id)
        ).all(),
        "tenancies": s.execute(
            select(Tenancy.id, Tenancy.reference, Tenancy.current_arrears, Tenancy.arrears_as_of)
            .where(Tenancy.team_id == team_id)
            .order_by(Tenancy.id)
        ).all(),
        "households": s.execute(
            select(
                Household.id,
                Household.name,
                Household.address,
                Household.phone,
                Household.language,
                Household.children,
            )
            .where(Household.team_id == team_id)
            .order_by(Household.id)
        ).all(),
        "steps": count(LegalStep, LegalStep.case_id.in_(case_ids)),
        "events": count(CaseEvent, CaseEvent.case_id.in_(case_ids)),
        "visits": count(Visit, Visit.case_id.in_(case_ids)),
        "consents": count(Consent, Consent.case_id.in_(case_ids)),
        "records": count(
            ArrearsRecord,
            ArrearsRecord.tenancy_id.in_(select(Tenancy.id).where(Tenancy.team_id == team_id)),
        ),
        "batches": count(ImportBatch, ImportBatch.team_id == team_id),
        "routes": s.execute(
            select(Route.id, Route.state, Route.worker_id).where(Route.team_id == team_id)
        ).all(),
        "stops": s.execute(
            select(RouteStop.id, RouteStop.route_id, RouteStop.position)
            .where(RouteStop.case_id.in_(case_ids))
            .order_by(RouteStop.id)
        ).all(),
        "conflicts": s.execute(
            select(CaseConflict.id, CaseConflict.resolution).where(
                CaseConflict.case_id.in_(case_ids)
            )
        ).all(),
        "decisions": s.execute(
            select(MeetingItem.id, MeetingItem.decision, MeetingItem.partner_id).where(
                MeetingItem.case_id.in_(case_ids)
            )
        ).all(),
        "positions": s.execute(
            select(Household.id, Household.lat, Household.lon, Household.geo_source)
            .where(Household.team_id == team_id)
            .order_by(Household.id)
        ).all(),
        "meetings": count(Meeting, Meeting.team_id == team_id),
        "items": count(
            MeetingItem,
            MeetingItem.meeting_id.in_(select(Meeting.id).where(Meeting.team_id == team_id)),
        ),
        "actions": s.execute(
            select(Action.id, Action.status, Action.due_on)
            .where(Action.case_id.in_(case_ids))
            .order_by(Action.id)
        ).all(),
        "action_updates": count(
            ActionUpdate,
            ActionUpdate.action_id.in_(select(Action.id).where(Action.case_id.in_(case_ids))),
        ),
        "plans": s.execute(
            select(PaymentPlan.id, PaymentPlan.state, PaymentPlan.arrears_at_start)
            .where(PaymentPlan.case_id.in_(case_ids))
            .order_by(PaymentPlan.id)
        ).all(),
        "deductions": s.execute(
            select(BenefitDeduction.id, BenefitDeduction.state, BenefitDeduction.confirmed_by)
            .where(BenefitDeduction.case_id.in_(case_ids))
            .order_by(BenefitDeduction.id)
        ).all(),
        "subscriptions": count(PushSubscription, PushSubscription.user_id.in_(users)),
        "staged": count(StagedUpload, StagedUpload.user_id.in_(users)),
        "holds": s.execute(
            select(
                HoldRequest.id,
                HoldRequest.state,
                HoldRequest.answered_by_id,
                HoldRequest.answer_note,
                HoldRequest.ended_with,
            )
            .where(HoldRequest.case_id.in_(case_ids))
            .order_by(HoldRequest.id)
        ).all(),
        "workers": s.execute(
            select(User.id, User.role, User.active, User.team_id)
            .where(User.team_id == team_id)
            .order_by(User.id)
        ).all(),
    }


class World:
    """The demo with, for team A, a draft route, a meeting, a phone subscription and a staged
    upload; and the actors of team B."""

    def __init__(self, app) -> None:
        self.app = app
        with app.app_context():
            seed_demo(db.session, "demo")
            db.session.commit()
            s = db.session
            self.team_a = s.scalar(select(Team.id).where(Team.name == DEMO_TEAM))
            self.team_b = s.scalar(select(Team.id).where(Team.name == SECOND_TEAM))
            self.lead_a = s.scalar(select(User.id).where(User.email == "lead@example.org"))
            self.worker_a = s.scalar(select(User.id).where(User.email == "worker@example.org"))
            self.lead_b = s.scalar(select(User.id).where(User.email == "lead.nord@example.org"))
            self.worker_b = s.scalar(select(User.id).where(User.email == "worker.nord@example.org"))
            self.case_a = s.scalar(
                select(Case.id)
                .where(Case.team_id == self.team_a, Case.assigned_worker_id == self.worker_a)
                .where(Case.status != "closed")
                .order_by(Case.id)
                .limit(1)
            )
            self.closed_a = s.scalar(
                select(Case.id).where(Case.team_id == self.team_a, Case.status == "closed").limit(1)
            )
            case = s.get(Case, self.case_a)
            self.household_a = case.tenancy.household_id
            self.closed_household_a = s.get(Case, self.closed_a).tenancy.household_id
            self.reference_a = case.tenancy.reference
            self.address_a = (case.tenancy.household.address, case.tenancy.household.postcode)
            self.landlord = case.tenancy.landlord.name
            self.case_b = s.scalar(select(Case.id).where(Case.team_id == self.team_b).limit(1))
            self.route_a = Route(
                day=TOMORROW, team_id=self.team_a, worker_id=self.worker_a, state="draft",
                start_lat=56.03, start_lon=12.61, end_lat=56.03, end_lon=12.61,
            )  # fmt: skip
            s.add(self.route_a)
            s.flush()
            at = datetime.now(UTC) + timedelta(days=1)
            stop = RouteStop(
                route_id=self.route_a.id, case_id=self.case_a, position=1, arrive_at=at,
                depart_at=at, lat=56.03, lon=12.61,
            )  # fmt: skip
            conflict = CaseConflict(
                client_uuid=str(uuid.uuid4()), case_id=self.case_a, worker_id=self.worker_a,
                base_version=0, proposed={"phone": "+4599999999"}, current={"phone": ""},
            )  # fmt: skip
            s.add_all([stop, conflict])
            lead_a = s.get(User, self.lead_a)
            self.meeting_a = create_meeting(s, self.team_a, TOMORROW, lead_a, "Team A").id
            s.add(
                PushSubscription(
                    user_id=self.worker_a, endpoint="https://fcm.googleapis.com/fcm/send/a",
                    endpoint_hash="a" * 64, p256dh="B" * 87, auth="C" * 22, language="da",
                )
            )  # fmt: skip
            staged = StagedUpload(
                kind="legal_steps", user_id=self.lead_a, filename="a.csv", data=b"x"
            )
            s.add(staged)
            error = {"row": 2, "field": "name", "value": "A", "reason": "x"}
            batch = ImportBatch(
                kind="arrears", team_id=self.team_a, filename="a.csv", file_hash="a" * 64,
                counts={"new": 1}, errors=[error],
            )  # fmt: skip
            s.add(batch)
            hold = HoldRequest(
                case_id=self.case_a, landlord_id=case.tenancy.landlord_id,
                requested_by_id=self.worker_a, until=TOMORROW + timedelta(days=30),
                reason="payment_plan",
            )  # fmt: skip
            s.add(hold)
            # The tenant consents to the landlord (and to the debt counselling service, as the
            # partner rows' consent below does: whichever is latest covers both): only the
            # person's landlord keeps them out.
            s.add(
                Consent(
                    client_uuid=str(uuid.uuid4()), case_id=self.case_a, worker_id=self.worker_a,
                    state="given", scopes=SHARED, method="signature", language="da",
                    recorded_at=datetime.now(UTC) + timedelta(seconds=1),
                )
            )  # fmt: skip
            left_out = RouteLeftOut(
                day=self.route_a.day, team_id=self.team_a, case_id=self.case_a,
                reason="booking_not_met", window_start=datetime.now(UTC),
                window_end=datetime.now(UTC) + timedelta(hours=1),
            )  # fmt: skip
            s.add(left_out)
            s.commit()
            self.batch_a, self.left_out_a = batch.id, left_out.id
            self.hold_a = hold.id
            self.route_a = self.route_a.id
            self.stop_a, self.conflict_a = stop.id, conflict.id
            self.item_a = s.scalar(
                select(MeetingItem.id).where(MeetingItem.meeting_id == self.meeting_a).limit(1)
            )
            self.staged_a = staged.id
            plan = PaymentPlan(
                client_uuid=str(uuid.uuid4()), case_id=self.case_a, created_by_id=self.lead_a,
                arrears_at_start=300000, instalments=[{"due_on": TOMORROW.isoformat(),
                "amount": 100000}], recorded_at=datetime.now(UTC),
            )  # fmt: skip
            deduction = BenefitDeduction(
                client_uuid=str(uuid.uuid4()), case_id=self.case_a, created_by_id=self.lead_a,
                benefit="section_81a", amount=250000, starts_on=TOMORROW, state="applied",
                recorded_at=datetime.now(UTC),
            )  # fmt: skip
            s.add_all([plan, deduction])
            s.commit()
            self.plan_a, self.deduction_a = plan.id, deduction.id
            # Landlords' people made now, so the rows compare A's users before and after.
            s.add(Landlord(name="Udlejer Syd ApS", kind="private"))
            s.flush()
            self.other_landlords = [
                create_user(
                    s, f"{name}@landlord.example", "correct horse battery", "landlord",
                    team, landlord_name=landlord,
                ).id
                for name, landlord, team in (
                    ("syd", "Udlejer Syd ApS", DEMO_TEAM), ("nord", self.landlord, SECOND_TEAM),
                )
            ]  # fmt: skip
            s.commit()
            self._partners(s)

    def _partners(self, s) -> None:
        """Team A's case shared with the debt counselling service (an action for it, the
        service at A's meeting), a second case of A whose consent was withdrawn; partner
        people: the service's in team A and in team B, and a job centre's in team A."""
        debt = s.scalar(select(Partner).where(Partner.name == "Gældsrådgivningen"))
        jobs = s.scalar(select(Partner).where(Partner.name == "Jobcenter Helsingør"))
        self.case_w = s.scalar(
            select(Case.id)
            .where(Case.team_id == self.team_a, Case.status != "closed", Case.id != self.case_a)
            .order_by(Case.id)
            .limit(1)
        )
        now = datetime.now(UTC)
        for case_id, states in ((self.case_a, ["given"]), (self.case_w, ["given", "withdrawn"])):
            for n, state in enumerate(states):
                s.add(
                    Consent(
                        client_uuid=str(uuid.uuid4()), case_id=case_id, worker_id=self.worker_a,
                        state=state, scopes=SHARED if state == "given" else [],
                        method="paper", language="da", recorded_at=now + timedelta(seconds=n),
                    )
                )  # fmt: skip
        actions = {
            case_id: Action(
                client_uuid=str(uuid.uuid4()), case_id=case_id, worker_id=self.worker_a,
                description="Budget", owner="partner", partner_id=debt.id, recorded_at=now,
            )
            for case_id in (self.case_a, self.case_w)
        }  # fmt: skip
        s.add_all(actions.values())
        s.get(Meeting, self.meeting_a).partner_ids = [debt.id, jobs.id]
        people = (
            ("partner_a", DEMO_TEAM, debt), ("partner_b", SECOND_TEAM, debt),
            ("partner_jobs", DEMO_TEAM, jobs),
        )  # fmt: skip
        for key, team, partner in people:
            user = create_user(s, f"iso.{key}@example.org", "demo", "partner", team, key,
                               partner_name=partner.name)  # fmt: skip
            setattr(self, key, user.id)
        s.commit()
        self.action_a, self.action_w = actions[self.case_a].id, actions[self.case_w].id

    def actor(self, user_id: int) -> Actor:
        return Actor.person(db.session.get(User, user_id), "192.0.2.66")


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows([header, *rows])
    return buffer.getvalue().encode()


def refused(call: Callable[[], object]) -> str:
    """Run a use case in its own unit of work; "refused" or "no effect" (it ran)."""
    try:
        call()
    except (Refused, NotFound):
        db.session.rollback()
        return "refused"
    return "no effect"


# --- the rows of the matrix: (use case, object of team A) ------------------------------------


def in_app_context(action: Callable[[World], str]) -> Callable[[World], str]:
    """Use cases run in an application context of their own, as a command does; the web rows
    make requests, each with its own."""

    def run(w: World) -> str:
        with w.app.app_context():
            return action(w)

    run.__name__ = action.__name__
    return run


@in_app_context
def import_arrears_naming_a_tenancy(w: World) -> str:
    row = [
        w.reference_a,
        "X",
        *w.address_a,
        "Helsingør",
        "9.999,00",
        date.today().strftime("%d-%m-%Y"),
    ]  # noqa: E501
    data = csv_bytes(
        ["Lejemålsnr.", "Navn", "Adresse", "Postnr.", "By", "Restance", "Opgjort pr."], [row]
    )  # noqa: E501
    landlord = db.session.scalar(select(Landlord).where(Landlord.name == w.landlord))

    def run():
        with UnitOfWork(db.session) as uow:
            report = import_arrears_list(
                uow, w.actor(w.lead_b), ArrearsUpload(data, "l.csv", landlord, complete_list=True)
            )
            assert report.updated == 0  # never "updated": that would say A knows the tenant

    return refused(run)


@in_app_context
def import_legal_steps_naming_a_tenancy(w: World) -> str:
    data = csv_bytes(
        ["Udlejer", "Lejemålsnr.", "Hændelse", "Dato"],
        [[w.landlord, w.reference_a, "executed", date.today().strftime("%d-%m-%Y")]],
    )

    def run():
        with UnitOfWork(db.session) as uow:
            import_legal_steps_file(uow, w.actor(w.lead_b), data, "f.csv")

    return refused(run)


@in_app_context
def export_a_household(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            export_household_record(uow, w.actor(w.lead_b), w.household_a, "json")

    return refused(run)


@in_app_context
def erase_a_household(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            erase_household_on_request(
                uow, w.actor(w.lead_b), ErasureRequest(w.closed_household_a, "asked by letter")
            )

    return refused(run)


@in_app_context
def add_a_legal_step(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            add_step(uow, w.actor(w.lead_b), w.case_a, NewLegalStep("executed", date.today()))

    return refused(run)


@in_app_context
def add_a_legal_step_as_worker(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            add_step(uow, w.actor(w.worker_b), w.case_a, NewLegalStep("hearing", TOMORROW))

    return refused(run)


@in_app_context
def change_a_case(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            change_case(
                uow, w.actor(w.lead_b), w.case_a, CaseChange(1, status="closed", outcome="other")
            )

    return refused(run)


@in_app_context
def correct_a_household(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            correct(uow, w.actor(w.lead_b), w.case_a, {"name": "X", "address": "Y"})

    return refused(run)


@in_app_context
def assign_a_case_to_b(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            assert assign(uow, w.actor(w.lead_b), [w.case_a], w.worker_b) == 0

    return refused(run)


@in_app_context
def assign_b_case_to_a_worker(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            assign(uow, w.actor(w.lead_b), [w.case_b], w.worker_a)

    return refused(run)


@in_app_context
def plan_for_a_worker(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            plan_routes(uow, w.actor(w.lead_b), TOMORROW, [w.worker_a], time_limit=1)

    return refused(run)


@in_app_context
def publish_a_day_with_a_draft(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            publish_day(uow, w.actor(w.lead_b), TOMORROW)

    return refused(run)


@in_app_context
def sync_a_visit_on_a_case(w: World) -> str:
    record = {
        "uuid": str(uuid.uuid4()), "type": "visit", "case_id": w.case_a,
        "data": {"channel": "door", "result": "met", "notes": "B was here"},
    }  # fmt: skip
    (result,) = apply_outbox(db.session, w.actor(w.worker_b), [record])
    return "refused" if result.status == "rejected" else result.status


@in_app_context
def add_a_payment_plan(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            new = NewPlan("3.000", "1.000", TOMORROW.isoformat(), "3")
            add_plan(uow, w.actor(w.lead_b), w.case_a, new)

    return refused(run)


@in_app_context
def add_a_payment_plan_as_worker(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            new = NewPlan("3.000", "1.000", TOMORROW.isoformat(), "3")
            add_plan(uow, w.actor(w.worker_b), w.case_a, new)

    return refused(run)


@in_app_context
def end_a_payment_plan(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            end_plan(uow, w.actor(w.lead_b), w.case_a, w.plan_a)

    return refused(run)


@in_app_context
def end_a_payment_plan_through_bs_case(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            end_plan(uow, w.actor(w.lead_b), w.case_b, w.plan_a)

    return refused(run)


@in_app_context
def add_a_rent_deduction(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            new = NewDeduction("section_81a", "2.500", TOMORROW.isoformat())
            add_deduction(uow, w.actor(w.lead_b), w.case_a, new)

    return refused(run)


@in_app_context
def confirm_a_rent_deduction(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            confirm_deduction(
                uow, w.actor(w.lead_b), w.case_a, w.deduction_a, "landlord",
                date.today().isoformat(),
            )  # fmt: skip

    return refused(run)


@in_app_context
def refuse_a_rent_deduction(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            close_deduction(uow, w.actor(w.worker_b), w.case_a, w.deduction_a, "refused")

    return refused(run)


@in_app_context
def sync_a_payment_plan_on_a_case(w: World) -> str:
    record = {
        "uuid": str(uuid.uuid4()), "type": "payment_plan", "case_id": w.case_a,
        "data": {"arrears_at_start": "3.000", "instalment_amount": "1.000",
                 "first_due_on": TOMORROW.isoformat(), "instalment_count": 3},
    }  # fmt: skip
    (result,) = apply_outbox(db.session, w.actor(w.worker_b), [record])
    return "refused" if result.status == "rejected" else result.status


@in_app_context
def sync_a_rent_deduction_on_a_case(w: World) -> str:
    record = {
        "uuid": str(uuid.uuid4()), "type": "benefit_deduction", "case_id": w.case_a,
        "data": {"benefit": "section_81a", "amount": "2.500", "starts_on": TOMORROW.isoformat()},
    }  # fmt: skip
    (result,) = apply_outbox(db.session, w.actor(w.lead_b), [record])
    return "refused" if result.status == "rejected" else result.status


@in_app_context
def sync_an_edit_of_a_household(w: World) -> str:
    record = {
        "uuid": str(uuid.uuid4()), "type": "case_edit", "case_id": w.case_a,
        "data": {"base_version": 1, "changes": {"phone": "+4511111111"}},
    }  # fmt: skip
    (result,) = apply_outbox(db.session, w.actor(w.lead_b), [record])
    return "refused" if result.status == "rejected" else result.status


@in_app_context
def move_a_visit(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            move_visit(uow, w.actor(w.lead_b), w.stop_a, w.worker_b)

    return refused(run)


@in_app_context
def drop_a_visit(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            drop_visit(uow, w.actor(w.lead_b), w.stop_a)

    return refused(run)


@in_app_context
def lock_a_visit(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            book_visit(uow, w.actor(w.lead_b), w.stop_a, locked=True, window_from="13:00",
                       window_to="14:00")  # fmt: skip

    return refused(run)


@in_app_context
def resolve_a_conflict(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            resolve_conflict_of_team(uow, w.actor(w.lead_b), w.conflict_a, True)

    return refused(run)


@in_app_context
def place_a_pin(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            place_pin(uow, w.actor(w.lead_b), w.case_a, 56.0, 12.0)

    return refused(run)


@in_app_context
def decide_on_a_meeting(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            decide(uow, w.actor(w.lead_b), w.meeting_a, w.item_a, Decision("X", None, "", None))

    return refused(run)


@in_app_context
def add_a_case_to_bs_meeting(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            mine = plan_meeting(uow, w.actor(w.lead_b), TOMORROW, "B", [], 0)
            add_case_to_agenda(uow, w.actor(w.lead_b), mine.id, w.case_a)

    return refused(run)


@in_app_context
def add_bs_case_to_a_meeting(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            add_case_to_agenda(uow, w.actor(w.lead_b), w.meeting_a, w.case_b)

    return refused(run)


@in_app_context
def remove_from_a_meeting(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            remove_from_meeting(uow, w.actor(w.lead_b), w.meeting_a, w.item_a)

    return refused(run)


@in_app_context
def search_for_a_case_to_add(w: World) -> str:
    with UnitOfWork(db.session) as uow:
        mine = plan_meeting(uow, w.actor(w.lead_b), TOMORROW, "B", [], 0)
    with UnitOfWork(db.session) as uow:
        found = cases_to_add(uow, w.actor(w.lead_b), mine.id, w.address_a[0])
    return "no effect" if not found else "leak"


@in_app_context
def read_import_history(w: World) -> str:
    batches = list_imports(w.actor(w.lead_b), db.session, limit=1000)
    return "no effect" if all(b.team_id == w.team_b for b in batches) and batches else "leak"


WEB: list[tuple[str, str, str, dict | None]] = [
    # (name, method, path template, form): B's lead on the web, A's objects in the URL
    ("open a meeting", "get", "/meetings/{meeting_a}", None),
    ("print a meeting", "get", "/meetings/{meeting_a}/print", None),
    ("minutes of a meeting", "get", "/meetings/{meeting_a}/minutes.pdf", None),
    ("add to a meeting", "post", "/meetings/{meeting_a}/agenda", {"case_id": "{case_b}"}),
    ("remove from a meeting", "post", "/meetings/{meeting_a}/items/{item_a}/remove", {}),
    ("search for a meeting", "post", "/meetings/{meeting_a}/search", {"q": "a"}),
    ("confirm a staged list", "post", "/imports/{staged_a}/confirm", {}),
    ("preview a staged list", "post", "/imports/{staged_a}/preview", {}),
    ("result of an import", "get", "/imports/batches/{batch_a}", None),
    ("open a case", "get", "/cases/{case_a}", None),
    ("open a partner's case page", "get", "/partner/cases/{case_a}", None),
    ("record of a household", "get", "/households/{household_a}/record.json", None),
    ("move a visit", "post", "/routes/stops/{stop_a}/move", {"worker": "{worker_b}"}),
    ("lock a visit", "post", "/routes/stops/{stop_a}/book", {"locked": "1"}),
    ("drop a visit", "post", "/routes/stops/{stop_a}/drop", {}),
    ("pin a left-out case", "post", "/routes/cases/{case_a}/pin", {"lat": "56", "lon": "12"}),
    ("forget a left-out booking", "post", "/routes/left-out/{left_out_a}/forget", {}),
    (
        "add a payment plan",
        "post",
        "/cases/{case_a}/plans",
        {
            "arrears_at_start": "3.000",
            "instalment_amount": "1.000",
            "first_due_on": "2030-01-01",
            "instalment_count": "3",
        },
    ),
    ("end a payment plan", "post", "/cases/{case_a}/plans/{plan_a}/end", {}),
    (
        "add a rent deduction",
        "post",
        "/cases/{case_a}/deductions",
        {"benefit": "section_81a", "amount": "2.500", "starts_on": "2030-01-01"},
    ),
    (
        "confirm a rent deduction",
        "post",
        "/cases/{case_a}/deductions/{deduction_a}/confirm",
        {"confirmed_by": "landlord", "confirmed_on": "2026-01-01"},
    ),
    (
        "end a rent deduction",
        "post",
        "/cases/{case_a}/deductions/{deduction_a}/close",
        {"state": "ended"},
    ),
    ("ask a hold", "post", "/cases/{case_a}/holds", {"until": "{until}", "reason": "rehousing"}),
    ("withdraw a hold", "post", "/cases/{case_a}/holds/{hold_a}/withdraw", {}),
]


def partner_reads(who: str, case: str) -> Callable[[World], str]:
    """A partner person (who) opens a case of team A (case: "case_a" shared with the debt
    counselling service, "case_w" whose consent was withdrawn): refused, and not audited."""

    @in_app_context
    def run(w: World) -> str:
        user_id = getattr(w, who)
        outcome = refused(lambda: partner_case(UnitOfWork(db.session), w.actor(user_id),
                                               getattr(w, case)))  # fmt: skip
        reads = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.user_id == user_id, AuditEvent.object_type == "case")
        )
        return outcome if reads == 0 else "read audited as done"

    run.__name__ = f"{who}_reads_{case}"
    return run


def partner_updates(who: str, case: str, action: str) -> Callable[[World], str]:
    """A partner person sets an action of team A's case done."""

    @in_app_context
    def run(w: World) -> str:
        def call():
            with UnitOfWork(db.session) as uow:
                update_partner_action(uow, w.actor(getattr(w, who)), getattr(w, case),
                                      getattr(w, action), ActionChange("done", "x"))  # fmt: skip

        return refused(call)

    run.__name__ = f"{who}_updates_{action}"
    return run


@in_app_context
def sync_a_partners_action_status(w: World) -> str:
    record = {
        "uuid": str(uuid.uuid4()), "type": "action_status", "case_id": w.case_a,
        "data": {"action_id": w.action_a, "status": "done"},
    }  # fmt: skip
    (result,) = apply_outbox(db.session, w.actor(w.worker_b), [record])
    return "refused" if result.status == "rejected" else result.status


def partner_opens_a_meeting(who: str) -> Callable[[World], str]:
    @in_app_context
    def run(w: World) -> str:
        return refused(
            lambda: partner_meeting(UnitOfWork(db.session), w.actor(getattr(w, who)), w.meeting_a)
        )

    run.__name__ = f"{who}_opens_meeting_a"
    return run


def web(name: str, method: str, path: str, form: dict | None) -> Callable[[World], str]:
    def run(w: World) -> str:
        client = w.app.test_client()
        auth = AuthActions(client)
        auth.login("lead.nord@example.org", "demo")
        names = dict(
            meeting_a=w.meeting_a, staged_a=w.staged_a, case_a=w.case_a,
            household_a=w.household_a, batch_a=w.batch_a, stop_a=w.stop_a, worker_b=w.worker_b,
            left_out_a=w.left_out_a, item_a=w.item_a, case_b=w.case_b,
            plan_a=w.plan_a, deduction_a=w.deduction_a, hold_a=w.hold_a,
            until=(TOMORROW + timedelta(days=9)).isoformat(),
        )  # fmt: skip
        url = path.format(**names)
        if method == "get":
            response = client.get(url)
        else:
            fields = {key: value.format(**names) for key, value in (form or {}).items()}
            response = auth.post(url, fields, page="/dashboard")
        return "refused" if response.status_code in (403, 404) else f"HTTP {response.status_code}"

    run.__name__ = name.replace(" ", "_")
    return run


def remove_a_subscription(w: World) -> str:
    client = w.app.test_client()
    AuthActions(client).login("worker.nord@example.org", "demo")
    with w.app.app_context():
        sub_id = db.session.scalar(
            select(PushSubscription.id).where(PushSubscription.user_id == w.worker_a)
        )
    removed = AuthActions(client).post(
        f"/settings/reminders/devices/{sub_id}/remove", {}, page="/settings/reminders"
    )
    deleted = client.delete(
        "/push/subscriptions",
        json={"endpoint": "https://fcm.googleapis.com/fcm/send/a"},
        headers={"X-Doorstep-Push": "1"},
    )
    return "refused" if removed.status_code == 404 and deleted.status_code == 404 else "leak"


def _other_landlords(w: World) -> list[Actor]:
    """A person of another landlord in team A, and one of A's landlord working with team B."""
    return [w.actor(user_id) for user_id in w.other_landlords]


def _all_refused_or_none(outcomes: set[str]) -> str:
    return "no effect" if outcomes <= {"refused", "no effect"} else ", ".join(sorted(outcomes))


@in_app_context
def ask_a_hold_as_worker_of_b(w: World) -> str:
    def run():
        with UnitOfWork(db.session) as uow:
            ask_to_hold(uow, w.actor(w.worker_b), w.case_a, NewHold(TOMORROW, "payment_plan"))

    return refused(run)


@in_app_context
def answer_a_hold_as_another_landlord(w: World) -> str:
    outcomes = set()
    for actor in _other_landlords(w):

        def run(actor=actor):
            with UnitOfWork(db.session) as uow:
                answer(uow, actor, w.hold_a, True, "yes")

        outcomes.add(refused(run))
    return _all_refused_or_none(outcomes)


@in_app_context
def see_flags_as_another_landlord(w: World) -> str:
    for actor in _other_landlords(w):
        with UnitOfWork(db.session) as uow:
            rows = landlord_tenants(uow, actor)
        if any(row.case_id == w.case_a or row.reference == w.reference_a for row in rows):
            return "leak"
    return "no effect"


@in_app_context
def upload_a_list_as_another_landlord(w: World) -> str:
    row = [w.reference_a, "X", *w.address_a, "Helsingør", "0,00", date.today().strftime("%d-%m-%Y")]
    data = csv_bytes(
        ["Lejemålsnr.", "Navn", "Adresse", "Postnr.", "By", "Restance", "Opgjort pr."], [row]
    )
    landlord = db.session.scalar(select(Landlord).where(Landlord.name == w.landlord))
    outcomes = set()
    for actor in _other_landlords(w):

        def run(actor=actor):
            with UnitOfWork(db.session) as uow:
                import_arrears_list(
                    uow, actor, ArrearsUpload(data, "l.csv", landlord, complete_list=True)
                )

        outcomes.add(refused(run))
    return _all_refused_or_none(outcomes)


@in_app_context
def upload_legal_steps_as_another_landlord(w: World) -> str:
    data = csv_bytes(
        ["Udlejer", "Lejemålsnr.", "Hændelse", "Dato"],
        [
            [w.landlord, w.reference_a, "petition", date.today().strftime("%d-%m-%Y")],
            ["", w.reference_a, "petition", date.today().strftime("%d-%m-%Y")],
        ],
    )
    # A's landlord's person of team B imports into B's register (team_rows: A unchanged);
    # the other landlord's person of team A previews (a real import would be their batch).
    for actor in _other_landlords(w):
        with UnitOfWork(db.session, dry_run=actor.team_id == w.team_a) as uow:
            report = import_legal_steps_file(uow, actor, data, "f.csv")
        if actor.team_id == w.team_a and (report.new or report.rejected != 2):
            return f"{report.new} steps added, {report.rejected} rejected"
    return "no effect"


MATRIX: list[tuple[str, Callable[[World], str]]] = [
    ("tenancy: import an arrears list", import_arrears_naming_a_tenancy),
    ("tenancy: import legal steps", import_legal_steps_naming_a_tenancy),
    ("household: export the record", export_a_household),
    ("household: erase", erase_a_household),
    ("case: add a legal step (lead)", add_a_legal_step),
    ("case: add a legal step (worker)", add_a_legal_step_as_worker),
    ("case: change status", change_a_case),
    ("household: correct", correct_a_household),
    ("case: assign to own worker", assign_a_case_to_b),
    ("worker: give them own case", assign_b_case_to_a_worker),
    ("worker: plan a route for them", plan_for_a_worker),
    ("route: publish the day", publish_a_day_with_a_draft),
    ("case: sync a visit", sync_a_visit_on_a_case),
    ("household: sync an edit", sync_an_edit_of_a_household),
    ("case: add a payment plan (lead)", add_a_payment_plan),
    ("case: add a payment plan (worker)", add_a_payment_plan_as_worker),
    ("plan: end it", end_a_payment_plan),
    ("plan: end it through B's own case", end_a_payment_plan_through_bs_case),
    ("case: add a rent deduction", add_a_rent_deduction),
    ("deduction: confirm it", confirm_a_rent_deduction),
    ("deduction: refuse it (worker)", refuse_a_rent_deduction),
    ("case: sync a payment plan", sync_a_payment_plan_on_a_case),
    ("case: sync a rent deduction", sync_a_rent_deduction_on_a_case),
    ("landlord's list: read the import history", read_import_history),
    ("route: move a visit", move_a_visit),
    ("route: drop a visit", drop_a_visit),
    ("route: lock a visit or agree its time", lock_a_visit),
    ("case: resolve a conflicting edit", resolve_a_conflict),
    ("household: place the pin", place_a_pin),
    ("meeting: record a decision", decide_on_a_meeting),
    ("meeting: add its case to B's meeting", add_a_case_to_bs_meeting),
    ("meeting: add B's case to its meeting", add_bs_case_to_a_meeting),
    ("meeting: take an item off its meeting", remove_from_a_meeting),
    ("meeting: find its case to add", search_for_a_case_to_add),
    ("subscription: remove it", remove_a_subscription),
    ("case: a partner of another kind reads it", partner_reads("partner_jobs", "case_a")),
    ("case: the partner's person in team B reads it", partner_reads("partner_b", "case_a")),
    ("case: the partner reads it after the withdrawal", partner_reads("partner_a", "case_w")),
    (
        "action: a partner of another kind updates it",
        partner_updates("partner_jobs", "case_a", "action_a"),
    ),
    (
        "action: the partner's person in team B updates it",
        partner_updates("partner_b", "case_a", "action_a"),
    ),
    (
        "action: the partner updates it after the withdrawal",
        partner_updates("partner_a", "case_w", "action_w"),
    ),
    (
        "action: team B's worker syncs a status of the partner's action",
        sync_a_partners_action_status,
    ),
    ("meeting: the partner's person in team B opens it", partner_opens_a_meeting("partner_b")),
    ("hold: ask on its case (worker of B)", ask_a_hold_as_worker_of_b),
    ("hold: answer its request (another landlord)", answer_a_hold_as_another_landlord),
    ("hold: see its flags (another landlord)", see_flags_as_another_landlord),
    (
        "landlord: upload a list for its tenancy (another landlord)",
        upload_a_list_as_another_landlord,
    ),
    (
        "landlord: upload legal steps for its tenancy (another landlord)",
        upload_legal_steps_as_another_landlord,
    ),
    *[(f"web: {name}", web(name, method, path, form)) for name, method, path, form in WEB],
]


@pytest.mark.parametrize(("row", "action"), MATRIX, ids=[name for name, _ in MATRIX])
def test_team_b_reaches_nothing_of_team_a(app, row, action):
    world = World(app)
    with app.app_context():
        before = team_rows(world.team_a)
    outcome = action(world)
    with app.app_context():
        after = team_rows(world.team_a)
    assert outcome in ("refused", "no effect"), f"{row}: {outcome}"
    assert after == before, row
    with app.app_context():
        # Nothing B did left an audit line naming one of A's cases as B's own change.
        leaked = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.user_id.in_([world.lead_b, world.worker_b]),
                AuditEvent.object_type == "case",
                AuditEvent.object_id == str(world.case_a),
                AuditEvent.action.in_(("update", "assign", "create")),
            )
        )
    assert leaked == 0


def test_the_partner_rows_stand_on_a_case_the_partner_does_reach(app):
    """The control for the partner rows: the debt counselling service's person in team A
    reads the shared case and updates its action (so the refusals above are not vacuous)."""
    world = World(app)
    with app.app_context():
        with UnitOfWork(db.session) as uow:
            shared = partner_case(uow, world.actor(world.partner_a), world.case_a)
            assert [a.id for a in shared.actions] == [world.action_a]
        with UnitOfWork(db.session) as uow:
            change = ActionChange("done", "x")
            update_partner_action(uow, world.actor(world.partner_a), world.case_a,
                                  world.action_a, change)  # fmt: skip
        assert db.session.get(Action, world.action_a).status == "done"
