"""Everything a scan needs, from the settings (read once at the edge)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from puhui.actions.alarm.ewpd import EarlyWarningPD
from puhui.actions.alarm.feeds import FeedCheck, LakeFeeds
from puhui.actions.alarm.notify import Notifier
from puhui.actions.alarm.scan import AlarmScanner
from puhui.actions.alarm.tasks import TaskDesk
from puhui.data.lake import Lake
from puhui.decisions.alarm.combine import Weights
from puhui.decisions.alarm.fitting import FittedTerms
from puhui.decisions.alarm.policy import load_policy
from puhui.decisions.alarm.spec import load_signal_library
from puhui.settings import Settings

WEIGHTS_FILE = "weights.json"


def alarm_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "alarm"


def load_weights(folder: Path) -> Weights:
    """Learned weights (``puhui alarm learn``), or neutral ones before any learning."""
    path = folder / WEIGHTS_FILE
    if not path.exists():
        return Weights.neutral()
    raw = json.loads(path.read_text(encoding="utf-8"))
    pairs = [tuple(p) for p in raw.get("combinations", [])]
    return Weights(
        dict(raw.get("signal", {})),
        tuple(pairs),  # type: ignore[arg-type]
        raw.get("score_cutoffs"),
        FittedTerms.from_dict(raw["fitted"]) if raw.get("fitted") else None,
        raw.get("pd_cutoffs"),
    )


def feature_lags() -> dict[str, int]:
    from puhui.features.catalog import load_feature_catalog

    return dict(load_feature_catalog().lags)


@dataclass
class AlarmRuntime:
    scanner: AlarmScanner
    desk: TaskDesk
    sessions: sessionmaker[Session]


@contextmanager
def open_alarm(
    settings: Settings,
    *,
    notifiers: Sequence[Notifier] = (),
    feeds: FeedCheck | None = None,
    with_pd: bool = True,
) -> Iterator[AlarmRuntime]:
    from puhui.data.store.engine import make_engine, make_session_factory
    from puhui.data.store.migrate import require_up_to_date
    from puhui.models.registry import ModelRegistry

    engine = make_engine(settings.resolved_store_url)
    try:
        require_up_to_date(engine)
        sessions = make_session_factory(engine)
        lake = Lake(settings.lake_dir)
        library = load_signal_library()
        policy = load_policy()
        lags = feature_lags()
        folder = alarm_dir(settings)
        registry = ModelRegistry(sessions, Path(settings.data_dir) / "models")
        ew_pd = EarlyWarningPD(registry, Path(settings.data_dir) / "features") if with_pd else None
        scanner = AlarmScanner(
            lake=lake,
            sessions=sessions,
            library=library,
            policy=policy,
            lags=lags,
            work_dir=folder,
            feeds=feeds or LakeFeeds(lake, library, lags),
            ew_pd=ew_pd,
            weights=load_weights(folder),
            notifiers=notifiers,
        )
        yield AlarmRuntime(scanner, TaskDesk(policy, notifiers), sessions)
    finally:
        engine.dispose()
