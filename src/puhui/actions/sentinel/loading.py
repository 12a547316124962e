"""Reading the lake into the sentinel index's plain structures: firms, dated events per
party, registration counts, blacklist entries (phones hashed) and the firms fraud lists name."""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from puhui.data.lake import Lake
from puhui.data.lake.errors import TableNotInLakeError
from puhui.decisions.sentinel.blacklist import ListEntry

FRAUD_LIST_REASONS = {"团伙欺诈关联", "冒名申请", "外部欺诈情报", "代理IP"}


def hash_phone(phone: str | None) -> str | None:
    """The same salted hash origination stores (``phone_hash``), so raw phones stay out."""
    if not phone:
        return None
    return hashlib.sha256(f"puhui-phone:{phone}".encode()).hexdigest()


def read_table(lake: Lake, name: str, columns: Iterable[str] | None = None) -> pl.DataFrame:
    try:
        frame = lake.scan(name)
        if columns is not None:
            frame = frame.select(list(columns))
        return frame.collect()
    except TableNotInLakeError:
        return pl.DataFrame()


@dataclass
class Firm:
    uscc: str
    name: str
    legal_rep: str
    city: str
    founded_on: date
    registered_capital: float
    paid_in_ratio: float | None
    entity_type: str
    active: bool
    address: str
    contact_phone: str | None
    shareholders: list[str] = field(default_factory=list)
    # When a non-active status took effect (吊销/注销/迁出 date; None: undated or active): the
    # registry is a snapshot of today, so an application dated before it saw an active firm.
    status_since: date | None = None

    def active_on(self, day: date) -> bool:
        """Registered as active on ``day`` (a status dated d is observable from d + 1)."""
        return self.active or (self.status_since is not None and self.status_since >= day)


