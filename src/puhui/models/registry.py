"""The model registry (模型登记册): versions, champion/challenger status, promote and roll back.

Artifacts live on disk under ``<models_dir>/<name>/<version>/``; the index (versions, status,
the history of who promoted or rolled back what, and when) lives in the operational store, and
every status change also goes to the audit log. Serving calls ``load_champion(name)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from puhui.data.store.audit import append_audit
from puhui.data.store.model_registry_tables import (
    ModelStatus,
    ModelStatusAction,
    ModelStatusChange,
    ModelVersion,
)
from puhui.data.store.tables import utc_now
from puhui.models.artifacts import (
    CreditModel,
    ModelMetadata,
    load_metadata,
    load_model,
    save_artifact,
)
from puhui.models.errors import RegistryError

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class RegisteredVersion:
    """A row of the registry index, detached from the session."""

    name: str
    version: str
    kind: str
    status: str
    artifact_dir: Path
    trained_by: str
    trained_at: datetime
    metrics: dict[str, Any]


@dataclass(frozen=True)
class StatusChange:
    """One entry of a model's status history."""

    version: str
    action: str
    from_status: str | None
    to_status: str
    replaced_version: str | None
    actor: str
    reason: str | None
    occurred_at: datetime


def check_model_name(name: str) -> str:
    """Model names are lowercase ASCII words (they become folder names)."""
    if not name or len(name) > 64 or not set(name) <= _NAME_CHARS:
        raise RegistryError(f"model name {name!r} must be 1–64 characters of a–z, 0–9, '_' or '-'")
    return name


