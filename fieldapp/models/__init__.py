"""All models, imported here so Alembic and the app see the whole schema."""

from .arrears import ArrearsRecord, ImportBatch, StagedUpload
from .audit import AuditEvent
from .case import (
    CASE_CAUSES,
    CASE_OUTCOMES,
    CASE_STATUSES,
    LEGAL_STEP_KINDS,
    OPEN_STATUSES,
    Case,
    CaseEvent,
    LegalStep,
)
from .field import (
    ACTION_OWNERS,
    ACTION_STATUSES,
    CONSENT_METHODS,
    CONSENT_SCOPES,
    CONSENT_STATES,
    NEEDS,
    VISIT_CHANNELS,
    VISIT_RESULTS,
    Action,
    ActionUpdate,
    CaseConflict,
    CaseEdit,
    Consent,
    ConsentText,
    Need,
    Visit,
)
from .household import Household, Tenancy
from .meeting import Meeting, MeetingItem
from .organisation import Organisation, Team
from .parties import LANDLORD_KINDS, PARTNER_KINDS, Landlord, Partner
from .routing import ROUTE_STATES, TRAVEL_MODES, GeocodeResult, Route, RouteStop
from .user import ROLES, LoginFailure, User, UserSession

__all__ = [
    "ACTION_OWNERS",
    "ACTION_STATUSES",
    "Action",
    "ActionUpdate",
    "CONSENT_METHODS",
    "CONSENT_SCOPES",
    "CONSENT_STATES",
    "CaseConflict",
    "CaseEdit",
    "Consent",
    "ConsentText",
    "NEEDS",
    "Need",
    "VISIT_CHANNELS",
    "VISIT_RESULTS",
    "Visit",
    "ArrearsRecord",
    "AuditEvent",
    "CASE_CAUSES",
    "CASE_OUTCOMES",
    "CASE_STATUSES",
    "Case",
    "CaseEvent",
    "Household",
    "ImportBatch",
    "LANDLORD_KINDS",
    "LEGAL_STEP_KINDS",
    "Landlord",
    "LoginFailure",
    "Meeting",
    "MeetingItem",
    "OPEN_STATUSES",
    "Organisation",
    "PARTNER_KINDS",
    "Partner",
    "ROLES",
    "ROUTE_STATES",
    "GeocodeResult",
    "Route",
    "RouteStop",
    "TRAVEL_MODES",
    "Team",
    "StagedUpload",
    "Tenancy",
    "LegalStep",
    "User",
    "UserSession",
]
