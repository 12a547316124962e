"""Logical backup and restore of the operational store (备份与恢复), across dialects.

A backup is one gzip file of JSON lines: a header (format, schema revision, puhui version,
source dialect, tables), then each table's rows in primary-key order, each table closed by its
row count and a sha256 of its lines, and a footer with the audit log's and consent log's tail
hashes. Values are written as text the same way on every backend (times in UTC ISO 8601,
money as decimal strings), so a backup of SQLite restores into PostgreSQL or MariaDB and back.

Restore goes only into an empty database: it migrates it to the backup's revision, inserts
every table in foreign-key order in one transaction, moves PostgreSQL's id sequences past the
restored ids, then walks both hash chains and compares their tails with the footer. A
truncated or edited backup file is refused before anything is committed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select, text, update
from sqlalchemy.types import TypeDecorator

from puhui import __version__
from puhui.data.store.audit import verify_audit_chain
from puhui.data.store.audit_chain import GENESIS_HASH, ChainVerification, verify_links
from puhui.data.store.consent_log import iter_links
from puhui.data.store.consent_tables import ConsentLogEntry
from puhui.data.store.engine import StoreError, make_session_factory, mask_url
from puhui.data.store.migrate import current_revision, head_revision, upgrade
from puhui.data.store.tables import AuditEvent, Base

FORMAT = "puhui-store-backup"
FORMAT_VERSION = 1
_BATCH = 1000


class BackupError(StoreError):
    """A backup cannot be written or read: unreadable file, truncated, wrong revision."""


class RestoreTargetNotEmptyError(BackupError):
    """Restore refuses a database that already holds puhui tables."""


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds: revision, rows per table, chain tails."""

    path: Path
    revision: str
    rows: dict[str, int]
    audit_tail: str
    consent_tail: str

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


@dataclass
class RestoreReport:
    """A restore's row counts and whether both chains verify afterwards."""

    revision: str
    rows: dict[str, int] = field(default_factory=dict)
    audit: ChainVerification | None = None
    consent: ChainVerification | None = None
    tails_match: bool = False

    @property
    def verified(self) -> bool:
        return bool(self.audit and self.audit.ok and self.consent and self.consent.ok) and (
            self.tails_match
        )


# --- values ------------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decoder(column: Any) -> Any:
    """How to turn a column's text back into its value; ``None`` when JSON already is it."""
    column_type = column.type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return None
    if python_type is datetime:
        return datetime.fromisoformat
    if python_type is date:
        return date.fromisoformat
    if python_type is Decimal:
        return Decimal
    if python_type is bytes:
        return base64.b64decode
    return None


def _line(document: Any) -> bytes:
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


