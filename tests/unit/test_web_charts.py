"""Server-side SVG charts: well-formed, escaped, no style attributes (the CSP forbids them)."""

from __future__ import annotations

from datetime import date
from xml.etree import ElementTree

from puhui.web.charts import compact, line_svg, radar_svg


def test_the_radar_draws_one_axis_and_label_per_score_and_escapes_labels() -> None:
    svg = str(radar_svg(["经营", "成长", "<b>"], [80, None, 30], title="t"))
    root = ElementTree.fromstring(svg)
    assert len(root.findall("{*}line")) == 3 or svg.count("<line") == 3
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    assert "成长 –" in svg and "style=" not in svg


def test_a_radar_needs_three_axes() -> None:
    assert str(radar_svg(["a", "b"], [1, 2])) == ""


def test_a_line_breaks_at_missing_months_and_labels_the_range() -> None:
    months = [date(2025, m, 1) for m in range(1, 7)]
    svg = str(line_svg(list(zip(months, [1.0, 2.0, None, 4.0, 5.0, 6.0], strict=True))))
    ElementTree.fromstring(svg)
    assert svg.count("<polyline") == 2 and "2025-01" in svg and "2025-06" in svg


def test_an_empty_line_chart_says_so() -> None:
    svg = str(line_svg([(date(2025, 1, 1), None)]))
    assert "–" in svg and "<polyline" not in svg


def test_compact_numbers_use_wan_and_yi() -> None:
    assert compact(123_456_789) == "1.2亿" and compact(35_600) == "3.6万" and compact(820) == "820"


def test_the_related_party_star_draws_one_node_and_edge_per_party_with_escaped_labels() -> None:
    from puhui.web.charts import network_svg

    svg = str(
        network_svg(
            "杭州某某科技<有限>公司",
            [
                ("胡**", "person", "法定代表人"),
                ("某供应商", "supplier", "上游"),
                ("X", "core", "核心"),
            ],
        )
    )
    assert svg.count('class="node node-') == 4  # three parties and the firm
    assert svg.count('<line class="edge') == 3
    assert "node-person" in svg and "node-supplier" in svg and "node-core" in svg
    assert "&lt;有限&gt;" in svg and "<有限>" not in svg
    assert str(network_svg("firm", [])) == ""
