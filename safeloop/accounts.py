"""Web logins from the command line and for the demo (passwords hashed here, at the edge)."""

from __future__ import annotations

from api.web.passwords import hash_password
from safeloop.system import System

ADMIN_ACTOR = "admin"


def set_password(system: System, person: str, password: str, *, admin: bool | None = None) -> None:
    """Give ``person`` a login with ``password`` (raises ValueError for a weak password)."""
    system.app.set_password_hash(
        person, hash_password(password), actor=ADMIN_ACTOR, now=system.now(), admin=admin
    )


#: the password every demo user gets (the demo is for trying things out, never for a mine)
DEMO_PASSWORD = "safeloop-demo"  # noqa: S105 - a documented demo password


def demo_logins(system: System, people: tuple[str, ...]) -> list[tuple[str, str]]:
    """Set the demo password for ``people``; returns (person, password) pairs."""
    for person in people:
        set_password(system, person, DEMO_PASSWORD)
    return [(person, DEMO_PASSWORD) for person in people]
