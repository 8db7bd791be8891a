"""What a household's details may hold: one rule table for every way they change (the lead's
correction form, the worker's offline edit from the phone, the landlord's list filling what
is missing). A value the table refuses is never stored, whichever door it came through."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numbers import whole_number
from .wording import N_, Wording

# A phone number after normalise_phone: an optional + and 3 to 20 digits. Anything else (text,
# "javascript:…", two numbers) is refused, so a tel: link is only ever built from digits.
_PHONE = re.compile(r"\+?[0-9]{3,20}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


# The household's fields as a message names them (the same words as the case page's).
HOUSEHOLD_FIELD_WORDS = {
    "name": N_("Name"),
    "address": N_("Address"),
    "postcode": N_("Postcode"),
    "town": N_("Town"),
    "phone": N_("Phone"),
    "language": N_("Language"),
    "adults": N_("Adults"),
    "children": N_("Children"),
    "needs_interpreter": N_("Needs an interpreter"),
}


class HouseholdValueError(ValueError):
    """A value the rules refuse; names the field and the value. The message is a Wording
    (`%(field)s` in it: the field's name), put in the reader's language where it is shown."""

    def __init__(self, field: str, message: str, **values) -> None:
        word = Wording(HOUSEHOLD_FIELD_WORDS.get(field, field))
        super().__init__(Wording(message, field=word, **values))
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
        raise HouseholdValueError(name, N_("%(value)s is not a household detail"), value=repr(name))
    if rule.kind == "flag":
        return value in (True, "1", "on", "true")
    if rule.kind == "count":
        number = whole_number(value, rule.low, rule.limit)
        if number is None:
            raise HouseholdValueError(
                name, N_("%(field)s: %(value)s is not a whole number from %(low)s to %(high)s"),
                value=repr(str(value)[:20]), low=rule.low, high=rule.limit,
            )  # fmt: skip
        return number
    if not isinstance(value, str):
        raise HouseholdValueError(name, N_("%(field)s must be text"))
    text = " ".join(value.replace("\x00", "").split())
    if rule.kind == "language":
        text = text.lower()
        if text and not _LANGUAGE.fullmatch(text):
            problem = N_("%(field)s: %(value)s is not a language code such as da, nb, ar")
            raise HouseholdValueError(name, problem, value=repr(text[:20]))
        return text
    if rule.kind == "phone":
        text = normalise_phone(text)
        if text and not _PHONE.fullmatch(text):
            problem = N_("%(field)s: %(value)s is not a phone number (digits, a leading +)")
            raise HouseholdValueError(name, problem, value=repr(text[:20]))
        return text
    if rule.required and not text:
        raise HouseholdValueError(name, N_("%(field)s: must not be empty"))
    if len(text) > rule.limit:
        problem = N_("%(field)s: at most %(limit)s characters (%(given)s given)")
        raise HouseholdValueError(name, problem, limit=rule.limit, given=len(text))
    return text


def safe_phone(text: str) -> str:
    """The phone as a tel: link may use it: digits and a leading +, else empty."""
    return text if text and _PHONE.fullmatch(text) else ""
