"""分配 · which account manager works which prospect, maximizing total expected value (pure).

An assignment problem solved exactly as a min-cost flow (OR-Tools ``SimpleMinCostFlow``):

    source → prospect (1) → its home outlet (支行, by the firm's county): value EV
                          → its city branch pool (分行) → any outlet of that city: EV × factor
             outlet → each of its managers (remaining capacity) → sink
             prospect → sink directly (not placed, value 0)

so a manager never gets more than their remaining capacity, a prospect is placed at most once,
and a prospect is left out only when every manager who could take it is full of better ones.
Values are in fen (integers) for the solver.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.graph.python import min_cost_flow

from puhui.errors import PuhuiError


class AllocationError(PuhuiError):
    """The allocation could not be solved; names what was wrong with the input."""


@dataclass(frozen=True)
class ProspectToPlace:
    uscc: str
    expected_value: float  # yuan per year
    outlet_id: str | None  # the sub-branch (支行) of the firm's county
    city_branch_id: str | None  # the branch (分行) of the firm's city


@dataclass(frozen=True)
class ManagerSlot:
    staff_id: str
    outlet_id: str
    city_branch_id: str | None
    capacity: int  # remaining capacity this cycle


@dataclass(frozen=True)
class Placement:
    uscc: str
    staff_id: str
    outlet_id: str
    value: float  # expected value counted for this placement (yuan)
    via_city: bool  # served by another outlet of the city branch


@dataclass(frozen=True)
class Unplaced:
    uscc: str
    reason: str


@dataclass(frozen=True)
class AllocationResult:
    placements: tuple[Placement, ...]
    unplaced: tuple[Unplaced, ...]
    total_value: float
    upper_bound: float  # every prospect placed at its home value: the optimum cannot exceed it

    def load(self) -> dict[str, int]:
        """Prospects placed per manager."""
        counts: dict[str, int] = defaultdict(int)
        for placement in self.placements:
            counts[placement.staff_id] += 1
        return dict(counts)


def remaining_capacity(
    capacity: int, customers: int, open_assignments: int, per_customer: float, per_open: float
) -> int:
    """A manager's capacity less the share their customers and unfinished assignments take."""
    used = math.ceil(customers * per_customer - 1e-9) + math.ceil(
        open_assignments * per_open - 1e-9
    )
    return max(0, capacity - used)


def allocate(
    prospects: Sequence[ProspectToPlace],
    managers: Sequence[ManagerSlot],
    *,
    city_fallback_factor: float = 0.8,
) -> AllocationResult:
    """Place prospects with managers to maximize the total expected value (exact)."""
    seen: set[str] = set()
    for prospect in prospects:
        if prospect.uscc in seen:
            raise AllocationError(f"prospect {prospect.uscc} is listed twice")
        seen.add(prospect.uscc)
    staff_ids = [m.staff_id for m in managers]
    if len(set(staff_ids)) != len(staff_ids):
        raise AllocationError("a manager is listed twice")
    for manager in managers:
        if manager.capacity < 0:
            raise AllocationError(f"manager {manager.staff_id} has negative capacity")

    outlets = sorted({m.outlet_id for m in managers})
    cities = sorted({m.city_branch_id for m in managers if m.city_branch_id})
    outlets_of_city: dict[str, list[str]] = defaultdict(list)
    for manager in managers:
        if (
            manager.city_branch_id
            and manager.outlet_id not in outlets_of_city[manager.city_branch_id]
        ):
            outlets_of_city[manager.city_branch_id].append(manager.outlet_id)
    candidates = [p for p in prospects if p.expected_value > 0]
    n = len(candidates)
    source, sink = 0, 1
    prospect_node = {p.uscc: 2 + i for i, p in enumerate(candidates)}
    base = 2 + n
    outlet_node = {o: base + i for i, o in enumerate(outlets)}
    base += len(outlets)
    city_node = {c: base + i for i, c in enumerate(cities)}
    base += len(cities)
    manager_node = {m.staff_id: base + i for i, m in enumerate(managers)}

    flow = min_cost_flow.SimpleMinCostFlow()
    tails: list[int] = []
    heads: list[int] = []
    caps: list[int] = []
    costs: list[int] = []

    def arc(tail: int, head: int, cap: int, cost: int) -> None:
        tails.append(tail)
        heads.append(head)
        caps.append(cap)
        costs.append(cost)

    for prospect in candidates:
        node = prospect_node[prospect.uscc]
        fen = round(prospect.expected_value * 100)
        arc(source, node, 1, 0)
        arc(node, sink, 1, 0)  # not placed
        if prospect.outlet_id in outlet_node:
            arc(node, outlet_node[prospect.outlet_id], 1, -fen)
        if prospect.city_branch_id in city_node and city_fallback_factor > 0:
            arc(node, city_node[prospect.city_branch_id], 1, -int(fen * city_fallback_factor))
    for city, members in outlets_of_city.items():
        for outlet in members:
            arc(city_node[city], outlet_node[outlet], n, 0)
    for manager in managers:
        arc(outlet_node[manager.outlet_id], manager_node[manager.staff_id], manager.capacity, 0)
        arc(manager_node[manager.staff_id], sink, manager.capacity, 0)
    if tails:
        flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.set_node_supply(source, n)
    flow.set_node_supply(sink, -n)
    if n:
        status = flow.solve()
        if status != flow.OPTIMAL:
            raise AllocationError(f"the min-cost flow solver stopped with status {status}")
    return _read(
        flow,
        candidates,
        prospects,
        managers,
        prospect_node,
        outlet_node,
        city_node,
        manager_node,
        city_fallback_factor,
    )


