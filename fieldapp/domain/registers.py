"""Each team keeps its own register: households, tenancies, their cases and the imported
lists belong to one team. The one clause every query about a register goes through."""

from __future__ import annotations

from typing import Any


def in_register(column: Any, team_id: int | None) -> Any:
    """The clause keeping a query to one team's register (team_id None: the register of an
    organisation without teams, which no team's query reaches either)."""
    return column.is_(None) if team_id is None else column == team_id


def address_key(address: str, postcode: str) -> str:
    """The key that says two rows name the same home (Household.address_key): the address
    and postcode normalised ("Stengade 12, st. tv." = "stengade 12 st tv"); empty without an
    address. Imports, corrections and the demo all compute it here."""
    from ..services.tabular import normalise_address

    return normalise_address(f"{address} {postcode}") if address.strip() else ""
