"""Whole numbers typed by people or sent by phones: the one parser the forms, the filters and
the sync share. "²".isdigit() is true and int("²") fails; "1e9" and a 5,000-digit string are
not counts; JSON's true is not 1."""

from __future__ import annotations


def whole_number(value: object, low: int, high: int) -> int | None:
    """The value as an int from low to high, or None: a plain int (not a bool), or text of
    ASCII digits (surrounding spaces allowed) no longer than the high bound needs."""
    if type(value) is int:
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
            return None
        number = int(text)
    else:
        return None
    return number if low <= number <= high else None
