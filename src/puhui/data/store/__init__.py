"""The operational store (运营库): the transactional database behind origination, warnings,
tasks and audit.

SQLite by default; PostgreSQL or MySQL/MariaDB by URL. The schema is owned by the Alembic
revisions under ``migrations/``; ``tables`` holds the matching ORM models. Seeding reference
data from the lake lives in ``puhui.data.store.reference`` (imported on demand, it needs polars).
"""

from puhui.data.store.audit import AuditChainConflictError, append_audit, verify_audit_chain
from puhui.data.store.audit_chain import ChainVerification
from puhui.data.store.engine import (
    StoreError,
    StoreUnreachableError,
    StoreUrlError,
    make_engine,
    make_session_factory,
    mask_url,
)
from puhui.data.store.migrate import (
    MigrationError,
    MigrationStatus,
    StoreNotMigratedError,
    migration_status,
    require_up_to_date,
    upgrade,
)
from puhui.data.store.tables import (
    AuditAppendOnlyError,
    AuditEvent,
    Base,
    Branch,
    BranchLevel,
    Enterprise,
    SizeClass,
    Staff,
    StaffRole,
)

__all__ = [
    "AuditAppendOnlyError",
    "AuditChainConflictError",
    "AuditEvent",
    "Base",
    "Branch",
    "BranchLevel",
    "ChainVerification",
    "Enterprise",
    "MigrationError",
    "MigrationStatus",
    "SizeClass",
    "Staff",
    "StaffRole",
    "StoreError",
    "StoreNotMigratedError",
    "StoreUnreachableError",
    "StoreUrlError",
    "append_audit",
    "make_engine",
    "make_session_factory",
    "mask_url",
    "migration_status",
    "require_up_to_date",
    "upgrade",
    "verify_audit_chain",
]
