"""哨兵索引 · the sentinel's in-memory index, built from the lake once at start.

Registration, people, court and bureau events, blacklists, the firm-month panel, the graph and
the application history are held in dictionaries and sorted lists, so screening one application
is lookups and a short graph walk. The same ``application_features`` serves replay (walking
the lake's applications in time order, recording each after it is screened) and real time
(the newest panel month per firm). Honest precomputation: the registration graph's Louvain
communities are computed once when the index is built (a nightly job in a bank); everything an
application itself brings (its phone, device, IP address, velocity) is added as it arrives.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from puhui.actions.sentinel.loading import (
    FRAUD_LIST_REASONS,
    Dated,
    Firm,
    dated_events,
    fraud_listed_firms,
    hash_phone,
    list_entries,
    newest_rows,
    read_table,
    registration_counts,
)
from puhui.data.lake import Lake
from puhui.data.reference import cities
from puhui.decisions.sentinel.blacklist import BlacklistHit, BlacklistIndex
from puhui.decisions.sentinel.graph import FraudGraph, Link
from puhui.decisions.sentinel.history import ApplicationHistory, PastApplication
from puhui.decisions.sentinel.panel import firm_month_panel, person_month_panel

PERSON_PANEL = ("overdue_accounts", "overdue_amount", "worst_status_24m", "card_utilisation")
FIRM_PANEL_TABLES = (
    "tax_monthly",
    "utility_monthly",
    "social_monthly",
    "bank_account_monthly",
    "bureau_enterprise_monthly",
)


# The province's address plan: 198.18.0.0/15 (2**17 addresses), sliced by city.
IP_SPACE = 2**17


def ip_city(ip: str | None) -> str | None:
    """IP geolocation (stand-in for the bank's IP database): the province's address plan gives
    each prefecture city a contiguous slice of 198.18.0.0/15, in ``regions.yaml`` order."""
    if not ip or not ip.startswith("198."):
        return None
    try:
        _, second, third, fourth = (int(p) for p in ip.split("."))
    except ValueError:
        return None
    offset = (second - 18) * 65_536 + third * 256 + fourth
    city_list = cities()
    index = offset // (IP_SPACE // len(city_list))
    return city_list[index].code[:4] if 0 <= index < len(city_list) else None


@dataclass
class SentinelIndex:
    firms: dict[str, Firm]
    persons: dict[str, dict[str, Any]]
    counts: dict[str, dict[str, int]]
    events: dict[str, Dated]
    blacklist: BlacklistIndex
    graph: FraudGraph
    history: ApplicationHistory
    firm_panel: pl.DataFrame
    person_panel: pl.DataFrame
    listed_on: dict[str, date]
    as_of: date
    latest_firm: dict[str, dict[str, Any]] = field(default_factory=dict)
    latest_person: dict[str, dict[str, Any]] = field(default_factory=dict)
    lake_applications: pl.DataFrame = field(default_factory=pl.DataFrame)
    phone_firms: dict[str, set[str]] = field(default_factory=dict)
    # Per-firm parts that depend only on the index and the day (see ``_firm_day``); set to
    # False to compute them on every call (the tests compare both ways).
    memoise: bool = True
    _memo_day: date | None = field(default=None, repr=False)
    _firm_day_memo: dict[str, _FirmDay] = field(default_factory=dict, repr=False)
    _graph_memo: dict[str, dict[str, float | None]] = field(default_factory=dict, repr=False)
    _panel_memo: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    # --- building --------------------------------------------------------------------------

    @classmethod
    def build(cls, lake: Lake, *, as_of: date | None = None) -> SentinelIndex:
        """Everything from the lake (``truth_*`` is never read)."""
        registry = read_table(lake, "reg_enterprise")
        persons_frame = read_table(lake, "reg_person")
        holders = read_table(lake, "reg_shareholder")
        firms: dict[str, Firm] = {}
        for row in registry.iter_rows(named=True):
            capital = float(row["registered_capital"] or 0)
            paid = row["paid_in_capital"]
            firms[row["uscc"]] = Firm(
                uscc=row["uscc"],
                name=row["name"],
                legal_rep=row["legal_rep_id"],
                city=str(row["division_code"])[:4],
                founded_on=row["founded_on"],
                registered_capital=capital,
                paid_in_ratio=float(paid) / capital if paid is not None and capital else None,
                entity_type=row["entity_type"],
                active=row["status"] == "active",
                address=row["address"],
                contact_phone=row["contact_phone"],
                status_since=row.get("status_since"),
            )
        holdings: dict[str, set[str]] = defaultdict(set)
        for row in holders.iter_rows(named=True):
            if row["uscc"] in firms:
                firms[row["uscc"]].shareholders.append(row["holder_id"])
                holdings[row["holder_id"]].add(row["uscc"])
        persons: dict[str, dict[str, Any]] = {
            row["person_id"]: {"birth": row["birth_date"], "phone": hash_phone(row["phone"])}
            for row in persons_frame.iter_rows(named=True)
        }
        for row in read_table(lake, "bureau_person").iter_rows(named=True):
            persons.setdefault(row["person_id"], {})["spouse"] = row["spouse_id"]

        counts = registration_counts(firms, persons, holdings)
        events = dated_events(lake)
        entries = list_entries(lake, firms, persons)
        blacklist = BlacklistIndex(entries)
        listed_on = fraud_listed_firms(entries, firms, persons)

        links = []
        for firm in firms.values():
            links.append(Link(firm.uscc, "person", firm.legal_rep))
            links += [Link(firm.uscc, "person", h) for h in firm.shareholders]
            links.append(Link(firm.uscc, "phone", hash_phone(firm.contact_phone) or ""))
            links.append(Link(firm.uscc, "address", firm.address))
        graph = FraudGraph(links, {f.uscc: f.legal_rep for f in firms.values()})
        graph.detect_communities()

        tables = {name: read_table(lake, name) for name in FIRM_PANEL_TABLES}
        industries = registry.select("uscc", "industry_code")
        firm_panel = firm_month_panel(tables, industries)
        person_panel = person_month_panel(read_table(lake, "bureau_person_monthly"))
        applications = read_table(lake, "app_application").sort("applied_at")
        last_month = firm_panel["month"].max() if firm_panel.height else None
        index = cls(
            firms=firms,
            persons=persons,
            counts=counts,
            events=events,
            blacklist=blacklist,
            graph=graph,
            history=ApplicationHistory(),
            firm_panel=firm_panel,
            person_panel=person_panel,
            listed_on=listed_on,
            as_of=as_of or (last_month + timedelta(days=40) if last_month else date.today()),
            lake_applications=applications,
        )
        for firm in firms.values():
            for phone in {
                hash_phone(firm.contact_phone),
                persons.get(firm.legal_rep, {}).get("phone"),
            }:
                if phone:
                    index.phone_firms.setdefault(phone, set()).add(firm.uscc)
        index.latest_firm = newest_rows(firm_panel, "uscc")
        index.latest_person = newest_rows(person_panel, "person_id")
        return index

    # --- one application -------------------------------------------------------------------

    def past(self, row: Mapping[str, Any]) -> PastApplication:
        """A lake application row as the history keeps it."""
        at = row["applied_at"]
        return PastApplication(
            at=at.timestamp(),
            uscc=row["uscc"],
            device=row.get("device_id"),
            ip=row.get("ip_address"),
            phone=hash_phone(row.get("phone")),
            person=row.get("applicant_id"),
            channel=row.get("channel"),
            staff=row.get("staff_id"),
            product=row.get("product_code"),
            amount=float(row["requested_amount"]) if row.get("requested_amount") else None,
            decision=row.get("decision"),
        )

    def application_features(
        self, application: PastApplication, applicant_id: str | None
    ) -> tuple[dict[str, Any], list[BlacklistHit]]:
        """Every feature that does not come from the monthly panel or a model."""
        at = datetime.fromtimestamp(application.at, UTC)
        local = at + timedelta(hours=8)
        day = local.date()
        firm = self.firms.get(application.uscc)
        row: dict[str, Any] = {
            "channel": application.channel,
            "product_code": application.product,
            "requested_amount": application.amount,
            "apply_hour": float(local.hour),
            "is_weekend": local.weekday() >= 5,
            "staff_referred": application.staff is not None,
        }
        rep = firm.legal_rep if firm else None
        row.update(self.history.features(application, self._same_owner(rep)))
        parts = self._firm_day(application.uscc, firm, day)
        row["applicant_is_legal_rep"] = None if applicant_id is None else applicant_id == rep
        row["phone_is_legal_rep"] = (
            application.phone == parts.rep_phone if application.phone else None
        )
        row["phone_is_contact"] = (
            application.phone == parts.contact_phone if application.phone else None
        )
        row["phone_known"] = (
            bool(row["phone_is_legal_rep"] or row["phone_is_contact"])
            if application.phone
            else None
        )
        city = ip_city(application.ip)
        row["ip_city_mismatch"] = (city != firm.city) if city and firm else None
        # Other firms on the phone, not counting firms of the same legal representative
        # (one person heading several firms shares a phone honestly).
        registered = {
            u
            for u in self.phone_firms.get(application.phone or "", ())
            if u != application.uscc and self.firms[u].legal_rep != rep
        }
        row["phone_other_firms"] = (
            float(len(registered) + row.pop("phone_app_other_firms")) if application.phone else None
        )
        row.update(parts.registration)
        row.update(self._bureau_queries(application.uscc, rep, at))
        row.update(parts.legal)
        hits = list(parts.blacklist_hits)
        hits += self._blacklist_application(application, firm, applicant_id, day)
        row.update(_blacklist_features(hits, self.blacklist, firm, day))
        row.update(self._graph_features(application.uscc, day))
        return row, hits

    def _firm_day(self, uscc: str, firm: Firm | None, day: date) -> _FirmDay:
        """What registration, court and bureau events and the firm-side blacklist checks say
        about a firm on ``day``: none of it depends on the application or on recorded
        applications, so it is computed once per firm per day."""
        if not self.memoise:
            return self._compute_firm_day(uscc, firm, day)
        self._start_day(day)
        parts = self._firm_day_memo.get(uscc)
        if parts is None:
            parts = self._firm_day_memo[uscc] = self._compute_firm_day(uscc, firm, day)
        return parts

    def _compute_firm_day(self, uscc: str, firm: Firm | None, day: date) -> _FirmDay:
        rep = firm.legal_rep if firm else None
        rep_info = self.persons.get(rep or "", {})
        birth = rep_info.get("birth")
        changes = self.events["legal_rep_change"].before(uscc, day, day - timedelta(days=180))
        registration: dict[str, Any] = {
            "legal_rep_age": (day - birth).days / 365.25 if birth else None,
            "legal_rep_firms": float(self.counts["legal_rep"].get(rep or "", 0)),
            "legal_rep_changed_180d": bool(changes),
        }
        registration.update(self._firm_static(firm, day))
        return _FirmDay(
            rep_phone=rep_info.get("phone"),
            contact_phone=hash_phone(firm.contact_phone) if firm else None,
            registration=registration,
            legal=self._legal(uscc, rep, day),
            blacklist_hits=tuple(self._blacklist_firm(uscc, firm, day)),
        )

    def _graph_features(self, uscc: str, day: date) -> dict[str, float | None]:
        """The graph walk, kept until the graph or the fraud listings change (``record``) or
        the day does (ages and listings are as of the day)."""
        if self.memoise:
            self._start_day(day)
            features = self._graph_memo.get(uscc)
            if features is not None:
                return features
        known = lambda u: (d := self.listed_on.get(u)) is not None and d <= day  # noqa: E731
        features = self.graph.features(uscc, _AgeView(self.firms, day), known)
        if self.memoise:
            self._graph_memo[uscc] = features
        return features

    def prepare(self, day: date) -> None:
        """Fill the per-firm parts for every firm on ``day`` (at start-up, so the first
        request for a firm does not pay for them)."""
        if not self.memoise:
            return
        for uscc, firm in self.firms.items():
            self._firm_day(uscc, firm, day)
            self._graph_features(uscc, day)

    def _start_day(self, day: date) -> None:
        if day != self._memo_day:
            self._memo_day = day
            self._firm_day_memo.clear()
            self._graph_memo.clear()

    def _same_owner(self, rep: str | None) -> Callable[[str], bool]:
        firms = self.firms
        return lambda uscc: rep is not None and uscc in firms and firms[uscc].legal_rep == rep

    def record(self, application: PastApplication, hits: list[BlacklistHit]) -> None:
        """After screening: the application joins the history and the graph."""
        self.history.record(application)
        for kind, value in (
            ("phone", application.phone),
            ("device", application.device),
            ("ip", application.ip),
        ):
            if value:
                self.graph.add(Link(application.uscc, kind, value))
        self._graph_memo.clear()  # the graph and the listings below change
        for hit in hits:
            if hit.entry.reason in FRAUD_LIST_REASONS and hit.match == "exact":
                current = self.listed_on.get(application.uscc)
                if current is None or hit.entry.listed_on < current:
                    self.listed_on[application.uscc] = hit.entry.listed_on

    def _firm_static(self, firm: Firm | None, day: date) -> dict[str, Any]:
        if firm is None:
            return {}
        building = firm.address.split("幢")[0] if "幢" in firm.address else None
        return {
            "firm_age_months": (day - firm.founded_on).days / 30.44,
            "registered_capital": firm.registered_capital,
            "paid_in_ratio": firm.paid_in_ratio,
            "entity_type": firm.entity_type,
            "status_active": firm.active_on(day),
            "address_firms": float(self.counts["address"].get(firm.address, 0)),
            "building_firms": float(self.counts["building"].get(building, 1)) if building else 1.0,
            "contact_phone_firms": float(
                self.counts["phone_contact"].get(hash_phone(firm.contact_phone) or "", 1)
            )
            - 1.0,
            "shareholder_max_firms": float(
                max((self.counts["holder"].get(h, 0) for h in firm.shareholders), default=0)
            ),
        }

    def _bureau_queries(self, uscc: str, rep: str | None, at: datetime) -> dict[str, float]:
        def count(kind: str, party: str | None, days: int) -> float:
            if not party:
                return 0.0
            times = self.events[kind].days.get(party, [])
            return float(bisect_left(times, at) - bisect_right(times, at - timedelta(days=days)))

        return {
            "bureau_ent_queries_30d": count("ent_query", uscc, 30),
            "bureau_ent_queries_90d": count("ent_query", uscc, 90),
            "bureau_rep_queries_30d": count("person_query", rep, 30),
        }

    def _legal(self, uscc: str, rep: str | None, day: date) -> dict[str, Any]:
        def listed(party: str | None) -> bool:
            return any(
                r["removed_on"] is None or r["removed_on"] > day
                for r in self.events["dishonest"].before(party, day)
            )

        enforcements = [
            r
            for r in self.events["enforcement"].before(uscc, day)
            if r["closed_on"] is None or r["closed_on"] > day
        ]
        penalties = self.events["penalty"].before(uscc, day, day - timedelta(days=730))
        ratings = self.events["tax_rating"].before(uscc, day)
        return {
            "firm_dishonest": listed(uscc),
            "rep_dishonest": listed(rep),
            "open_enforcements": float(len(enforcements)),
            "enforcement_amount": float(sum(float(r["amount"]) for r in enforcements)),
            "defendant_cases_12m": float(
                len(self.events["defendant"].before(uscc, day, day - timedelta(days=365)))
            ),
            "rep_enforcements": float(len(self.events["enforcement"].before(rep, day))),
            "env_penalties_24m": float(len(penalties)),
            "env_suspended": any(r["production_suspended"] for r in penalties),
            "tax_rating": ratings[-1]["rating"] if ratings else None,
        }

    def _blacklist_firm(self, uscc: str, firm: Firm | None, day: date) -> list[BlacklistHit]:
        """The firm, its legal representative, its name and its shareholders."""
        b = self.blacklist
        hits = b.exact("enterprise", uscc, day, "enterprise")
        hits += b.one_edit("enterprise", uscc, day, "enterprise")
        if firm:
            hits += b.exact("person", firm.legal_rep, day, "legal_rep")
            hits += b.one_edit("person", firm.legal_rep, day, "legal_rep")
            hits += b.fuzzy_name(firm.name, day)
            for holder in firm.shareholders:
                if holder != firm.legal_rep:
                    hits += b.exact("person", holder, day, "shareholder")
                    hits += b.exact("enterprise", holder, day, "shareholder")
        return hits

    def _blacklist_application(
        self,
        application: PastApplication,
        firm: Firm | None,
        applicant_id: str | None,
        day: date,
    ) -> list[BlacklistHit]:
        """What the application brings: the applicant, phone, device and IP address."""
        b = self.blacklist
        hits: list[BlacklistHit] = []
        if applicant_id and (firm is None or applicant_id != firm.legal_rep):
            hits += b.exact("person", applicant_id, day, "applicant")
        hits += b.exact("phone", application.phone, day, "phone")
        hits += b.exact("device", application.device, day, "device")
        hits += b.exact("ip", application.ip, day, "ip")
        return hits

    # --- real time -------------------------------------------------------------------------

    def panel_row(self, uscc: str) -> dict[str, Any]:
        """The newest panel month of a firm with its legal rep's and spouse's credit (a fresh
        dict each call; the panel is fixed for the index's life, so it is assembled once)."""
        if not self.memoise:
            return self._panel_row(uscc)
        row = self._panel_memo.get(uscc)
        if row is None:
            row = self._panel_memo[uscc] = self._panel_row(uscc)
        return dict(row)

    def _panel_row(self, uscc: str) -> dict[str, Any]:
        row = dict(self.latest_firm.get(uscc, {}))
        firm = self.firms.get(uscc)
        rep = firm.legal_rep if firm else None
        spouse = self.persons.get(rep or "", {}).get("spouse")
        row.update(_person_columns("rep", self.latest_person.get(rep or "", {})))
        row.update(_person_columns("spouse", self.latest_person.get(spouse or "", {})))
        return row


@dataclass(frozen=True)
class _FirmDay:
    """A firm's application-independent features on one day, and its firm-side listings."""

    rep_phone: str | None
    contact_phone: str | None
    registration: dict[str, Any]
    legal: dict[str, Any]
    blacklist_hits: tuple[BlacklistHit, ...]


class _AgeView(Mapping[str, float]):
    """Firm ages on one day, computed on demand for the graph walk."""

    def __init__(self, firms: Mapping[str, Firm], day: date) -> None:
        self.firms, self.day = firms, day

    def __getitem__(self, uscc: str) -> float:
        return (self.day - self.firms[uscc].founded_on).days / 30.44

    def get(self, uscc: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[uscc] if uscc in self.firms else default

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.firms)

    def __len__(self) -> int:
        return len(self.firms)


def _person_columns(prefix: str, row: Mapping[str, Any]) -> dict[str, Any]:
    names = {
        "overdue_accounts": f"{prefix}_overdue_accounts",
        "overdue_amount": f"{prefix}_overdue_amount",
        "worst_status_24m": f"{prefix}_worst_24m",
        "card_utilisation": f"{prefix}_card_utilisation",
    }
    out = {names[k]: row.get(k) for k in PERSON_PANEL}
    if prefix == "spouse":
        out.pop("spouse_overdue_amount")
        out.pop("spouse_card_utilisation")
    return out


def _blacklist_features(
    hits: list[BlacklistHit], blacklist: BlacklistIndex, firm: Firm | None, day: date
) -> dict[str, Any]:
    exact = {h.role for h in hits if h.match == "exact"}
    fuzzy_names = [h.similarity for h in hits if h.match == "fuzzy_name"]
    return {
        "bl_enterprise": "enterprise" in exact,
        "bl_legal_rep": "legal_rep" in exact,
        "bl_applicant": "applicant" in exact,
        "bl_phone": "phone" in exact,
        "bl_device": "device" in exact,
        "bl_ip": "ip" in exact,
        "bl_shareholder": "shareholder" in exact,
        "bl_fuzzy_name": max(fuzzy_names, default=0.0),
        "bl_fuzzy_identifier": any(h.match == "fuzzy_identifier" for h in hits),
        "bl_hits": float(sum(h.match == "exact" for h in hits)),
        "bl_fraud_hits": float(
            sum(h.match == "exact" and h.entry.reason in FRAUD_LIST_REASONS for h in hits)
        ),
    }
