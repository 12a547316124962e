"""访问控制 · Who may see what: users, sessions, roles, branch scoping and audited unmasking.

- ``roles``: the workbench roles, the principal and its data scope (pure).
- ``passwords``: argon2id hashing.
- ``policy``: session lifetimes, lock-out and rate limits as one value object.
- ``service``: logins, sessions and tokens, users, demo users (on the store).
- ``scope``: which firms a principal may see, resolved against the store's branch tree.
- ``pii``: unmasking a firm's personal data, every time written to the audit log.
"""

from puhui.actions.access.policy import AccessPolicy
from puhui.actions.access.roles import Principal, Role, Scope
from puhui.actions.access.service import (
    AccessError,
    AccessService,
    AuthenticationError,
    LoginRefusedError,
    NewSession,
    UnknownStaffError,
)

__all__ = [
    "AccessError",
    "AccessPolicy",
    "AccessService",
    "AuthenticationError",
    "LoginRefusedError",
    "NewSession",
    "Principal",
    "Role",
    "Scope",
    "UnknownStaffError",
]
