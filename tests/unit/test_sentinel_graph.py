"""Fraud-ring graph features: components, sharing, communities, ring score, distance to fraud."""

from __future__ import annotations

from datetime import date

from puhui.decisions.sentinel.graph import FraudGraph, Link, known_before, ring_score

RING = ["R1", "R2", "R3", "R4"]


def _graph() -> FraudGraph:
    links = [Link(f, "person", "organiser") for f in RING]
    links += [
        Link("R1", "phone", "p1"),
        Link("R2", "phone", "p1"),
        Link("R3", "device", "d1"),
        Link("R4", "device", "d1"),
        Link("R1", "person", "straw1"),
        Link("R2", "person", "straw2"),
    ]
    links += [Link("G1", "person", "alice"), Link("G2", "person", "bob")]
    links += [Link("G1", "address", "西湖区1号"), Link("X1", "address", "西湖区1号")]
    graph = FraudGraph(links, rep_of={"R1": "straw1", "R2": "straw2", "G1": "alice"})
    graph.detect_communities()
    return graph


def test_a_young_ring_sharing_phones_and_devices_scores_high() -> None:
    graph = _graph()
    ages = {"R1": 5.0, "R2": 6.0, "R3": 7.0, "R4": 4.0, "G1": 120.0, "G2": 90.0, "X1": 80.0}
    features = graph.features("R1", ages, lambda u: False)
    assert features["net_component_firms"] == 4
    assert features["net_young_firms"] == 4
    assert features["net_shared_phone_firms"] == 1
    assert 1 <= features["net_community_firms"] <= 4  # Louvain within the component
    lone = graph.features("G2", ages, lambda u: False)
    assert lone["net_ring_score"] == 0.0
    assert (
        features["net_ring_score"]
        > 0.3
        > graph.features("G1", ages, lambda u: False)["net_ring_score"]
    )


def test_distance_to_known_fraud_counts_firm_hops_once_the_listing_is_effective() -> None:
    graph = _graph()
    ages = dict.fromkeys(RING, 5.0)
    listed = {"R3": date(2025, 5, 1)}
    before = graph.features("R1", ages, known_before(listed, date(2025, 4, 30)))
    after = graph.features("R1", ages, known_before(listed, date(2025, 5, 2)))
    assert before["net_fraud_distance"] is None
    assert after["net_fraud_distance"] == 1.0
    assert after["net_listed_in_component"] == 1


def test_applications_add_links_as_they_arrive() -> None:
    graph = _graph()
    ages = {"G2": 90.0, "X9": 3.0}
    assert graph.features("G2", ages, lambda u: False)["net_shared_device_firms"] == 0
    graph.add(Link("G2", "device", "dz"))
    graph.add(Link("X9", "device", "dz"))
    assert graph.features("G2", ages, lambda u: False)["net_shared_device_firms"] == 1


def test_ring_score_grows_with_youth_sharing_and_listings() -> None:
    assert ring_score(1, 1, 0, 0, 0) == 0.0
    assert ring_score(5, 5, 2, 2, 1) > ring_score(5, 1, 0, 0, 0)