def _read(
    flow: min_cost_flow.SimpleMinCostFlow,
    candidates: Sequence[ProspectToPlace],
    prospects: Sequence[ProspectToPlace],
    managers: Sequence[ManagerSlot],
    prospect_node: dict[str, int],
    outlet_node: dict[str, int],
    city_node: dict[str, int],
    manager_node: dict[str, int],
    factor: float,
) -> AllocationResult:
    node_outlet = {v: k for k, v in outlet_node.items()}
    node_city = {v: k for k, v in city_node.items()}
    node_manager = {v: k for k, v in manager_node.items()}
    node_prospect = {v: k for k, v in prospect_node.items()}
    # Flow from prospects to outlets (direct) or to city pools, then outlets to managers.
    chosen_outlet: dict[str, tuple[str | None, bool]] = {}
    city_flow: dict[str, list[str]] = defaultdict(list)  # city -> prospects routed through it
    city_to_outlet: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    outlet_to_manager: dict[str, list[tuple[str, int]]] = defaultdict(list)
    arcs = flow.num_arcs() if candidates else 0
    for a in range(arcs):
        amount = flow.flow(a)
        if amount <= 0:
            continue
        tail, head = flow.tail(a), flow.head(a)
        if tail in node_prospect and head in node_outlet:
            chosen_outlet[node_prospect[tail]] = (node_outlet[head], False)
        elif tail in node_prospect and head in node_city:
            city_flow[node_city[head]].append(node_prospect[tail])
        elif tail in node_city and head in node_outlet:
            city_to_outlet[node_city[tail]][node_outlet[head]] += amount
        elif tail in node_outlet and head in node_manager:
            outlet_to_manager[node_outlet[tail]].append((node_manager[head], amount))
    for city, routed in city_flow.items():
        slots = [o for o, k in sorted(city_to_outlet[city].items()) for _ in range(k)]
        for uscc, outlet in zip(sorted(routed), slots, strict=True):
            chosen_outlet[uscc] = (outlet, True)
    by_outlet: dict[str, list[str]] = defaultdict(list)
    for uscc, (outlet, _) in chosen_outlet.items():
        if outlet is not None:
            by_outlet[outlet].append(uscc)
    value_of = {p.uscc: p.expected_value for p in candidates}
    placements: list[Placement] = []
    for outlet, members in by_outlet.items():
        # Best prospects first, spread over the outlet's managers in the solver's amounts.
        members.sort(key=lambda u: (-value_of[u], u))
        slots = [s for s, k in sorted(outlet_to_manager[outlet]) for _ in range(k)]
        for uscc, staff_id in zip(members, slots, strict=True):
            via_city = chosen_outlet[uscc][1]
            value = value_of[uscc] * (factor if via_city else 1.0)
            placements.append(Placement(uscc, staff_id, outlet, round(value, 2), via_city))
    placed = {p.uscc for p in placements}
    has_outlet = {m.outlet_id for m in managers}
    has_city = {m.city_branch_id for m in managers if m.city_branch_id}
    unplaced = []
    for prospect in prospects:
        if prospect.uscc in placed:
            continue
        if prospect.expected_value <= 0:
            reason = "期望价值为0 · expected value is zero"
        elif prospect.outlet_id not in has_outlet and prospect.city_branch_id not in has_city:
            reason = "所在地无网点客户经理 · no account manager serves the firm's location"
        else:
            reason = "客户经理容量已满 · the managers who serve the location are full"
        unplaced.append(Unplaced(prospect.uscc, reason))
    placements.sort(key=lambda p: (p.staff_id, -p.value, p.uscc))
    return AllocationResult(
        placements=tuple(placements),
        unplaced=tuple(unplaced),
        total_value=round(sum(p.value for p in placements), 2),
        upper_bound=round(sum(p.expected_value for p in candidates), 2),
    )
