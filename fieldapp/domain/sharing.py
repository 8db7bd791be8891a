"""Sharing a case with a partner: the tenant's consent, or a legal basis the organisation has
written down (an administrator keeps the list; the records of processing show it)."""

from __future__ import annotations

MAX_BASES, MAX_BASIS_CHARS = 20, 200


class LegalBasesError(ValueError):
    """The list as typed cannot be kept; names the line."""


def parse_legal_bases(text: str | None) -> list[str]:
    """The stored list, one basis a line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def clean_legal_bases(text: str) -> str:
    """The list as the administrator typed it, checked; LegalBasesError names the line."""
    bases = parse_legal_bases(text)
    if len(bases) > MAX_BASES:
        raise LegalBasesError(f"At most {MAX_BASES} legal bases ({len(bases)} given).")
    for number, basis in enumerate(bases, start=1):
        if len(basis) > MAX_BASIS_CHARS:
            raise LegalBasesError(
                f"Line {number}: at most {MAX_BASIS_CHARS} characters ({len(basis)} given)."
            )
    return "\n".join(dict.fromkeys(bases))


def may_share(consented_kinds: set[str], partner_kind: str, basis: str, bases: list[str]) -> bool:
    """Whether a case may be given to a partner of this kind: the tenant's current consent
    covers it, or the lead chose one of the organisation's legal bases."""
    return partner_kind in consented_kinds or (bool(basis) and basis in bases)
