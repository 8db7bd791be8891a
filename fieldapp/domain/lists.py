"""When a landlord's list may be dated: the rule the web, the command line and the landlord's
own upload share."""

from __future__ import annotations

from datetime import date, timedelta

# Arrears lists are two weeks apart; nothing older than this is a list anyone still acts on.
OLDEST_LIST = timedelta(days=5 * 366)


class ImplausibleListDate(ValueError):
    """The list's date cannot be right, or needs the importer's explicit choice."""


def check_list_date(
    as_of: date, today: date, last_list: date | None, *, older_list: bool = False
) -> None:
    """Refuse a list dated in the future (it would make every real list after it look old and
    change nothing), more than five years back, or before the landlord's last list in this
    register unless the importer says it is an older list on purpose (it then changes no
    newer figures: see services.imports._is_stale)."""
    if as_of > today:
        raise ImplausibleListDate(
            f"The list is dated {as_of.isoformat()}, after today ({today.isoformat()}). "
            "Check the date column or give the list's date."
        )
    if as_of < today - OLDEST_LIST:
        raise ImplausibleListDate(
            f"The list is dated {as_of.isoformat()}, more than five years ago. "
            "Check the date column or give the list's date."
        )
    if last_list is not None and as_of < last_list and not older_list:
        raise ImplausibleListDate(
            f"The list is dated {as_of.isoformat()}, before this landlord's last list "
            f"({last_list.isoformat()}). Import it as an older list if that is what it is: "
            "it then changes no newer figures."
        )
