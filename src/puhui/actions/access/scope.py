"""Which firms a principal may see (数据范围), resolved against the store.

A firm belongs to the branch it is booked at (``enterprise.branch_id``). Branch-scoped roles
see only their branches' firms; a firm they may not see is reported exactly like a firm that
does not exist, so scoping never reveals who banks elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from puhui.actions.access.roles import SEES_FIRMS, Principal, Role
from puhui.data.store.tables import Enterprise
from puhui.errors import PuhuiError

MAX_LISTED = 500


class FirmNotVisibleError(PuhuiError):
    """The firm is unknown, or outside the principal's branches (the two are not told apart)."""


class RoleNotAllowedError(PuhuiError):
    """The principal's role may not use this page or operation."""


@dataclass(frozen=True)
class FirmRow:
    uscc: str
    name: str
    industry_code: str
    size_class: str
    branch_id: str | None
    account_manager_id: str | None
    is_customer: bool


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise RoleNotAllowedError(
            f"role {principal.role.value} may not do this; allowed: {allowed}"
        )


def scoped(query: Select, principal: Principal) -> Select:  # type: ignore[type-arg]
    """Restrict a query over ``enterprise`` to the principal's branches."""
    if principal.role not in SEES_FIRMS:
        return query.where(False)
    if principal.scope.all_branches:
        return query
    return query.where(Enterprise.branch_id.in_(sorted(principal.scope.branch_ids)))


def check_firm_visible(session: Session, principal: Principal, uscc: str) -> Enterprise | None:
    """The firm's store row when the principal may see it; raises when it may not.

    Bank-wide roles may also see firms the store does not hold yet (prospects only in the
    lake): then None is returned and the caller reads the lake.
    """
    if principal.role not in SEES_FIRMS:
        raise RoleNotAllowedError(f"role {principal.role.value} may not open enterprises")
    firm = session.get(Enterprise, uscc)
    if principal.scope.all_branches:
        return firm
    if firm is None or not principal.scope.allows_branch(firm.branch_id):
        branches = ", ".join(sorted(principal.scope.branch_ids))
        raise FirmNotVisibleError(
            f"enterprise {uscc} is not among the firms of your branches ({branches})"
        )
    return firm


def list_firms(
    session: Session,
    principal: Principal,
    *,
    mine_only: bool = False,
    search: str = "",
    limit: int = MAX_LISTED,
) -> list[FirmRow]:
    """Customers the principal may see; an account manager's own first when ``mine_only``."""
    query = scoped(select(Enterprise), principal).where(Enterprise.is_customer.is_(True))
    if mine_only:
        query = query.where(Enterprise.account_manager_id == principal.staff_id)
    text = search.strip()
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Enterprise.name.like(like), Enterprise.uscc.like(like)))
    rows = session.scalars(query.order_by(Enterprise.name).limit(min(limit, MAX_LISTED)))
    return [
        FirmRow(
            uscc=row.uscc,
            name=row.name,
            industry_code=row.industry_code,
            size_class=row.size_class,
            branch_id=row.branch_id,
            account_manager_id=row.account_manager_id,
            is_customer=row.is_customer,
        )
        for row in rows
    ]
