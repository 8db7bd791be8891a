"""The application layer: one function per use case, for the web and the command line alike.

A use case takes a unit of work and an Actor (who acts, in which role and team, from where),
checks the actor's scope, changes the models through the services, and writes the audit line.
The unit of work owns commit and rollback: views and commands parse, call, and render or
print, and never commit themselves. A dry run is the same work in a transaction rolled back.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Team, User


class Refused(Exception):
    """The actor may not do this, or the input cannot be used; nothing was stored. The
    message is for the person (it names the value and says what to do)."""


class NotFound(Refused):
    """The thing does not exist for this actor (another team's looks the same: absent)."""


@dataclass(frozen=True)
class Actor:
    """Who acts. A person from the web (user set), or an operator at the command line (user
    None, operator named, team chosen on the command line)."""

    user: User | None
    role: str
    team_id: int | None
    address: str = ""
    operator: str = ""
    # A partner or landlord person: the organisation they are bound to (services.access).
    partner_id: int | None = None
    landlord_id: int | None = None

    @classmethod
    def person(cls, user: User, address: str = "") -> Actor:
        """A logged-in person: their role and team (and partner or landlord), from where."""
        return cls(
            user=user, role=user.role, team_id=user.team_id, address=address or "",
            partner_id=user.partner_id, landlord_id=user.landlord_id,
        )  # fmt: skip

    @classmethod
    def command_line(
        cls,
        session: Session,
        team_name: str | None = None,
        operator: str | None = None,
        *,
        for_a_team: bool = True,
    ) -> Actor:
        """An operator at the command line (the OS account, or --operator), acting for one
        team: the one named, else the only one (for_a_team=False: for none, e.g. to create
        an account). Audited under "cli:<operator>"."""
        # Audited as "cli:<name>": letters, digits and . _ @ - only (the log holds no formula).
        name = re.sub(r"[^A-Za-z0-9._@-]", "_", operator or _os_user())[:40] or "unknown"
        team_id = None
        if for_a_team and team_name:
            team = session.scalar(select(Team).where(Team.name == team_name))
            if team is None:
                raise Refused(f"There is no team named {team_name!r}.")
            team_id = team.id
        elif for_a_team:
            teams = session.scalars(select(Team).order_by(Team.id).limit(3)).all()
            if len(teams) == 1:
                team_id = teams[0].id
            elif teams:
                names = ", ".join(t.name for t in session.scalars(select(Team).order_by(Team.id)))
                raise Refused(f"Choose the team with --team (teams: {names}).")
        return cls(
            user=None, role="operator", team_id=team_id, address=f"cli:{name}", operator=name
        )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container) and no LOGNAME
        return "unknown"


class UnitOfWork:
    """One transaction around one use case: commit when it returns, roll back when it raises
    or when it was a dry run.

        with UnitOfWork(db.session, dry_run=preview) as uow:
            report = import_arrears_list(uow, actor, ...)
    """

    def __init__(self, session: Session, *, dry_run: bool = False) -> None:
        self.session = session
        self.dry_run = dry_run

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None and not self.dry_run:
            try:
                self.session.commit()
            except BaseException:
                self.session.rollback()  # a failed commit leaves the session unusable
                raise
        else:
            self.session.rollback()
