"""Records of processing activities (GDPR Art. 30), generated from the live deployment.

Every table of the schema belongs to one processing activity below; a test fails when a table
has none, so the record cannot drift from the schema. Retention periods, recipients (partners
and outside services) and the number of records are read from the database and the
configuration at the moment the record is produced, not written down by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.organisation import organisation_of
from ..domain.sharing import parse_legal_bases
from ..extensions import db
from ..models import Household, Partner


@dataclass(frozen=True)
class Activity:
    key: str
    purpose: str
    data_subjects: str
    categories: str
    special_categories: str
    who_sees: str
    tables: tuple[str, ...]
    retention: str  # a template: {retention_months}, {consent_months}, {idle_minutes}


ACTIVITIES = (
    Activity(
        "register",
        "Find tenants at risk of eviction and follow each case to an outcome",
        "tenants and their households",
        "name, address, phone, household size and children, tenancy, rent and arrears, "
        "petitions, hearing and eviction dates, case status and outcome",
        "none recorded as such; free-text notes may reveal health or social circumstances",
        "the team's lead; the assigned worker; an administrator only by break-the-glass",
        (
            "household",
            "tenancy",
            "arrears_record",
            "case_file",
            "legal_step",
            "case_event",
            "landlord",
            "import_batch",
            "staged_upload",
            "geocode_result",
        ),
        "anonymised {retention_months} months after the case closes (fieldapp purge); "
        "staged uploads until confirmed or replaced",
    ),
    Activity(
        "fieldwork",
        "Meet tenants, map their needs, agree and follow actions with them",
        "tenants and their households",
        "visits and calls with notes, needs, agreed actions, offline edits and conflicts",
        "needs and notes may concern health, addiction or debt (Art. 9)",
        "the assigned worker and the team's lead",
        ("visit", "need", "action", "action_update", "case_edit", "case_conflict"),
        "free text removed {retention_months} months after the case closes",
    ),
    Activity(
        "agreements",
        "Agree payment plans, rent deductions from benefits and holds of a petition, and "
        "check plans against the landlord's next list",
        "tenants",
        "instalments and amounts, the benefit a deduction comes from, its state and who "
        "confirmed it, requests to the landlord to hold a petition and the answers",
        "the benefit a deduction comes from may reveal illness or disability (Art. 9)",
        "the assigned worker and the team's lead; the landlord sees status flags only, "
        "and only where the tenant's consent covers the landlord",
        ("payment_plan", "benefit_deduction", "hold_request"),
        "free text removed {retention_months} months after the case closes",
    ),
    Activity(
        "consent",
        "Document the tenant's consent to share with named partners",
        "tenants",
        "consent state, scopes (partners), method, witness, signature image, text version",
        "none",
        "the assigned worker and the team's lead",
        ("consent", "consent_text"),
        "kept whole {consent_months} months after the case closes; then signature and "
        "witness are removed; texts are kept",
    ),
    Activity(
        "coordination",
        "Agree actions with partners at the fortnightly interdisciplinary meeting",
        "tenants",
        "case reference, reasons on the agenda, decisions, responsible persons",
        "decisions may concern health or social circumstances",
        "the team's lead; partners see their own items only, with consent",
        ("meeting", "meeting_item", "partner"),
        "decisions removed {retention_months} months after the case closes",
    ),
    Activity(
        "routes",
        "Plan door-to-door visits",
        "tenants (as addresses on a route) and workers",
        "stops, times, positions",
        "none",
        "the team's lead and the route's worker",
        ("route", "route_stop", "route_left_out"),
        "kept with the cases; a case's stops and left-out rows (positions, agreed-time "
        "notes) removed when the case is anonymised",
    ),
    Activity(
        "reminders",
        "Remind workers and leads before court and bailiff dates",
        "workers and leads",
        "push subscriptions (device endpoint and keys), reminders, delivery attempts",
        "none; messages carry no tenant data",
        "the person whose device it is; the system",
        ("push_subscription", "reminder", "push_delivery", "push_attempt"),
        "subscriptions until removed, refused by the push service or the user is disabled",
    ),
    Activity(
        "accounts",
        "Let staff log in, and secure the register",
        "staff (workers, leads, administrators, the data protection officer)",
        "name, e-mail, role, team, languages, working hours, sessions, failed logins, "
        "invitations (a hash of the code; when and from where it was accepted), the identity "
        "provider's subject for the person and, for a SAML login, its NameID and session "
        "index; the IDs of SAML messages already used",
        "none",
        "administrators",
        (
            "user_account",
            "user_session",
            "login_failure",
            "invitation",
            "team",
            "organisation",
            "saml_message_used",
        ),
        "sessions end after {idle_minutes} minutes idle; accounts until disabled; used SAML "
        "message IDs about 15 minutes",
    ),
    Activity(
        "audit",
        "Account for every read and change of personal data (Art. 5(2), 32)",
        "staff, and tenants as the objects read",
        "who, when, from which address, what (ids, never values), break-the-glass reasons",
        "none",
        "the data protection officer; team leads for their team's part",
        ("audit_event",),
        "kept; the database refuses changes and deletion",
    ),
)


def records_of_processing(session: Session, config: dict, now: datetime) -> dict[str, Any]:
    """The record, with live retention periods, recipients and record counts."""
    organisation = organisation_of(session)
    retention = {
        "retention_months": organisation.retention_months if organisation else 24,
        "consent_months": config["CONSENT_RETENTION_MONTHS"],
        "idle_minutes": config["SESSION_IDLE_MINUTES"],
    }
    tables = {table.name: table for table in db.metadata.sorted_tables}
    activities = []
    for activity in ACTIVITIES:
        counts = {
            name: session.scalar(select(func.count()).select_from(tables[name])) or 0
            for name in activity.tables
        }
        activities.append(
            {
                "activity": activity.key,
                "purpose": activity.purpose,
                "data_subjects": activity.data_subjects,
                "categories_of_data": activity.categories,
                "special_categories": activity.special_categories,
                "who_can_see": activity.who_sees,
                "retention": activity.retention.format(**retention),
                "tables": counts,
            }
        )
    partners = session.execute(select(Partner.name, Partner.kind).order_by(Partner.name)).all()
    outside = []
    if config.get("GEOCODER"):
        outside.append(
            f"geocoder {config['GEOCODER']} at {config.get('GEOCODER_URL') or 'its public'} "
            "server: addresses"
        )
    if config.get("ROUTING_URL"):
        outside.append(f"routing server {config['ROUTING_URL']}: positions")
    outside.append(
        f"push services {config['PUSH_SERVICES']}: encrypted reminders without tenant data"
    )
    return {
        "produced_at": now.isoformat(),
        "controller": organisation.name if organisation else "",
        "households_held": session.scalar(select(func.count(Household.id))) or 0,
        "activities": activities,
        "recipients": [f"{name} ({kind}), with the tenant's consent" for name, kind in partners],
        "legal_bases_for_sharing_without_consent": parse_legal_bases(
            organisation.sharing_legal_bases if organisation else ""
        ),
        "processors_and_transfers": outside,
        "security_measures": "see docs/security.md and docs/threat-model.md",
    }
