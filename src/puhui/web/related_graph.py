"""二度关联图谱 · The two-hop related-party graph of the 360 profile.

Hop one: the firm's legal representative, its shareholders, its contact phone and its address.
Hop two: the other firms that share any of them (as legal representative, shareholder, phone or
address). Read from the lake's registry tables (``reg_enterprise``, ``reg_shareholder``,
``reg_person``), the same ones the profile's one-hop star and the sentinel's fraud-ring graph
read. Persons and phones are masked before anything leaves this module; the node count is
capped so a hub (a registration agent's address, a nominee shareholder) cannot flood the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from puhui.data.identifiers import mask_id_number, mask_phone
from puhui.data.lake import Lake
from puhui.data.lake.errors import TableNotInLakeError
from puhui.features.profile_parties import mask_name

MAX_NODES = 40  # the firm, its parties and the firms they lead to, together
MAX_FIRMS_PER_PARTY = 6
ADDRESS_CHARS = 12  # an address is shown cut short: enough to recognise, not a full location


@dataclass(frozen=True)
class Link:
    """A firm is tied to a party: ``kind`` is rep, holder, phone or address; ``party`` its id."""

    uscc: str
    kind: str
    party: str


@dataclass(frozen=True)
class GraphNode:
    key: str
    label: str
    kind: str  # firm-centre, person, firm-holder, phone, address, firm
    hop: int
    parent: str | None = None
    relation: str = ""  # the edge label towards the parent


@dataclass(frozen=True)
class RelatedGraph:
    """Nodes in drawing order (hop 0, then 1, then 2) and how many were left out by the cap."""

    nodes: list[GraphNode]
    edges: list[tuple[str, str]]
    omitted: int = 0
    counts: dict[str, int] = field(default_factory=dict)


RELATION_ZH = {"rep": "法定代表人", "holder": "股东", "phone": "共用电话", "address": "共用地址"}
RELATION_EN = {"rep": "legal rep", "holder": "shareholder", "phone": "phone", "address": "address"}


def _party_label(
    kind: str, party: str, firm_names: Mapping[str, str], person_names: Mapping[str, str]
) -> tuple[str, str]:
    """The masked label and node kind of a hop-one party."""
    if kind in {"rep", "holder"}:
        if party in firm_names:
            return firm_names[party], "firm-holder"  # a corporate shareholder: not personal data
        name = person_names.get(party)
        return (mask_name(name), "person") if name else (mask_id_number(party), "person")
    if kind == "phone":
        return mask_phone(party), "phone"
    return party[:ADDRESS_CHARS] + ("…" if len(party) > ADDRESS_CHARS else ""), "address"


def two_hop_graph(
    uscc: str,
    firm_name: str,
    links: Iterable[Link],
    *,
    firm_names: Mapping[str, str],
    person_names: Mapping[str, str],
    zh: bool = True,
    max_nodes: int = MAX_NODES,
    per_party: int = MAX_FIRMS_PER_PARTY,
) -> RelatedGraph:
    """Pure: the firm, its parties (hop 1) and the other firms tied to them (hop 2), capped.

    A person who is both legal representative and shareholder is one node (the first relation
    wins); a firm reached through two parties is drawn once, under the first.
    """
    relation = RELATION_ZH if zh else RELATION_EN
    by_party: dict[tuple[str, str], list[str]] = {}
    own: list[tuple[str, str]] = []
    for link in links:
        key = ("person" if link.kind in {"rep", "holder"} else link.kind, link.party)
        by_party.setdefault(key, [])
        if link.uscc == uscc:
            if all(k != key for _, k in own):
                own.append((link.kind, key))
        elif link.uscc not in by_party[key]:
            by_party[key].append(link.uscc)
    centre = f"firm:{uscc}"
    nodes = [GraphNode(centre, firm_name or uscc, "firm-centre", 0)]
    edges: list[tuple[str, str]] = []
    omitted = 0
    order = {"rep": 0, "holder": 1, "phone": 2, "address": 3}
    own.sort(key=lambda item: order.get(item[0], 9))
    for kind, key in own:
        if len(nodes) >= max_nodes:
            omitted += 1 + len(by_party.get(key, []))
            continue
        label, node_kind = _party_label(kind, key[1], firm_names, person_names)
        party_key = f"{key[0]}:{key[1]}"
        nodes.append(GraphNode(party_key, label, node_kind, 1, centre, relation[kind]))
        edges.append((centre, party_key))
    seen = {centre}
    for _kind, key in own:
        party_key = f"{key[0]}:{key[1]}"
        if not any(n.key == party_key for n in nodes):
            continue
        others = sorted(by_party.get(key, []))
        shown = 0
        for other in others:
            node_key = f"firm:{other}"
            if node_key in seen:
                continue
            if shown >= per_party or len(nodes) >= max_nodes:
                omitted += 1
                continue
            seen.add(node_key)
            nodes.append(
                GraphNode(node_key, firm_names.get(other, other), "firm", 2, party_key, "")
            )
            edges.append((party_key, node_key))
            shown += 1
    counts = {
        "parties": sum(1 for n in nodes if n.hop == 1),
        "firms": sum(1 for n in nodes if n.hop == 2),
    }
    return RelatedGraph(nodes, edges, omitted, counts)


def _scan(lake: Lake, table: str) -> pl.LazyFrame | None:
    try:
        return lake.scan(table)
    except TableNotInLakeError:
        return None


def read_links(
    lake: Lake, uscc: str, as_of: date
) -> tuple[list[Link], dict[str, str], dict[str, str]]:
    """The links of the firm and of every firm sharing one of its parties, with names.

    Returns (links, firm names by uscc, person names by id). Firms founded on or after
    ``as_of`` are left out, as in the profile's one-hop star."""
    firms = _scan(lake, "reg_enterprise")
    if firms is None:
        return [], {}, {}
    known = firms.filter(pl.col("founded_on") < as_of)
    holders = _scan(lake, "reg_shareholder")
    me = known.filter(pl.col("uscc") == uscc).collect()
    if me.is_empty():
        return [], {}, {}
    row = me.row(0, named=True)
    rep, phone, address = row.get("legal_rep_id"), row.get("contact_phone"), row.get("address")
    own_holders: list[str] = []
    if holders is not None:
        own_holders = (
            holders.filter(pl.col("uscc") == uscc).collect()["holder_id"].drop_nulls().to_list()
        )
    people = sorted({p for p in [rep, *own_holders] if isinstance(p, str)})
    links = [Link(uscc, "rep", rep)] if isinstance(rep, str) else []
    links += [Link(uscc, "holder", h) for h in own_holders]
    if isinstance(phone, str) and phone:
        links.append(Link(uscc, "phone", phone))
    if isinstance(address, str) and address:
        links.append(Link(uscc, "address", address))
    condition = pl.col("legal_rep_id").is_in(people)
    if isinstance(phone, str) and phone:
        condition = condition | (pl.col("contact_phone") == phone)
    if isinstance(address, str) and address:
        condition = condition | (pl.col("address") == address)
    related = (
        known.filter(condition & (pl.col("uscc") != uscc))
        .select("uscc", "name", "legal_rep_id", "contact_phone", "address")
        .collect()
    )
    names = {uscc: row.get("name") or uscc}
    for other in related.iter_rows(named=True):
        names[other["uscc"]] = other["name"]
        if other["legal_rep_id"] in people:
            links.append(Link(other["uscc"], "rep", other["legal_rep_id"]))
        if phone and other["contact_phone"] == phone:
            links.append(Link(other["uscc"], "phone", phone))
        if address and other["address"] == address:
            links.append(Link(other["uscc"], "address", address))
    if holders is not None and people:
        held = (
            holders.filter(pl.col("holder_id").is_in(people) & (pl.col("uscc") != uscc))
            .select("uscc", "holder_id")
            .collect()
        )
        founded = set(
            known.filter(pl.col("uscc").is_in(held["uscc"].to_list()))
            .select("uscc", "name")
            .collect()
            .iter_rows()
        )
        names.update(dict(founded))
        alive = {u for u, _ in founded}
        links += [Link(u, "holder", h) for u, h in held.iter_rows() if u in alive]
    corporate = [h for h in own_holders if h not in names]
    if corporate:
        found = firms.filter(pl.col("uscc").is_in(corporate)).select("uscc", "name").collect()
        names.update(dict(found.iter_rows()))
    persons: dict[str, str] = {}
    registry = _scan(lake, "reg_person")
    if registry is not None and people:
        found = registry.filter(pl.col("person_id").is_in(people)).select("person_id", "name")
        persons = {k: v for k, v in found.collect().iter_rows() if v}
    return links, names, persons
