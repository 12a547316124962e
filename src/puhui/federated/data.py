"""Each party's own table: ``<data_dir>/party.parquet`` with ``id``, feature columns and, at the
bank, ``label`` (1 = default). Also the demo split: one synthetic population whose risk depends
on both sides, dealt into a bank table and a platform table with partly overlapping firms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from puhui.federated.errors import PartyDataError

PARTY_FILE = "party.parquet"
ID_COLUMN = "id"
LABEL_COLUMN = "label"
PLATFORM_PREFIXES = ("tax", "social", "utility")


@dataclass(frozen=True)
class PartyTable:
    """One party's identifiers, feature matrix (float, NaN = missing) and, at the bank, labels."""

    ids: list[str]
    features: np.ndarray
    feature_names: list[str]
    labels: np.ndarray | None

    def rows_for(self, ids: list[str]) -> np.ndarray:
        """Row positions of ``ids`` (each must be present)."""
        position = {identifier: row for row, identifier in enumerate(self.ids)}
        try:
            return np.asarray([position[identifier] for identifier in ids], dtype=np.int64)
        except KeyError as error:
            raise PartyDataError(f"id {error.args[0]!r} is not in this party's table") from error


def load_party(data_dir: Path, with_labels: bool) -> PartyTable:
    """The party's table from its own folder; refuses duplicates and missing columns."""
    path = Path(data_dir) / PARTY_FILE
    if not path.is_file():
        raise PartyDataError(f"party table not found at {path}")
    frame = pl.read_parquet(path)
    if ID_COLUMN not in frame.columns:
        raise PartyDataError(f"{path} has no {ID_COLUMN!r} column")
    if frame[ID_COLUMN].is_duplicated().any():
        raise PartyDataError(f"{path}: column {ID_COLUMN!r} has duplicate identifiers")
    labels = None
    if with_labels:
        if LABEL_COLUMN not in frame.columns:
            raise PartyDataError(f"{path} has no {LABEL_COLUMN!r} column (the bank holds labels)")
        labels = frame[LABEL_COLUMN].cast(pl.Float64).to_numpy()
    names = [name for name in frame.columns if name not in (ID_COLUMN, LABEL_COLUMN)]
    if not names:
        raise PartyDataError(f"{path} has no feature columns")
    features = frame.select(pl.col(names).cast(pl.Float64)).to_numpy()
    return PartyTable(frame[ID_COLUMN].cast(pl.Utf8).to_list(), features, names, labels)


def write_party(
    data_dir: Path, ids: list[str], features: dict[str, np.ndarray], labels=None
) -> Path:
    """Write a party table into its folder (used by the demo, tests and benchmarks)."""
    columns: dict[str, object] = {ID_COLUMN: ids, **features}
    if labels is not None:
        values = np.asarray(labels, dtype=np.float64)
        # NaN marks a row to score only (today's firms have no outcome yet)
        columns[LABEL_COLUMN] = values if np.isnan(values).any() else values.astype(np.int8)
    path = Path(data_dir) / PARTY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(columns).write_parquet(path)
    return path


def split_synthetic(
    bank_dir: Path,
    platform_dir: Path,
    firms: int = 6000,
    bank_features: int = 20,
    platform_features: int = 20,
    overlap: float = 0.8,
    seed: int = 20260601,
) -> dict[str, int]:
    """Deal a synthetic population into a bank table and a platform table.

    Default risk follows a logistic model of correlated bank and platform signals, so the
    platform's columns add lift. The bank sees ``overlap`` of the platform's firms plus firms of
    its own; the platform also has firms the bank never met. Returns the row counts.
    """
    rng = np.random.default_rng(seed)
    total = bank_features + platform_features
    mixing = np.eye(total) + 0.2 * rng.normal(size=(total, total))
    latent = rng.normal(size=(firms, total)) @ mixing
    beta = 0.25 * rng.normal(size=total)
    logit = latent @ beta - 2.5
    labels = (rng.random(firms) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    ids = np.array([f"91330{index:013d}" for index in rng.permutation(10**7)[:firms]])

    in_platform = rng.random(firms) < 0.85
    in_bank = np.where(in_platform, rng.random(firms) < overlap, True)
    bank_names = [f"bank_{index:02d}" for index in range(bank_features)]
    platform_names = [
        f"{PLATFORM_PREFIXES[index % 3]}_{index:02d}" for index in range(platform_features)
    ]
    write_party(
        bank_dir,
        ids[in_bank].tolist(),
        {name: latent[in_bank, col] for col, name in enumerate(bank_names)},
        labels[in_bank],
    )
    write_party(
        platform_dir,
        ids[in_platform].tolist(),
        {name: latent[in_platform, bank_features + col] for col, name in enumerate(platform_names)},
    )
    return {
        "bank": int(in_bank.sum()),
        "platform": int(in_platform.sum()),
        "both": int((in_bank & in_platform).sum()),
    }
