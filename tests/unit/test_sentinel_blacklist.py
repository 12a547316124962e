"""Blacklists: exact and fuzzy matching, effective dates and list versions, each hit explained."""

from __future__ import annotations

from datetime import date

from puhui.decisions.sentinel.blacklist import BlacklistIndex, ListEntry

ENTRIES = [
    ListEntry(
        "group_shentu",
        "device",
        "DV0123456789ABCDEF",
        date(2025, 1, 10),
        None,
        "团伙欺诈关联",
        "2025-01",
    ),
    ListEntry(
        "pboc",
        "person",
        "330102198001011234",
        date(2024, 3, 1),
        date(2025, 3, 1),
        "失信被执行人",
        "2024-03",
    ),
    ListEntry(
        "internal",
        "enterprise",
        "91330100ABCDEFGH12",
        date(2024, 6, 30),
        None,
        "核销",
        "2024-06",
        name="杭州宏达机械制造有限公司",
    ),
]


def test_an_exact_hit_is_explained_with_list_version_and_date() -> None:
    index = BlacklistIndex(ENTRIES)
    hits = index.exact("device", "DV0123456789ABCDEF", date(2025, 2, 1), "device")
    assert len(hits) == 1
    text = hits[0].explain()
    assert "group_shentu v2025-01" in text and "2025-01-10" in text and "团伙欺诈关联" in text


def test_listings_count_only_while_effective() -> None:
    index = BlacklistIndex(ENTRIES)
    assert not index.exact("device", "DV0123456789ABCDEF", date(2025, 1, 9), "device")
    assert index.exact("person", "330102198001011234", date(2024, 12, 1), "legal_rep")
    assert not index.exact("person", "330102198001011234", date(2025, 3, 1), "legal_rep")


def test_an_identifier_one_edit_away_matches_fuzzily() -> None:
    index = BlacklistIndex(ENTRIES)
    hits = index.one_edit("person", "330102198001011235", date(2024, 12, 1), "legal_rep")
    assert [h.match for h in hits] == ["fuzzy_identifier"]
    assert "one edit away" in hits[0].explain()
    assert not index.one_edit("person", "330102198001019999", date(2024, 12, 1), "legal_rep")


def test_a_near_identical_firm_name_matches_fuzzily_but_a_different_one_does_not() -> None:
    index = BlacklistIndex(ENTRIES)
    near = index.fuzzy_name("杭州宏达机械制造有限公司.", date(2025, 1, 1))
    assert near and near[0].match == "fuzzy_name" and near[0].similarity >= 92
    assert not index.fuzzy_name("杭州明远食品贸易有限公司", date(2025, 1, 1))
    assert not index.fuzzy_name("杭州宏达机械制造有限公司.", date(2024, 1, 1))  # not yet listed


def test_versions_report_the_newest_delivery_per_list() -> None:
    assert BlacklistIndex(ENTRIES).versions() == {
        "group_shentu": "2025-01",
        "pboc": "2024-03",
        "internal": "2024-06",
    }
