"""A message for a person that a service gives (a case change refused, an import row left out,
a phone's record rejected), kept as its English text and values until it is shown.

On a page it is worded in the reader's language from the Flask-Babel catalogue, the way the
reminder settings word an OffsetsError; without a request (the command line, logs, stored
import reports) it is English. No Flask here: the web layer hands in its translator
(`use_translator`, from web.labels), and only `str()` of a Wording, when it is shown, asks
it for the page's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (msgid, values) -> the words in the reader's language, or None outside a page.
_translate: Callable[[str, dict], str | None] = lambda msgid, values: None  # noqa: E731


def use_translator(translate: Callable[[str, dict], str | None]) -> None:
    """How Wordings are put in the reader's language (set once, by the web layer)."""
    global _translate
    _translate = translate


def N_(msgid: str) -> str:
    """Mark an English message for the catalogue (pybabel extracts N_ by default); worded
    later, by a Wording."""
    return msgid


class Wording:
    """An English message with %(name)s values; a value may itself be a Wording (a field's
    name), worded in the same language."""

    __slots__ = ("msgid", "values")

    def __init__(self, msgid: str, **values: Any) -> None:
        self.msgid, self.values = msgid, values

    def english(self) -> str:
        """The message in English, as the command line and the stored reports keep it."""
        values = {k: v.english() if isinstance(v, Wording) else v for k, v in self.values.items()}
        return self.msgid % values if values else self.msgid

    def __str__(self) -> str:
        values = {k: str(v) if isinstance(v, Wording) else v for k, v in self.values.items()}
        worded = _translate(self.msgid, values)
        return self.english() if worded is None else worded

    def __repr__(self) -> str:
        return f"Wording({self.english()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Wording) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def as_dict(self) -> dict:
        """JSON-safe, for a report stored in the database."""
        values = {k: v.as_dict() if isinstance(v, Wording) else v for k, v in self.values.items()}
        return {"msgid": self.msgid, "values": values}

    @classmethod
    def from_dict(cls, data: dict) -> Wording:
        """The Wording `as_dict` stored."""
        values = {
            k: cls.from_dict(v) if isinstance(v, dict) else v
            for k, v in (data.get("values") or {}).items()
        }
        return cls(str(data.get("msgid", "")), **values)


def english(message: object) -> str:
    """An error's or a message's English text (a Wording's, or the text as it is)."""
    if isinstance(message, BaseException) and message.args:
        message = message.args[0]
    return message.english() if isinstance(message, Wording) else str(message)


def wording_of(message: object) -> Wording | None:
    """The Wording an error was raised with, if any."""
    if isinstance(message, BaseException) and message.args:
        message = message.args[0]
    return message if isinstance(message, Wording) else None
