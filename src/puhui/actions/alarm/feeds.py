"""Did each source's feed arrive for the scan date? (数据源到位检查)

A monthly table is present when its expected month (the anchor month after the reporting lag)
is in the lake; an event table when its newest observable event is recent enough for that
source (rare events such as tax ratings are allowed long gaps). A missing feed is recorded as
missing and its signals are left unevaluated, never read as "no risk".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from puhui.data.lake import Lake
from puhui.decisions.alarm.spec import SignalLibrary
from puhui.features.timing import anchor_month, observation_cutoff

# Longest normal gap between two events of a table before its feed counts as missing (days).
EVENT_STALE_DAYS: dict[str, int] = {
    "tax_rating": 800,  # published once a year
    "customs_rating": 800,
    "court_dishonest": 365,
    "env_penalty": 365,
    "court_enforcement": 90,
    "court_case": 60,
    "reg_change_event": 60,
    "bureau_enterprise_query": 30,
    "bureau_person_query": 30,
}
DEFAULT_STALE_DAYS = 60


@dataclass(frozen=True)
class FeedStatus:
    table: str
    present: bool
    expected_period: date
    latest_period: date | None


def feed_status(table: str, monthly: bool, latest: date | None, expected: date) -> FeedStatus:
    """Pure rule: the feed is there when its latest period reaches the expected one."""
    return FeedStatus(table, latest is not None and latest >= expected, expected, latest)


class FeedCheck(Protocol):
    def check(self, as_of: date) -> list[FeedStatus]: ...


class LakeFeeds:
    """Feed status from what the lake holds (the default)."""

    def __init__(self, lake: Lake, library: SignalLibrary, lags: Mapping[str, int]) -> None:
        self.lake = lake
        self.library = library
        self.lags = lags

    def _kinds(self) -> dict[str, tuple[bool, str | None]]:
        kinds: dict[str, tuple[bool, str | None]] = {}
        for family in self.library.families:
            kinds[family.table] = (family.kind == "monthly", family.date)
        return kinds

    _connection: Any = None
    _state: str | None = None

    def _connect(self) -> Any:
        """One connection per lake state (a daily job checks every day in one process)."""
        from puhui.features.store import lake_state

        state = lake_state(self.lake)
        if self._connection is None or state != self._state:
            if self._connection is not None:
                self._connection.close()
            self._connection, self._state = self.lake.connect(), state
        return self._connection

    def check(self, as_of: date) -> list[FeedStatus]:
        connection = self._connect()
        present_views = {
            r[0] for r in connection.execute("select view_name from duckdb_views()").fetchall()
        }
        out = []
        for table, (monthly, column) in sorted(self._kinds().items()):
            lag = self.lags.get(table, 0)
            if monthly:
                expected = anchor_month(as_of, lag)
                sql = f"select max(month) from {table} where month <= DATE '{expected}'"
            else:
                cutoff = observation_cutoff(as_of, lag)
                stale = EVENT_STALE_DAYS.get(table, DEFAULT_STALE_DAYS)
                expected = cutoff - timedelta(days=stale)
                sql = (
                    f"select max(cast({column} as date)) from {table} "
                    f"where cast({column} as date) < DATE '{cutoff}'"
                )
            latest = connection.execute(sql).fetchall()[0][0] if table in present_views else None
            if hasattr(latest, "date") and not isinstance(latest, date):
                latest = latest.date()
            out.append(feed_status(table, monthly, latest, expected))
        return out


class WithMissing:
    """A feed check that reports some tables missing on some days (tests, drills)."""

    def __init__(self, inner: FeedCheck, missing: Mapping[date, Sequence[str]]) -> None:
        self.inner = inner
        self.missing = missing

    def check(self, as_of: date) -> list[FeedStatus]:
        gone = set(self.missing.get(as_of, ()))
        return [
            FeedStatus(s.table, False, s.expected_period, None) if s.table in gone else s
            for s in self.inner.check(as_of)
        ]
