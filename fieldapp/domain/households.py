"""What a household's details may hold: one rule table for every way they change (the lead's
correction form, the worker's offline edit from the phone, the landlord's list filling what
is missing). A value the table refuses is never stored, whichever door it came through."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numbers import whole_number

# A phone number after normalise_phone: an optional + and 3 to 20 digits. Anything else (text,
# "javascript:…", two numbers) is refused, so a tel: link is only ever built from digits.
_PHONE = re.compile(r"\+?[0-9]{3,20}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


class HouseholdValueError(ValueError):
    """A value the rules refuse; names the field and the value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Rule:
    kind: str  # text, phone, language, count, flag
    limit: int = 0
    low: int = 0
    required: bool = False


RULES: dict[str, Rule] = {
    "name": Rule("text", 200, required=True),
    "address": Rule("text", 200, required=True),
    "postcode": Rule("text", 10),
    "town": Rule("text", 100),
    "phone": Rule("phone", 40),
    "language": Rule("language"),
    "adults": Rule("count", 20, low=1),
    "children": Rule("count", 30, low=0),
    "needs_interpreter": Rule("flag"),
}
# What a worker may change from the phone (the rest is the lead's correction).
PHONE_EDITABLE = ("phone", "language", "adults", "children")


def clean_value(name: str, value: object) -> object:
    """The stored form of one household field, or HouseholdValueError naming it."""
    from ..services.tabular import normalise_phone

    rule = RULES.get(name)
    if rule is None:
        raise HouseholdValueError(name, f"{name!r} is not a household detail")
    if rule.kind == "flag":
        return value in (True, "1", "on", "true")
    if rule.kind == "count":
        number = whole_number(value, rule.low, rule.limit)
        if number is None:
            raise HouseholdValueError(
                name, f"{name}: {str(value)[:20]!r} is not a whole number from {rule.low} to "
                f"{rule.limit}"
            )  # fmt: skip
        return number
    if not isinstance(value, str):
        raise HouseholdValueError(name, f"{name} must be text")
    text = " ".join(value.replace("\x00", "").split())
    if rule.kind == "language":
        text = text.lower()
        if text and not _LANGUAGE.fullmatch(text):
            raise HouseholdValueError(
                name, f"language: {text[:20]!r} is not a language code such as da, nb, ar"
            )
        return text
    if rule.kind == "phone":
        text = normalise_phone(text)
        if text and not _PHONE.fullmatch(text):
            raise HouseholdValueError(
                name, f"phone: {text[:20]!r} is not a phone number (digits, a leading +)"
            )
        return text
    if rule.required and not text:
        raise HouseholdValueError(name, f"{name}: must not be empty")
    if len(text) > rule.limit:
        raise HouseholdValueError(
            name, f"{name}: at most {rule.limit} characters ({len(text)} given)"
        )
    return text


def safe_phone(text: str) -> str:
    """The phone as a tel: link may use it: digits and a leading +, else empty."""
    return text if text and _PHONE.fullmatch(text) else ""