class ModelRegistry:
    """Registers, promotes, rolls back and loads model versions.

    ``session_factory`` opens store sessions; ``models_dir`` is ``<data_dir>/models``;
    ``clock`` gives the time of each change (UTC).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        models_dir: Path,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.session_factory = session_factory
        self.models_dir = Path(models_dir)
        self.clock = clock

    def register(
        self,
        model: CreditModel,
        metadata: ModelMetadata,
        evaluation: pd.DataFrame | None = None,
        *,
        actor_role: str = "model_developer",
        status: ModelStatus = ModelStatus.CANDIDATE,
    ) -> RegisteredVersion:
        """Write the artifact and index it. ``metadata.version`` empty means the next number."""
        name = check_model_name(metadata.name)
        with self.session_factory() as session, session.begin():
            version = metadata.version or self._next_version(session, name)
            if session.get(ModelVersion, (name, version)) is not None:
                raise RegistryError(
                    f"model {name} already has a version {version}; versions are immutable"
                )
            folder = self.models_dir / name / version
            stamped = ModelMetadata(**{**metadata.__dict__, "version": version})
            save_artifact(folder, model, stamped, evaluation)
            row = ModelVersion(
                model_name=name,
                version=version,
                kind=model.kind,
                status=ModelStatus.CANDIDATE.value,
                artifact_dir=str(folder),
                data_window_start=stamped.data_window_start,
                data_window_end=stamped.data_window_end,
                features=list(stamped.features),
                metrics=_plain(stamped.metrics),
                trained_by=stamped.trained_by,
                trained_at=stamped.trained_at,
                registered_at=self.clock(),
            )
            session.add(row)
            session.flush()
            self._record(
                session,
                row,
                ModelStatusAction.REGISTER,
                None,
                ModelStatus.CANDIDATE,
                None,
                stamped.trained_by,
                actor_role,
                None,
            )
        if status != ModelStatus.CANDIDATE:
            if status == ModelStatus.CHAMPION:
                self.promote(name, version, actor=stamped.trained_by, actor_role=actor_role)
            elif status == ModelStatus.CHALLENGER:
                self.set_challenger(name, version, actor=stamped.trained_by, actor_role=actor_role)
        return self.get(name, version)

    def _next_version(self, session: Session, name: str) -> str:
        versions = session.scalars(
            select(ModelVersion.version).where(ModelVersion.model_name == name)
        ).all()
        numbers = [int(v) for v in versions if v.isdigit()]
        return str(max(numbers, default=0) + 1)

    def _row(self, session: Session, name: str, version: str) -> ModelVersion:
        row = session.get(ModelVersion, (name, version))
        if row is None:
            known = session.scalars(
                select(ModelVersion.version).where(ModelVersion.model_name == name)
            ).all()
            if not known:
                raise RegistryError(f"no model named {name!r} in the registry")
            raise RegistryError(
                f"model {name} has no version {version!r} "
                f"(known: {', '.join(sorted(known, key=_version_key))})"
            )
        return row

    def _champion_row(self, session: Session, name: str) -> ModelVersion | None:
        return session.scalars(
            select(ModelVersion).where(
                ModelVersion.model_name == name, ModelVersion.status == ModelStatus.CHAMPION.value
            )
        ).one_or_none()

    def _record(
        self,
        session: Session,
        row: ModelVersion,
        action: ModelStatusAction,
        from_status: str | None,
        to_status: ModelStatus,
        replaced: str | None,
        actor: str,
        actor_role: str,
        reason: str | None,
    ) -> None:
        now = self.clock()
        session.add(
            ModelStatusChange(
                model_name=row.model_name,
                version=row.version,
                action=action.value,
                from_status=from_status,
                to_status=to_status.value,
                replaced_version=replaced,
                actor=actor,
                reason=reason,
                occurred_at=now,
            )
        )
        append_audit(
            session,
            actor=actor,
            actor_role=actor_role,
            action=f"model.{action.value}",
            subject_type="model_version",
            subject_id=f"{row.model_name}:{row.version}",
            purpose=reason,
            detail={
                "from_status": from_status,
                "to_status": to_status.value,
                "replaced_version": replaced,
                "kind": row.kind,
            },
            occurred_at=now,
        )

    def promote(
        self,
        name: str,
        version: str,
        *,
        actor: str,
        actor_role: str = "risk_officer",
        reason: str | None = None,
    ) -> RegisteredVersion:
        """Make ``version`` the champion; the previous one is retired (rollback restores it)."""
        with self.session_factory() as session, session.begin():
            row = self._row(session, name, version)
            if row.status == ModelStatus.CHAMPION.value:
                raise RegistryError(f"model {name} version {version} is already the champion")
            current = self._champion_row(session, name)
            replaced = None
            if current is not None:
                replaced = current.version
                current.status = ModelStatus.RETIRED.value
                session.flush()
            before = row.status
            row.status = ModelStatus.CHAMPION.value
            session.flush()
            self._record(
                session,
                row,
                ModelStatusAction.PROMOTE,
                before,
                ModelStatus.CHAMPION,
                replaced,
                actor,
                actor_role,
                reason,
            )
        return self.get(name, version)

    def set_challenger(
        self,
        name: str,
        version: str,
        *,
        actor: str,
        actor_role: str = "risk_officer",
        reason: str | None = None,
    ) -> RegisteredVersion:
        """Mark ``version`` as a challenger, scored alongside the champion."""
        with self.session_factory() as session, session.begin():
            row = self._row(session, name, version)
            if row.status == ModelStatus.CHAMPION.value:
                raise RegistryError(
                    f"model {name} version {version} is the champion; promote another version first"
                )
            before = row.status
            row.status = ModelStatus.CHALLENGER.value
            self._record(
                session,
                row,
                ModelStatusAction.SET_CHALLENGER,
                before,
                ModelStatus.CHALLENGER,
                None,
                actor,
                actor_role,
                reason,
            )
        return self.get(name, version)

    def rollback(
        self, name: str, *, actor: str, actor_role: str = "risk_officer", reason: str | None = None
    ) -> RegisteredVersion:
        """Reinstate the champion that the current champion replaced; the current one is retired."""
        with self.session_factory() as session, session.begin():
            current = self._champion_row(session, name)
            if current is None:
                self._known(session, name)
                raise RegistryError(f"model {name} has no champion to roll back")
            promotion = session.scalars(
                select(ModelStatusChange)
                .where(
                    ModelStatusChange.model_name == name,
                    ModelStatusChange.version == current.version,
                    ModelStatusChange.action.in_(
                        [ModelStatusAction.PROMOTE.value, ModelStatusAction.ROLLBACK.value]
                    ),
                )
                .order_by(ModelStatusChange.occurred_at.desc(), ModelStatusChange.id.desc())
                .limit(1)
            ).one_or_none()
            previous = promotion.replaced_version if promotion is not None else None
            if previous is None:
                raise RegistryError(
                    f"model {name} champion version {current.version} replaced no earlier "
                    "champion; nothing to roll back to"
                )
            target = self._row(session, name, previous)
            current.status = ModelStatus.RETIRED.value
            session.flush()
            before = target.status
            target.status = ModelStatus.CHAMPION.value
            session.flush()
            self._record(
                session,
                target,
                ModelStatusAction.ROLLBACK,
                before,
                ModelStatus.CHAMPION,
                current.version,
                actor,
                actor_role,
                reason,
            )
            version = target.version
        return self.get(name, version)

    def _known(self, session: Session, name: str) -> None:
        if (
            session.scalars(
                select(ModelVersion.version).where(ModelVersion.model_name == name).limit(1)
            ).first()
            is None
        ):
            raise RegistryError(f"no model named {name!r} in the registry")

    def get(self, name: str, version: str) -> RegisteredVersion:
        """One version's index row."""
        with self.session_factory() as session:
            return _detached(self._row(session, name, version))

    def champion(self, name: str) -> RegisteredVersion:
        """The serving version of ``name``."""
        with self.session_factory() as session:
            row = self._champion_row(session, name)
            if row is None:
                self._known(session, name)
                raise RegistryError(
                    f"model {name} has no champion; promote a version with `puhui model promote`"
                )
            return _detached(row)

    def versions(self, name: str | None = None) -> list[RegisteredVersion]:
        """Every version (of one model, or of all), in name then version order."""
        with self.session_factory() as session:
            query = select(ModelVersion)
            if name is not None:
                query = query.where(ModelVersion.model_name == name)
            rows = [_detached(row) for row in session.scalars(query)]
        return sorted(rows, key=lambda r: (r.name, _version_key(r.version)))

    def history(self, name: str) -> list[StatusChange]:
        """The status changes of ``name``, oldest first."""
        with self.session_factory() as session:
            rows = session.scalars(
                select(ModelStatusChange)
                .where(ModelStatusChange.model_name == name)
                .order_by(ModelStatusChange.id)
            ).all()
            return [
                StatusChange(
                    r.version,
                    r.action,
                    r.from_status,
                    r.to_status,
                    r.replaced_version,
                    r.actor,
                    r.reason,
                    r.occurred_at,
                )
                for r in rows
            ]

    def load(self, name: str, version: str | None = None) -> tuple[CreditModel, ModelMetadata]:
        """A version's fitted model and metadata (the champion when ``version`` is None)."""
        entry = self.champion(name) if version is None else self.get(name, version)
        return load_model(entry.artifact_dir), load_metadata(entry.artifact_dir)

    def load_champion(self, name: str) -> tuple[CreditModel, ModelMetadata]:
        """What serving scores with: the champion's model and metadata (incl. its version)."""
        return self.load(name, None)


def _detached(row: ModelVersion) -> RegisteredVersion:
    return RegisteredVersion(
        name=row.model_name,
        version=row.version,
        kind=row.kind,
        status=row.status,
        artifact_dir=Path(row.artifact_dir),
        trained_by=row.trained_by,
        trained_at=row.trained_at,
        metrics=dict(row.metrics or {}),
    )


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 30, version)


def _plain(value: Any) -> Any:
    """Metrics as JSON-safe plain values (NaN becomes None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
