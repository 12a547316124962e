"""The workbench roles, the signed-in principal and the slice of the bank it may see (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Roles that can sign in to the workbench; values match ``staff.role``."""

    ACCOUNT_MANAGER = "account_manager"
    BRANCH_MANAGER = "branch_manager"
    RISK_OFFICER = "risk_officer"
    MODEL_DEVELOPER = "model_developer"
    ADMIN = "admin"
    AUDITOR = "auditor"


ROLE_NAMES: dict[Role, tuple[str, str]] = {
    Role.ACCOUNT_MANAGER: ("客户经理", "Account manager"),
    Role.BRANCH_MANAGER: ("支行行长", "Branch manager"),
    Role.RISK_OFFICER: ("风险经理", "Risk officer"),
    Role.MODEL_DEVELOPER: ("模型开发", "Model developer"),
    Role.ADMIN: ("系统管理员", "Administrator"),
    Role.AUDITOR: ("审计", "Auditor"),
}

# Roles that see firms of their own branch tree only; the others see the whole bank.
BRANCH_SCOPED = frozenset({Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER})
# Roles that may open an enterprise at all (a model developer works on frames, not firms).
SEES_FIRMS = frozenset(
    {Role.ACCOUNT_MANAGER, Role.BRANCH_MANAGER, Role.RISK_OFFICER, Role.ADMIN, Role.AUDITOR}
)


@dataclass(frozen=True)
class Scope:
    """The firms a principal may see: the whole bank, or the firms booked in ``branch_ids``."""

    all_branches: bool
    branch_ids: frozenset[str] = frozenset()

    def allows_branch(self, branch_id: str | None) -> bool:
        """Whether a firm booked at ``branch_id`` is visible; unbooked prospects need the bank."""
        if self.all_branches:
            return True
        return branch_id is not None and branch_id in self.branch_ids


NO_FIRMS = Scope(all_branches=False)


@dataclass(frozen=True)
class Principal:
    """Who is asking: the user, their staff record, role and data scope."""

    username: str
    staff_id: str
    name: str
    role: Role
    branch_id: str
    branch_name: str
    scope: Scope

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    @property
    def role_zh(self) -> str:
        return ROLE_NAMES[self.role][0]

    @property
    def role_en(self) -> str:
        return ROLE_NAMES[self.role][1]
