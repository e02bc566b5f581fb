"""Who is calling, and what their role and department let them see and do.

Bearer tokens: the admin token from the settings, or a person's token (``safeloop token
create PERSON``). A person's role and department come from the current Organisation, so a
transfer or a revoked token takes effect on the next request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import forbidden, unauthorized
from api.services import Services
from domain.hazard import Hazard

ADMIN = "admin"

#: roles that see every item (read-only for the auditor)
SEE_ALL = frozenset(
    {
        "info_office",
        "safety_dept",
        "safety_supervisor",
        "deputy_chief",
        "leader",
        "mine_chief",
        "auditor",
    }
)
#: roles that act for their own department
DEPARTMENT_ACTORS = frozenset({"unit_head", "staff", "team_leader", "shift_manager"})

#: which roles may run each command on an item (admin may run all)
COMMAND_ROLES: dict[str, frozenset[str]] = {
    "screen": frozenset({"info_office"}),
    "void": frozenset({"info_office"}),
    "merge": frozenset({"info_office"}),
    "notice": frozenset({"info_office"}),
    "extension/decision": frozenset({"info_office"}),
    "fix-on-spot": frozenset({"info_office", "safety_dept", "safety_supervisor"}),
    "recheck": frozenset({"safety_dept", "safety_supervisor"}),
    "extension": DEPARTMENT_ACTORS,
    "submit": DEPARTMENT_ACTORS,
    # an urgent item's response steps: the dispatch room (information office), the safety
    # department, and the item's own unit
    "respond": frozenset({"info_office", "safety_dept", "safety_supervisor"}) | DEPARTMENT_ACTORS,
}
#: who keeps training records and certificates: these for everyone, the unit's own people
#: (DEPARTMENT_ACTORS) for their department
TRAINING_KEEPERS = frozenset({"info_office", "safety_dept"})


@dataclass(frozen=True)
class Principal:
    #: the person id, or "admin" for the admin token
    actor: str
    role: str
    department: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def sees_all(self) -> bool:
        return self.is_admin or self.role in SEE_ALL

    def can_see_department(self, department: str | None) -> bool:
        return self.sees_all or (department is not None and department == self.department)

    @property
    def read_only(self) -> bool:
        return self.role == "auditor"

    def item_scope(self) -> tuple[list[str] | None, str | None]:
        """(departments, reporter) limiting item lists: None, None for those who see all."""
        if self.sees_all:
            return None, None
        return ([self.department] if self.department else []), self.actor

    def can_see(self, hazard: Hazard) -> bool:
        return self.can_see_department(hazard.department) or hazard.reporter == self.actor

    def may(self, command: str, hazard: Hazard) -> bool:
        """May this caller run ``command`` on ``hazard`` (ignoring the item's state)?"""
        return self.may_on(command, hazard.department, hazard.reporter)

    def may_on(self, command: str, department: str | None, reporter: str | None) -> bool:
        """``may`` for an item known by its department and reporter (e.g. a board row)."""
        if self.is_admin:
            return True
        if command == "fix-on-spot" and reporter == self.actor:
            return True
        if self.role not in COMMAND_ROLES.get(command, frozenset()):
            return False
        if self.role in DEPARTMENT_ACTORS:
            return department is not None and department == self.department
        return True

    def require(self, command: str, hazard: Hazard) -> None:
        if not self.can_see(hazard):
            raise forbidden()
        if not self.may(command, hazard):
            raise forbidden(
                f"your role ({self.role}) may not '{command}' this item",
                f"您的角色（{self.role}）无权对该条目执行“{command}”",
            )

    def may_keep_training(self, department: str | None) -> bool:
        """May record certificates and training for people of ``department``?"""
        if self.is_admin or self.role in TRAINING_KEEPERS:
            return True
        return (
            self.role in DEPARTMENT_ACTORS
            and department is not None
            and (department == self.department)
        )

    def require_admin(self) -> None:
        if not self.is_admin:
            raise forbidden("only the administrator may do this", "仅管理员可执行此操作")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="an API token (admin or a person's)")


def get_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise unauthorized()
    token = credentials.credentials
    if services.admin_token and hmac.compare_digest(token.encode(), services.admin_token.encode()):
        return Principal(ADMIN, ADMIN, None)
    person_id = services.app.authenticate(token)
    principal = principal_for(services, person_id) if person_id else None
    if principal is None:
        raise unauthorized()
    return principal


def principal_for(services: Services, person_id: str, *, admin: bool = False) -> Principal | None:
    """A person's rights from the current Organisation (None once they have left it).

    The one place a person becomes a Principal, for API tokens and for web sessions alike.
    """
    person = services.app.org().person(person_id)
    if person is None:
        return None
    return Principal(person_id, ADMIN if admin else person["role"], person.get("department"))


PrincipalDep = Annotated[Principal, Depends(get_principal)]
