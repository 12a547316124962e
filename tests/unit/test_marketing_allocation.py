"""Allocation to account managers: capacity is never exceeded, a prospect is placed at most
once, every prospect is placed when capacity allows, and the total equals the brute-force
optimum on small cases."""

from __future__ import annotations

import itertools
import random

import pytest

from puhui.decisions.marketing.allocation import (
    AllocationError,
    ManagerSlot,
    ProspectToPlace,
    allocate,
    remaining_capacity,
)


def _prospects(n: int, outlets: list[str], city: str = "C1", seed: int = 0):
    rng = random.Random(seed)
    return [
        ProspectToPlace(f"F{i:04d}", round(rng.uniform(1, 1000), 2), rng.choice(outlets), city)
        for i in range(n)
    ]


def _check_constraints(result, prospects, managers) -> None:
    capacity = {m.staff_id: m.capacity for m in managers}
    outlet_of = {m.staff_id: m.outlet_id for m in managers}
    load = result.load()
    for staff_id, placed in load.items():
        assert placed <= capacity[staff_id], staff_id
    placed = [p.uscc for p in result.placements]
    assert len(placed) == len(set(placed)), "a prospect was placed twice"
    assert set(placed) | {u.uscc for u in result.unplaced} == {p.uscc for p in prospects}
    assert not set(placed) & {u.uscc for u in result.unplaced}
    for placement in result.placements:
        assert placement.outlet_id == outlet_of[placement.staff_id]


def test_capacity_is_never_exceeded_and_each_firm_is_placed_at_most_once() -> None:
    managers = [
        ManagerSlot("M1", "O1", "C1", 3),
        ManagerSlot("M2", "O1", "C1", 2),
        ManagerSlot("M3", "O2", "C1", 4),
    ]
    prospects = _prospects(40, ["O1", "O2"])
    result = allocate(prospects, managers)
    _check_constraints(result, prospects, managers)
    assert len(result.placements) == 9  # all capacity used: 40 prospects for 9 places
    assert all("容量已满" in u.reason for u in result.unplaced)


def test_every_prospect_is_placed_when_capacity_allows() -> None:
    managers = [ManagerSlot("M1", "O1", "C1", 10), ManagerSlot("M2", "O2", "C1", 10)]
    prospects = _prospects(15, ["O1", "O2"])
    result = allocate(prospects, managers)
    _check_constraints(result, prospects, managers)
    assert len(result.placements) == 15 and not result.unplaced


def test_the_best_prospects_win_scarce_capacity() -> None:
    managers = [ManagerSlot("M1", "O1", "C1", 2)]
    prospects = [
        ProspectToPlace("A", 10.0, "O1", "C1"),
        ProspectToPlace("B", 500.0, "O1", "C1"),
        ProspectToPlace("C", 300.0, "O1", "C1"),
    ]
    result = allocate(prospects, managers)
    assert {p.uscc for p in result.placements} == {"B", "C"}
    assert result.total_value == 800.0


def test_a_full_outlet_overflows_to_another_outlet_of_the_city_at_a_discount() -> None:
    managers = [ManagerSlot("M1", "O1", "C1", 1), ManagerSlot("M2", "O2", "C1", 1)]
    prospects = [ProspectToPlace("A", 100.0, "O1", "C1"), ProspectToPlace("B", 50.0, "O1", "C1")]
    result = allocate(prospects, managers, city_fallback_factor=0.8)
    by_firm = {p.uscc: p for p in result.placements}
    assert by_firm["A"].staff_id == "M1" and not by_firm["A"].via_city
    assert by_firm["B"].staff_id == "M2" and by_firm["B"].via_city
    assert by_firm["B"].value == 40.0
    assert result.total_value == 140.0


def test_no_city_fallback_keeps_firms_in_their_outlet() -> None:
    managers = [ManagerSlot("M1", "O1", "C1", 1), ManagerSlot("M2", "O2", "C1", 5)]
    prospects = [ProspectToPlace("A", 100.0, "O1", "C1"), ProspectToPlace("B", 50.0, "O1", "C1")]
    result = allocate(prospects, managers, city_fallback_factor=0.0)
    assert [p.uscc for p in result.placements] == ["A"]


def test_a_firm_without_a_manager_nearby_is_left_with_its_reason() -> None:
    managers = [ManagerSlot("M1", "O1", "C1", 5)]
    prospects = [ProspectToPlace("FAR", 100.0, "O9", "C9"), ProspectToPlace("Z", 0.0, "O1", "C1")]
    result = allocate(prospects, managers)
    reasons = {u.uscc: u.reason for u in result.unplaced}
    assert "no account manager" in reasons["FAR"]
    assert "expected value is zero" in reasons["Z"]


@pytest.mark.parametrize("seed", range(6))
def test_the_total_equals_the_brute_force_optimum_on_small_cases(seed: int) -> None:
    rng = random.Random(seed)
    managers = [
        ManagerSlot(f"M{i}", rng.choice(["O1", "O2"]), "C1", rng.randint(0, 2)) for i in range(3)
    ]
    prospects = _prospects(5, ["O1", "O2"], seed=seed)
    factor = 0.8
    result = allocate(prospects, managers, city_fallback_factor=factor)
    _check_constraints(result, prospects, managers)
    # Every way of giving each prospect a manager or nobody, within capacity.
    best = 0.0
    options = [None, *managers]
    for choice in itertools.product(options, repeat=len(prospects)):
        load: dict[str, int] = {}
        total = 0.0
        for prospect, manager in zip(prospects, choice, strict=True):
            if manager is None:
                continue
            load[manager.staff_id] = load.get(manager.staff_id, 0) + 1
            home = manager.outlet_id == prospect.outlet_id
            total += prospect.expected_value * (1.0 if home else factor)
        if all(load[m.staff_id] <= m.capacity for m in managers if m.staff_id in load):
            best = max(best, total)
    assert result.total_value == pytest.approx(best, abs=0.05)
    assert result.total_value <= result.upper_bound


def test_duplicate_prospects_are_refused() -> None:
    with pytest.raises(AllocationError, match="listed twice"):
        allocate([ProspectToPlace("A", 1, "O1", "C1")] * 2, [ManagerSlot("M", "O1", "C1", 1)])


def test_remaining_capacity_subtracts_customers_and_open_work() -> None:
    assert (
        remaining_capacity(40, customers=25, open_assignments=10, per_customer=0.2, per_open=1.0)
        == 25
    )
    assert (
        remaining_capacity(10, customers=200, open_assignments=0, per_customer=0.1, per_open=1.0)
        == 0
    )
