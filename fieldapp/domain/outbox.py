"""The outbox contract: the one description of what a phone keeps and sends.

Everything the phone and the server must agree on is written here once: the record types and
their fields, the enumerations, the limits, the header names, the cache and database names and
the pages a phone may keep. The browser gets it as a script the server writes from this module
(/outbox-contract.js for the pages, the top of /service-worker.js for the worker), the server's
sync code imports its limits from it, and the tests hold the case card's forms, the sync
handlers and openapi.json against it (tests/integration/test_outbox_contract.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..models import (
    ACTION_OWNERS,
    ACTION_STATUSES,
    CONSENT_METHODS,
    CONSENT_SCOPES,
    CONSENT_STATES,
    NEEDS,
    VISIT_CHANNELS,
    VISIT_RESULTS,
)
from ..models.agreements import DEDUCTION_BENEFITS, DEDUCTION_CONFIRMERS

# One request carries at most this many records; the phone sends smaller batches (below) so
# that a request gets through on a slow line before its timeout.
MAX_RECORDS_PER_REQUEST = 50
BATCH_RECORDS = 25
BATCH_CHARS = 200_000
REQUEST_TIMEOUT_MS = 15_000
# A drawn signature is a PNG of 5 to 40 kB as a data URL; this refuses a photo.
MAX_SIGNATURE_CHARS = 150_000
MAX_TEXT = 5_000
LANGUAGES = ("da", "nb", "en")
CASE_EDIT_FIELDS = ("phone", "language", "adults", "children")

STATUSES = ("applied", "duplicate", "conflict", "rejected")
# The server has answered for these for good: the phone lets go of them.
SETTLED = ("applied", "duplicate", "conflict")

HEADERS = {
    # Sent with every outbox request (a form post elsewhere cannot set it: CSRF).
    "sync": "X-Doorstep-Sync",
    "push": "X-Doorstep-Push",
    # The server's word on how long a page may be kept on the phone (ISO 8601).
    "keep_until": "X-Doorstep-Keep-Until",
    # On the login page and on a 401: nobody is logged in in this browser, so the phone
    # deletes what it kept of the last session.
    "logged_out": "X-Doorstep-Logged-Out",
    # On the page's logout request (a fetch): answer where to go next, not a redirect.
    "logout": "X-Doorstep-Logout",
}

STORAGE = {
    "database": "doorstep",
    "outbox_store": "outbox",
    # Who is logged in on this phone (the user id only), for the service worker's own sends.
    "session_cache": "doorstep-session",
    "pages_cache": "doorstep-pages",
    "shell_cache_prefix": "doorstep-shell-",
    "offline_url": "/offline",
}

# The only pages a phone ever keeps for offline use: Today and case cards, each only while
# the server's keep-until time allows (JavaScript regular expressions over the path).
FIELD_PAGES = (r"^/today$", r"^/field/cases/\d+$")


@dataclass(frozen=True)
class Field:
    """One field of a record's `data`."""

    # text, choice, choices, date, id, integer, signature, changes; amount: money as the
    # worker typed it ("1.500,50"), read by the register (services.agreements.money)
    kind: str
    required: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordType:
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, f in self.fields.items() if f.required)


RECORD_TYPES: dict[str, RecordType] = {
    "visit": RecordType(
        {
            "channel": Field("choice", True, choices=VISIT_CHANNELS),
            "result": Field("choice", True, choices=VISIT_RESULTS),
            "notes": Field("text", max_length=MAX_TEXT),
            "next_step": Field("text", max_length=1000),
            "follow_up_on": Field("date"),
        }
    ),
    "consent": RecordType(
        {
            "state": Field("choice", True, choices=CONSENT_STATES),
            "method": Field("choice", True, choices=CONSENT_METHODS),
            "language": Field("choice", True, choices=LANGUAGES),
            "text_id": Field("id", True),
            "scopes": Field("choices", choices=CONSENT_SCOPES),
            "signature": Field("signature", max_length=MAX_SIGNATURE_CHARS),
            "witness": Field("text", max_length=200),
        }
    ),
    "need": RecordType(
        {
            "need": Field("choice", True, choices=NEEDS),
            "note": Field("text", max_length=1000),
        }
    ),
    "action": RecordType(
        {
            "description": Field("text", True, max_length=1000),
            "owner": Field("choice", True, choices=ACTION_OWNERS),
            "need": Field("choice", choices=NEEDS),
            "partner_id": Field("id"),
            "due_on": Field("date"),
            "status": Field("choice", choices=ACTION_STATUSES),
        }
    ),
    "case_edit": RecordType(
        {
            "base_version": Field("id", True),
            "changes": Field("changes", True, choices=CASE_EDIT_FIELDS),
        }
    ),
    "action_status": RecordType(
        {
            "action_id": Field("id", True),
            "status": Field("choice", True, choices=ACTION_STATUSES),
        }
    ),
    # A payment plan agreed at the door: the arrears it pays off and "this much a month from
    # this date, n times" (the register makes the instalments: services.agreements).
    "payment_plan": RecordType(
        {
            "arrears_at_start": Field("amount", True),
            "instalment_amount": Field("amount", True),
            "first_due_on": Field("date", True),
            "instalment_count": Field("integer", True),
            "note": Field("text", max_length=1000),
        }
    ),
    # Rent paid from a benefit: applied for (pending_until: the answer is due), or confirmed.
    "benefit_deduction": RecordType(
        {
            "benefit": Field("choice", True, choices=DEDUCTION_BENEFITS),
            "amount": Field("amount", True),
            "starts_on": Field("date", True),
            "state": Field("choice", choices=("applied", "confirmed")),
            "pending_until": Field("date"),
            "confirmed_by": Field("choice", choices=DEDUCTION_CONFIRMERS),
            "note": Field("text", max_length=1000),
        }
    ),
}

# Fields a form sends as text that the record carries as a number.
NUMBER_FIELDS = tuple(
    sorted(
        {
            name
            for t in RECORD_TYPES.values()
            for name, f in t.fields.items()
            if f.kind in ("id", "integer")
        }
        | {"adults", "children"}
    )
)


def as_dict() -> dict:
    """The contract as plain data, the browser's copy."""
    return {
        "limits": {
            "max_records_per_request": MAX_RECORDS_PER_REQUEST,
            "batch_records": BATCH_RECORDS,
            "batch_chars": BATCH_CHARS,
            "request_timeout_ms": REQUEST_TIMEOUT_MS,
            "max_signature_chars": MAX_SIGNATURE_CHARS,
            "max_text": MAX_TEXT,
        },
        "statuses": list(STATUSES),
        "settled": list(SETTLED),
        "headers": dict(HEADERS),
        "storage": dict(STORAGE),
        "field_pages": list(FIELD_PAGES),
        "number_fields": list(NUMBER_FIELDS),
        "record_types": {
            name: {
                "required": list(t.required),
                "fields": {
                    fname: {
                        "kind": f.kind,
                        **({"max_length": f.max_length} if f.max_length else {}),
                        **({"choices": list(f.choices)} if f.choices else {}),
                    }
                    for fname, f in t.fields.items()
                },
            }
            for name, t in RECORD_TYPES.items()
        },
    }


def as_json() -> str:
    return json.dumps(as_dict(), sort_keys=True, separators=(",", ":"))


def as_module() -> str:
    """The contract as an ES module for the pages (/outbox-contract.js)."""
    return f"export const CONTRACT = Object.freeze({as_json()});\n"


def as_script() -> str:
    """The contract as a classic script's constant, for the top of the service worker."""
    return f"const CONTRACT = Object.freeze({as_json()});\n"
