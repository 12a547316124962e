"""黑名单匹配 · blacklists: the central bank's (人行), the group's 神荼, the bank's own (内部) and
the courts' dishonest debtors, matched exactly and fuzzily, each hit explained.

Every entry carries its list, the list's version (the delivery it came in) and the dates it is
effective (listed on, removed on), so a replay sees the lists as they stood on the day of each
application. Exact matching is a dictionary lookup per identifier; fuzzy matching covers names
(rapidfuzz token-set similarity over listed firms' names, blocked by city so it stays fast) and
identifiers one edit away from a listed one (a mistyped or deliberately altered number).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

LIST_NAMES = {
    "pboc": "人民银行",
    "group_shentu": "集团神荼",
    "internal": "本行内部",
    "court_dishonest": "法院失信被执行人",
}
SUBJECTS = ("enterprise", "person", "phone", "device", "ip")


@dataclass(frozen=True)
class ListEntry:
    list_name: str
    subject_type: str
    value: str
    listed_on: date
    removed_on: date | None
    reason: str
    version: str = ""
    name: str | None = None  # the listed firm's or person's name, for fuzzy matching

    def effective(self, on: date) -> bool:
        return self.listed_on <= on and (self.removed_on is None or on < self.removed_on)


@dataclass(frozen=True)
class BlacklistHit:
    """One listing that matched, and why."""

    role: str  # enterprise, legal_rep, applicant, shareholder, phone, device, ip
    entry: ListEntry
    match: str  # exact, fuzzy_name, fuzzy_identifier
    similarity: float = 100.0

    def explain(self) -> str:
        how = {
            "exact": "精确匹配 exact",
            "fuzzy_name": f"名称近似 fuzzy name {self.similarity:.0f}",
            "fuzzy_identifier": "证照相差一位 one edit away",
        }[self.match]
        listed = LIST_NAMES.get(self.entry.list_name, self.entry.list_name)
        return (
            f"{self.role} on {listed} ({self.entry.list_name} v{self.entry.version or '-'}, "
            f"listed {self.entry.listed_on.isoformat()}): {self.entry.reason}; {how}"
        )


class BlacklistIndex:
    """Entries by (subject type, value), by identifier prefix for one-edit matching, by name."""

    def __init__(self, entries: Iterable[ListEntry], *, fuzzy_name_cutoff: float = 92.0) -> None:
        self.entries = list(entries)
        self.cutoff = fuzzy_name_cutoff
        self._exact: dict[tuple[str, str], list[ListEntry]] = defaultdict(list)
        self._prefix: dict[tuple[str, str], list[ListEntry]] = defaultdict(list)
        self._names: dict[str, list[ListEntry]] = defaultdict(list)
        for entry in self.entries:
            self._exact[(entry.subject_type, entry.value)].append(entry)
            if entry.subject_type in {"enterprise", "person", "phone"}:
                self._prefix[(entry.subject_type, _block(entry.value))].append(entry)
            if entry.name and entry.subject_type == "enterprise":
                self._names[_name_block(entry.name)].append(entry)
        self._name_choices = {
            block: [e.name or "" for e in items] for block, items in self._names.items()
        }

    def versions(self) -> dict[str, str]:
        """The newest version of each list (what a screening reports it used)."""
        latest: dict[str, str] = {}
        for entry in self.entries:
            latest[entry.list_name] = max(latest.get(entry.list_name, ""), entry.version)
        return latest

    def exact(
        self, subject_type: str, value: str | None, on: date, role: str
    ) -> list[BlacklistHit]:
        if not value:
            return []
        return [
            BlacklistHit(role, e, "exact")
            for e in self._exact.get((subject_type, value), ())
            if e.effective(on)
        ]

    def one_edit(
        self, subject_type: str, value: str | None, on: date, role: str
    ) -> list[BlacklistHit]:
        """Listed identifiers that differ from ``value`` by exactly one edit."""
        if not value:
            return []
        return [
            BlacklistHit(role, e, "fuzzy_identifier", 100.0 * (1 - 1 / max(len(value), 1)))
            for e in self._prefix.get((subject_type, _block(value)), ())
            if e.effective(on) and e.value != value and Levenshtein.distance(e.value, value) == 1
        ]

    def fuzzy_name(
        self, name: str | None, on: date, role: str = "enterprise"
    ) -> list[BlacklistHit]:
        """Listed firms whose names are near ``name`` (same city block)."""
        if not name:
            return []
        block = _name_block(name)
        choices = self._name_choices.get(block)
        if not choices:
            return []
        hits = []
        for _, score, index in process.extract(
            name, choices, scorer=fuzz.ratio, score_cutoff=self.cutoff, limit=3
        ):
            entry = self._names[block][index]
            if entry.effective(on) and entry.name != name:
                hits.append(BlacklistHit(role, entry, "fuzzy_name", float(score)))
        return hits


def _block(value: str) -> str:
    """Identifiers are compared within blocks of the same length and first six characters."""
    return f"{len(value)}:{value[:6]}"


def _name_block(name: str) -> str:
    """Firm names begin with their city (杭州…); compare within a city."""
    return name[:2]
