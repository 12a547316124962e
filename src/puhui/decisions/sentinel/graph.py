"""关联网络 · the fraud-ring graph: firms linked through the people, phones, addresses, devices
and IP addresses they share (networkx).

Nodes are ``firm:<uscc>`` and the things firms share (``person:``, ``phone:``, ``address:``,
``device:``, ``ip:``). Registration gives legal representatives, shareholders, contact phones
and addresses; each application adds its phone, device and IP address as it arrives, so a ring
applying in one wave lights up while it applies. Per firm: the connected component (firms,
young firms, listed firms), firms sharing a phone or a device, the registration community
(Louvain, computed nightly on the registration graph), a ring score and the hops to the nearest
known fraud (a firm already on a fraud list that day).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import networkx as nx

MAX_NODES = 400  # a component walk stops here (a giant component is not a ring)
MAX_FRAUD_HOPS = 4
YOUNG_MONTHS = 18.0


@dataclass(frozen=True)
class Link:
    """A firm shares a thing (``kind``: person, phone, address, device, ip)."""

    uscc: str
    kind: str
    value: str


def firm_node(uscc: str) -> str:
    return f"firm:{uscc}"


class FraudGraph:
    """The shared-identifier graph, growing as applications arrive."""

    def __init__(self, links: Iterable[Link] = (), rep_of: Mapping[str, str] | None = None) -> None:
        self.graph = nx.Graph()
        self.rep_of = dict(rep_of or {})
        self.community_size: dict[str, int] = {}
        for link in links:
            self.add(link)

    def add(self, link: Link) -> None:
        if link.value:
            self.graph.add_edge(firm_node(link.uscc), f"{link.kind}:{link.value}")

    def detect_communities(self, seed: int = 7) -> None:
        """Louvain communities within each multi-firm component (nightly, on registration)."""
        sizes: dict[str, int] = {}
        for component in nx.connected_components(self.graph):
            firms = [n for n in component if n.startswith("firm:")]
            if len(firms) < 3 or len(component) > 5_000:
                for node in firms:
                    sizes[node] = len(firms)
                continue
            for community in nx.community.louvain_communities(
                _ordered_subgraph(self.graph, component), seed=seed
            ):
                members = [n for n in community if n.startswith("firm:")]
                for node in members:
                    sizes[node] = len(members)
        self.community_size = sizes

    def features(
        self,
        uscc: str,
        age_months: Mapping[str, float],
        known_fraud: Callable[[str], bool],
    ) -> dict[str, float | None]:
        """Component, sharing, community, ring score and distance to known fraud for a firm."""
        start = firm_node(uscc)
        if start not in self.graph:
            return {
                "net_component_firms": 1.0,
                "net_young_firms": float(age_months.get(uscc, 99) < YOUNG_MONTHS),
                "net_shared_phone_firms": 0.0,
                "net_shared_device_firms": 0.0,
                "net_community_firms": 1.0,
                "net_ring_score": 0.0,
                "net_fraud_distance": None,
                "net_listed_in_component": float(known_fraud(uscc)),
            }
        depth = {start: 0}
        queue = deque([start])
        firms: list[str] = []
        fraud_distance: float | None = None
        while queue and len(depth) < MAX_NODES:
            node = queue.popleft()
            if node.startswith("firm:"):
                firms.append(node[5:])
                if fraud_distance is None and node != start and known_fraud(node[5:]):
                    fraud_distance = depth[node] / 2
            for neighbour in self.graph.adj[node]:
                if neighbour not in depth:
                    depth[neighbour] = depth[node] + 1
                    queue.append(neighbour)
        if fraud_distance is not None and fraud_distance > MAX_FRAUD_HOPS:
            fraud_distance = None
        # Firms sharing a phone or device, not counting firms of the same legal representative.
        shared: dict[str, set[str]] = {"phone": set(), "device": set()}
        rep = self.rep_of.get(uscc)
        for thing in self.graph.adj[start]:
            kind = thing.split(":", 1)[0]
            if kind in shared:
                shared[kind] |= {
                    n[5:]
                    for n in self.graph.adj[thing]
                    if n != start and (rep is None or self.rep_of.get(n[5:]) != rep)
                }
        young = sum(age_months.get(f, 99) < YOUNG_MONTHS for f in firms)
        listed = sum(known_fraud(f) for f in firms)
        size = len(firms)
        return {
            "net_component_firms": float(size),
            "net_young_firms": float(young),
            "net_shared_phone_firms": float(len(shared["phone"])),
            "net_shared_device_firms": float(len(shared["device"])),
            "net_community_firms": float(self.community_size.get(start, size)),
            "net_ring_score": ring_score(
                size, young, len(shared["phone"]), len(shared["device"]), listed
            ),
            "net_fraud_distance": fraud_distance,
            "net_listed_in_component": float(listed),
        }


def ring_score(
    firms: int, young: int, phone_sharers: int, device_sharers: int, listed: int
) -> float:
    """0–1: a small, young, tightly shared cluster scores high; a lone firm scores 0.

    Size (3–15 firms is ring-sized), the share of young firms, sharing of phones and devices,
    and listed members each add evidence; a component too large to be one ring is discounted.
    """
    if firms < 2:
        return 0.0
    size = 1.0 if 3 <= firms <= 15 else (0.5 if firms == 2 else 0.3)
    youth = young / firms
    sharing = min(1.0, (phone_sharers + device_sharers) / 4)
    listing = min(1.0, listed / 2)
    return round(size * (0.35 * youth + 0.4 * sharing + 0.25 * listing), 4)


def known_before(listed_on: Mapping[str, date], on: date) -> Callable[[str], bool]:
    """A firm counts as known fraud on ``on`` when it was listed before that day."""
    return lambda uscc: (day := listed_on.get(uscc)) is not None and day <= on


def _ordered_subgraph(graph: nx.Graph, nodes: set[str]) -> nx.Graph:
    """The component as a graph whose nodes and edges are in sorted order: Louvain visits them in
    iteration order, and a view of a set iterates in hash order, which changes with
    PYTHONHASHSEED, so two processes (or two workers) could split the same ring differently."""
    ordered = nx.Graph()
    ordered.add_nodes_from(sorted(nodes))
    view = graph.subgraph(nodes)
    ordered.add_edges_from(
        sorted(
            ((min(u, v), max(u, v), data) for u, v, data in view.edges(data=True)),
            key=lambda edge: (edge[0], edge[1]),
        )
    )
    return ordered