@dataclass
class Dated:
    """Events per party, sorted by date, for ``count since`` lookups."""

    days: dict[str, list[date]] = field(default_factory=lambda: defaultdict(list))
    rows: dict[str, list[Mapping[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, party: str, day: date, row: Mapping[str, Any]) -> None:
        self.days[party].append(day)
        self.rows[party].append(row)

    def sort(self) -> None:
        for party in list(self.days):
            order = sorted(range(len(self.days[party])), key=self.days[party].__getitem__)
            self.days[party] = [self.days[party][i] for i in order]
            self.rows[party] = [self.rows[party][i] for i in order]

    def before(self, party: str | None, on: date, since: date | None = None) -> list[Mapping]:
        if not party or party not in self.days:
            return []
        days = self.days[party]
        start = bisect_left(days, since) if since else 0
        return self.rows[party][start : bisect_left(days, on)]


def newest_rows(frame: pl.DataFrame, key: str) -> dict[str, dict[str, Any]]:
    if not frame.height:
        return {}
    newest = frame.sort("month").group_by(key).last()
    return {row[key]: row for row in newest.iter_rows(named=True)}


def registration_counts(
    firms: Mapping[str, Firm], persons: Mapping[str, Mapping[str, Any]], holdings: Mapping
) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {
        k: defaultdict(int)
        for k in ("address", "building", "phone", "phone_contact", "legal_rep", "holder")
    }
    for firm in firms.values():
        counts["address"][firm.address] += 1
        if "幢" in firm.address:
            counts["building"][firm.address.split("幢")[0]] += 1
        counts["legal_rep"][firm.legal_rep] += 1
        contact = hash_phone(firm.contact_phone)
        rep_phone = persons.get(firm.legal_rep, {}).get("phone")
        for phone in {contact, rep_phone} - {None}:
            counts["phone"][phone] += 1  # type: ignore[index]
        if contact:
            counts["phone_contact"][contact] += 1
    for holder, held in holdings.items():
        counts["holder"][holder] = len(held)
    return counts


def dated_events(lake: Lake) -> dict[str, Dated]:
    events = {
        k: Dated()
        for k in (
            "dishonest",
            "enforcement",
            "defendant",
            "penalty",
            "tax_rating",
            "ent_query",
            "person_query",
            "legal_rep_change",
        )
    }
    for row in read_table(lake, "court_dishonest").iter_rows(named=True):
        events["dishonest"].add(row["party_id"], row["listed_on"], row)
    for row in read_table(lake, "court_enforcement").iter_rows(named=True):
        events["enforcement"].add(row["party_id"], row["filed_on"], row)
    cases = read_table(lake, "court_case")
    if cases.height:
        for row in cases.filter(pl.col("party_role") == "defendant").iter_rows(named=True):
            events["defendant"].add(row["party_id"], row["filed_on"], row)
    for row in read_table(lake, "env_penalty").iter_rows(named=True):
        events["penalty"].add(row["uscc"], row["decided_on"], row)
    for row in read_table(lake, "tax_rating").iter_rows(named=True):
        events["tax_rating"].add(row["uscc"], row["published_on"], row)
    changes = read_table(lake, "reg_change_event")
    if changes.height:
        for row in changes.filter(pl.col("change_type") == "legal_rep").iter_rows(named=True):
            events["legal_rep_change"].add(row["uscc"], row["changed_on"], row)
    for name, kind, party in (
        ("bureau_enterprise_query", "ent_query", "uscc"),
        ("bureau_person_query", "person_query", "person_id"),
    ):
        frame = read_table(lake, name, [party, "queried_at"])
        if frame.height:
            for key, times in frame.group_by(party).agg(pl.col("queried_at").sort()).iter_rows():
                events[kind].days[key] = list(times)
                events[kind].rows[key] = [{}] * len(times)
    for dated in events.values():
        if dated is not events["ent_query"] and dated is not events["person_query"]:
            dated.sort()
    return events


def list_entries(
    lake: Lake, firms: Mapping[str, Firm], persons: Mapping[str, Mapping[str, Any]]
) -> list[ListEntry]:
    """blacklist_entry (phones hashed) and the courts' dishonest debtors, with versions."""
    entries = []
    frame = read_table(lake, "blacklist_entry")
    for row in frame.iter_rows(named=True):
        value = row["subject_value"]
        if row["subject_type"] == "phone":
            value = hash_phone(value)
        listed = row["listed_on"]
        firm = firms.get(value) if row["subject_type"] == "enterprise" else None
        entries.append(
            ListEntry(
                row["list_name"],
                row["subject_type"],
                value,
                listed,
                row["removed_on"],
                row["reason"],
                version=f"{listed.year}-{listed.month:02d}",
                name=firm.name if firm else None,
            )
        )
    for row in read_table(lake, "court_dishonest").iter_rows(named=True):
        firm = firms.get(row["party_id"])
        listed = row["listed_on"]
        entries.append(
            ListEntry(
                "court_dishonest",
                row["party_type"],
                row["party_id"],
                listed,
                row["removed_on"],
                f"失信被执行人: {row['behaviour']}",
                version=f"{listed.year}-{listed.month:02d}",
                name=firm.name if firm else None,
            )
        )
    return entries


def fraud_listed_firms(
    entries: Iterable[ListEntry],
    firms: Mapping[str, Firm],
    persons: Mapping[str, Mapping[str, Any]],
) -> dict[str, date]:
    """Firms a fraud list names (itself, its legal rep, its phones), with the first date."""
    by_value: dict[tuple[str, str], date] = {}
    for entry in entries:
        if entry.reason in FRAUD_LIST_REASONS:  # write-offs and dishonest debtors are credit
            key = (entry.subject_type, entry.value)
            by_value[key] = min(by_value.get(key, entry.listed_on), entry.listed_on)
    listed: dict[str, date] = {}
    for firm in firms.values():
        days = [
            by_value.get(("enterprise", firm.uscc)),
            by_value.get(("person", firm.legal_rep)),
            by_value.get(("phone", hash_phone(firm.contact_phone) or "")),
            by_value.get(("phone", persons.get(firm.legal_rep, {}).get("phone") or "")),
        ]
        found = [d for d in days if d is not None]
        if found:
            listed[firm.uscc] = min(found)
    return listed
