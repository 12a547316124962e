"""Batched insert-or-update on SQLite, PostgreSQL and MySQL/MariaDB.

Each backend spells upsert differently (``ON CONFLICT`` vs ``ON DUPLICATE KEY``); this module
hides that behind one function so loaders stay backend-neutral.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, case, or_
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from puhui.data.store.engine import StoreError

DEFAULT_BATCH_SIZE = 5000


class UpsertError(StoreError):
    """Rows handed to an upsert are malformed or the backend has no upsert."""


def upsert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    insert_only: Sequence[str] = (),
    touch: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Insert ``rows`` into ``table``, updating rows whose primary key already exists.

    Columns in ``insert_only`` (creation times, flags staff change in the store) keep their
    stored value on update. ``touch`` names a timestamp column that changes only when some
    other value did, so an upsert of identical data leaves rows exactly as they were.
    ``on_batch`` receives the number of rows written so far. Returns the number of rows sent.
    """
    if not rows:
        return 0
    if batch_size < 1:
        raise UpsertError(f"batch_size must be at least 1, got {batch_size}")
    columns = list(rows[0].keys())
    key_columns = [column.name for column in table.primary_key.columns]
    missing = [key for key in key_columns if key not in columns]
    if missing:
        raise UpsertError(f"rows for {table.name} lack primary key column(s) {missing}")
    unknown = [name for name in columns if name not in table.c]
    if unknown:
        raise UpsertError(f"rows for {table.name} have unknown column(s) {unknown}")
    compared = [
        name
        for name in columns
        if name not in key_columns and name not in insert_only and name != touch
    ]
    statement = _upsert_statement(
        connection, table, key_columns, compared, touch if touch in columns else None
    )
    written = 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        connection.execute(statement, list(batch))
        written += len(batch)
        if on_batch is not None:
            on_batch(written)
    return written


def _upsert_statement(
    connection: Connection,
    table: Table,
    key_columns: list[str],
    compared: list[str],
    touch: str | None,
) -> Any:
    dialect = connection.dialect.name
    if dialect in {"sqlite", "postgresql"}:
        insert = sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)
        updated = [*compared, *([touch] if touch else [])]
        if not updated:
            return insert.on_conflict_do_nothing(index_elements=key_columns)
        changed = _any_changed(table, compared, insert.excluded)
        return insert.on_conflict_do_update(
            index_elements=key_columns,
            set_={name: insert.excluded[name] for name in updated},
            where=changed,
        )
    if dialect in {"mysql", "mariadb"}:
        insert = mysql.insert(table)
        assignments: list[tuple[str, Any]] = []
        if touch:
            # MySQL applies assignments left to right, so decide on the timestamp first,
            # while the other columns still hold their old values.
            assignments.append(
                (
                    touch,
                    case(
                        (_any_changed(table, compared, insert.inserted), insert.inserted[touch]),
                        else_=table.c[touch],
                    ),
                )
            )
        assignments.extend((name, insert.inserted[name]) for name in compared)
        if not assignments:
            key = key_columns[0]
            assignments.append((key, table.c[key]))
        return insert.on_duplicate_key_update(assignments)
    raise UpsertError(f"no upsert for database dialect {dialect!r} (table {table.name})")


def _any_changed(table: Table, names: list[str], incoming: Any) -> ColumnElement[bool]:
    if not names:
        return table.c[next(iter(table.primary_key.columns)).name].is_(None)
    return or_(*(table.c[name].is_distinct_from(incoming[name]) for name in names))