# --- backup ------------------------------------------------------------------------------------


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def write_backup(engine: Engine, path: Path, *, created_at: datetime) -> BackupSummary:
    """Write a consistent logical backup of the store at ``engine`` to ``path`` (gzip JSONL).

    Read in one repeatable-read transaction, so the file is one moment of the store even
    while the API keeps writing. The file appears under its name only once complete.
    """
    revision = current_revision(engine)
    if revision is None:
        raise BackupError(f"the store {mask_url(engine.url)} is empty (never migrated)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    tables = _tables()
    rows: dict[str, int] = {}
    options = {} if engine.dialect.name == "sqlite" else {"isolation_level": "REPEATABLE READ"}
    with (
        engine.connect().execution_options(**options) as connection,
        connection.begin(),
        gzip.open(staging, "wb", compresslevel=6) as out,
    ):
        out.write(
            _line(
                {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "revision": revision,
                    "puhui_version": __version__,
                    "source_dialect": engine.dialect.name,
                    "created_at": created_at.isoformat(),
                    "tables": [table.name for table in tables],
                }
            )
        )
        for table in tables:
            rows[table.name] = _dump_table(connection, table, out)
        audit_tail = _tail(connection, AuditEvent.__table__)
        consent_tail = _tail(connection, ConsentLogEntry.__table__)
        out.write(
            _line(
                {
                    "complete": True,
                    "rows": rows,
                    "audit_tail": audit_tail,
                    "consent_tail": consent_tail,
                }
            )
        )
    staging.replace(path)
    return BackupSummary(path, revision, rows, audit_tail, consent_tail)


def _dump_table(connection: Connection, table: Table, out: IO[bytes]) -> int:
    columns = [column.name for column in table.columns]
    out.write(_line({"table": table.name, "columns": columns}))
    digest = hashlib.sha256()
    count = 0
    query = select(table).order_by(*table.primary_key.columns)
    result = connection.execution_options(stream_results=True, yield_per=_BATCH).execute(query)
    for row in result:
        line = _line([_encode(value) for value in row])
        digest.update(line)
        out.write(line)
        count += 1
    out.write(_line({"end": table.name, "rows": count, "sha256": digest.hexdigest()}))
    return count


def _tail(connection: Connection, table: Table) -> str:
    tail = connection.execute(
        select(table.c.hash).order_by(table.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    return tail or GENESIS_HASH


# --- reading -----------------------------------------------------------------------------------


def _read_lines(path: Path) -> Iterator[tuple[bytes, Any]]:
    try:
        with gzip.open(path, "rb") as stream:
            for raw in stream:
                yield raw, json.loads(raw)
    except (OSError, EOFError, ValueError) as error:
        raise BackupError(f"backup {path} is unreadable or truncated: {error}") from error


def read_header(path: Path) -> dict[str, Any]:
    """The backup's header line, checked for format and version."""
    for _raw, header in _read_lines(Path(path)):
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise BackupError(f"{path} is not a puhui store backup")
        if header.get("format_version") != FORMAT_VERSION:
            raise BackupError(
                f"backup {path} has format version {header.get('format_version')}; "
                f"this puhui reads {FORMAT_VERSION}"
            )
        return header
    raise BackupError(f"backup {path} is empty")


# --- restore -----------------------------------------------------------------------------------


def restore_backup(engine: Engine, path: Path) -> RestoreReport:
    """Restore ``path`` into the empty database at ``engine`` and verify both chains."""
    path = Path(path)
    header = read_header(path)
    revision = header["revision"]
    if revision != head_revision():
        raise BackupError(
            f"backup {path} is at schema revision {revision}, this puhui at {head_revision()}; "
            "restore it with the puhui version that wrote it, then upgrade"
        )
    _require_empty(engine)
    upgrade(engine, revision)
    report = RestoreReport(revision=revision)
    tables = {table.name: table for table in _tables()}
    footer: dict[str, Any] | None = None
    with engine.begin() as connection:
        state = _TableLoader(connection, tables)
        for index, (raw, document) in enumerate(_read_lines(path)):
            if index == 0:
                continue
            if isinstance(document, list):
                state.row(raw, document)
            elif "table" in document:
                state.open(document["table"], document["columns"])
            elif "end" in document:
                report.rows[document["end"]] = state.close(document)
            elif document.get("complete"):
                footer = document
        if footer is None:
            raise BackupError(f"backup {path} has no footer: it is truncated; nothing restored")
        _reset_sequences(connection, list(tables.values()))
    sessions = make_session_factory(engine)
    with sessions() as session:
        report.audit = verify_audit_chain(session)
        report.consent = verify_links(iter_links(session))
        with engine.connect() as connection:
            report.tails_match = (
                _tail(connection, AuditEvent.__table__) == footer["audit_tail"]
                and _tail(connection, ConsentLogEntry.__table__) == footer["consent_tail"]
            )
    return report


def _require_empty(engine: Engine) -> None:
    known = {table.name for table in _tables()}
    present = known & set(inspect(engine).get_table_names())
    if present or current_revision(engine) is not None:
        raise RestoreTargetNotEmptyError(
            f"restore target {mask_url(engine.url)} is not empty (has "
            f"{', '.join(sorted(present)[:5]) or 'a schema revision'}); restore only into a "
            "fresh database"
        )


class _TableLoader:
    """Inserts one table's rows in batches, checking the per-table count and digest.

    Self-referencing foreign keys (a sub-branch naming its branch) are inserted empty and set
    afterwards, so row order within the table does not matter.
    """

    def __init__(self, connection: Connection, tables: dict[str, Table]) -> None:
        self.connection = connection
        self.tables = tables
        self.table: Table | None = None
        self.columns: list[str] = []
        self.decoders: list[Any] = []
        self.batch: list[dict[str, Any]] = []
        self.deferred: list[dict[str, Any]] = []
        self.self_refs: list[str] = []
        self.digest = hashlib.sha256()
        self.count = 0

    def open(self, name: str, columns: list[str]) -> None:
        if name not in self.tables:
            raise BackupError(f"backup holds table {name!r}, unknown to this puhui")
        table = self.tables[name]
        if columns != [column.name for column in table.columns]:
            raise BackupError(f"backup columns of {name} differ from this puhui's schema")
        self.table, self.columns = table, columns
        self.decoders = [_decoder(table.c[column]) for column in columns]
        self.self_refs = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
        self.batch, self.deferred = [], []
        self.digest, self.count = hashlib.sha256(), 0

    def row(self, raw: bytes, values: list[Any]) -> None:
        if self.table is None:
            raise BackupError("backup has a row outside any table")
        self.digest.update(raw)
        self.count += 1
        row = {
            column: (decode(value) if decode is not None and value is not None else value)
            for column, decode, value in zip(self.columns, self.decoders, values, strict=True)
        }
        if self.self_refs and any(row[name] is not None for name in self.self_refs):
            self.deferred.append(row)
            row = {**row, **dict.fromkeys(self.self_refs)}
        self.batch.append(row)
        if len(self.batch) >= _BATCH:
            self._flush()

    def close(self, end: dict[str, Any]) -> int:
        if self.table is None or end["end"] != self.table.name:
            raise BackupError(f"backup table section {end.get('end')!r} is out of order")
        if end["rows"] != self.count or end["sha256"] != self.digest.hexdigest():
            raise BackupError(
                f"backup table {self.table.name}: {self.count} rows read but the file says "
                f"{end['rows']}, or their checksum differs (file edited or damaged)"
            )
        self._flush()
        keys = list(self.table.primary_key.columns)
        for row in self.deferred:
            condition = [key == row[key.name] for key in keys]
            self.connection.execute(
                update(self.table)
                .where(*condition)
                .values({name: row[name] for name in self.self_refs})
            )
        self.table = None
        return self.count

    def _flush(self) -> None:
        if self.batch and self.table is not None:
            self.connection.execute(insert(self.table), self.batch)
        self.batch = []


def _reset_sequences(connection: Connection, tables: list[Table]) -> None:
    """Move PostgreSQL's id sequences past the restored ids (MySQL and SQLite do this alone)."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or keys[0].autoincrement is not True:
            continue
        key = keys[0]
        highest = connection.execute(select(func.max(key))).scalar_one_or_none()
        if highest is None:
            continue
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, :column), :value)"),
            {"table": table.name, "column": key.name, "value": highest},
        )
