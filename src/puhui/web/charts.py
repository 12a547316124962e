"""Charts as inline SVG drawn on the server (雷达图, 趋势图): no JavaScript, no CDN.

Pure functions from numbers to SVG text; styling comes from classes in ``workbench.css``
(presentation attributes only, so the strict Content-Security-Policy holds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from puhui.web.related_graph import RelatedGraph


def _num(value: float) -> str:
    return f"{value:.1f}"


def radar_svg(
    labels: Sequence[str], values: Sequence[float | None], *, size: int = 320, title: str = ""
) -> Markup:
    """A radar of scores 0–100; a missing score is drawn at the centre and its label marked."""
    count = len(labels)
    if count < 3:
        return Markup("")
    margin = 80  # room for labels left and right of the circle
    width = size + 2 * margin
    centre = size / 2
    radius = size / 2 - 40
    parts = [
        f'<svg class="chart radar" viewBox="0 0 {width} {size}" width="{width}" height="{size}" '
        f'role="img" aria-label="{escape(title)}">'
    ]

    def point(i: int, scale: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / count
        x = margin + centre + radius * scale * math.cos(angle)
        return x, centre + radius * scale * math.sin(angle)

    for ring in (0.25, 0.5, 0.75, 1.0):
        ring_points = " ".join(
            f"{_num(x)},{_num(y)}" for x, y in (point(i, ring) for i in range(count))
        )
        parts.append(f'<polygon class="grid" points="{ring_points}"/>')
    for i, label in enumerate(labels):
        x, y = point(i, 1.0)
        parts.append(
            f'<line class="axis" x1="{_num(margin + centre)}" y1="{_num(centre)}" '
            f'x2="{_num(x)}" y2="{_num(y)}"/>'
        )
        lx, ly = point(i, 1.15)
        middle = margin + centre
        anchor = "middle" if abs(lx - middle) < 5 else ("start" if lx > middle else "end")
        ly += 4 if ly > centre else 0
        value = values[i]
        shown = "–" if value is None else f"{value:.0f}"
        parts.append(
            f'<text class="label" x="{_num(lx)}" y="{_num(ly)}" text-anchor="{anchor}">'
            f"{escape(label)} {shown}</text>"
        )
    shape = " ".join(
        f"{_num(x)},{_num(y)}" for x, y in (point(i, (v or 0) / 100) for i, v in enumerate(values))
    )
    parts.append(f'<polygon class="shape" points="{shape}"/>')
    for i, v in enumerate(values):
        if v is not None:
            x, y = point(i, v / 100)
            parts.append(f'<circle class="dot" cx="{_num(x)}" cy="{_num(y)}" r="3"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_svg(
    points: Sequence[tuple[date, float | None]],
    *,
    width: int = 360,
    height: int = 140,
    title: str = "",
    unit: str = "",
) -> Markup:
    """A line over months; gaps (None) break it. Axis labels: first and last month, min, max."""
    known = [v for _, v in points if v is not None]
    pad_left, pad_right, pad_top, pad_bottom = 48, 10, 14, 22
    parts = [
        f'<svg class="chart line" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}">'
    ]
    inner_w = width - pad_left - pad_right
    inner_h = height - pad_top - pad_bottom
    parts.append(
        f'<rect class="frame" x="{pad_left}" y="{pad_top}" width="{inner_w}" height="{inner_h}"/>'
    )
    if not known:
        parts.append(
            f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">–</text>'
        )
        parts.append("</svg>")
        return Markup("".join(parts))
    low, high = min(known), max(known)
    if high == low:
        low, high = low - 1, high + 1
    n = len(points)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad_left + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)
        y = pad_top + inner_h * (1 - (v - low) / (high - low))
        return x, y

    segment: list[str] = []
    segments: list[list[str]] = []
    for i, (_, v) in enumerate(points):
        if v is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        x, y = xy(i, v)
        segment.append(f"{_num(x)},{_num(y)}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) == 1:
            x, y = seg[0].split(",")
            parts.append(f'<circle class="dot" cx="{x}" cy="{y}" r="2.5"/>')
        else:
            parts.append(f'<polyline class="series" points="{" ".join(seg)}"/>')
    parts.append(
        f'<text class="tick" x="{pad_left - 4}" y="{pad_top + 4}" text-anchor="end">'
        f"{escape(compact(high))}</text>"
        f'<text class="tick" x="{pad_left - 4}" y="{pad_top + inner_h}" text-anchor="end">'
        f"{escape(compact(low))}</text>"
    )
    first, last = points[0][0], points[-1][0]
    parts.append(
        f'<text class="tick" x="{pad_left}" y="{height - 6}">{first:%Y-%m}</text>'
        f'<text class="tick" x="{width - pad_right}" y="{height - 6}" text-anchor="end">'
        f"{last:%Y-%m} {escape(unit)}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def compact(value: float) -> str:
    """Short numbers for axes: 1.2亿, 35.6万, 820."""
    size = abs(value)
    if size >= 1e8:
        return f"{value / 1e8:.1f}亿"
    if size >= 1e4:
        return f"{value / 1e4:.1f}万"
    if size >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def network_svg(
    centre_label: str,
    nodes: Sequence[tuple[str, str, str]],
    *,
    size: int = 420,
    title: str = "",
) -> Markup:
    """A firm and its related parties as a star (关联图谱): ``nodes`` are (label, kind, edge
    label); kinds become CSS classes (person, shareholder, firm, core, customer, supplier)."""
    if not nodes:
        return Markup("")
    margin = 90
    width = size + 2 * margin
    cx, cy = width / 2, size / 2
    radius = size / 2 - 40
    parts = [
        f'<svg class="chart network" viewBox="0 0 {width} {size}" width="{width}" '
        f'height="{size}" role="img" aria-label="{escape(title)}">'
    ]
    count = len(nodes)
    for i, (label, kind, edge) in enumerate(nodes):
        angle = -math.pi / 2 + 2 * math.pi * i / count
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        parts.append(
            f'<line class="edge edge-{escape(kind)}" x1="{_num(cx)}" y1="{_num(cy)}" '
            f'x2="{_num(x)}" y2="{_num(y)}"/>'
        )
        mx, my = (cx + x) / 2, (cy + y) / 2
        parts.append(
            f'<text class="edge-label" x="{_num(mx)}" y="{_num(my)}">{escape(edge)}</text>'
        )
        anchor = "middle" if abs(x - cx) < 5 else ("start" if x > cx else "end")
        lx = x + (8 if anchor == "start" else -8 if anchor == "end" else 0)
        ly = y + (16 if y > cy and anchor == "middle" else -8 if anchor == "middle" else 4)
        parts.append(
            f'<circle class="node node-{escape(kind)}" cx="{_num(x)}" cy="{_num(y)}" r="7"/>'
        )
        parts.append(
            f'<text class="label" x="{_num(lx)}" y="{_num(ly)}" text-anchor="{anchor}">'
            f"{escape(label)}</text>"
        )
    parts.append(f'<circle class="node node-centre" cx="{_num(cx)}" cy="{_num(cy)}" r="11"/>')
    parts.append(
        f'<text class="label centre" x="{_num(cx)}" y="{_num(cy + 26)}" text-anchor="middle">'
        f"{escape(centre_label)}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def two_hop_svg(
    graph: RelatedGraph, *, width: int = 760, height: int = 560, title: str = ""
) -> Markup:
    """The two-hop related-party graph (二度关联图谱): the firm in the centre, its parties on an
    inner ring, the firms they lead to on an outer ring within their party's sector.

    Node kinds become CSS classes; hop-two edges are dashed."""
    nodes = list(graph.nodes)
    parties = [n for n in nodes if n.hop == 1]
    if not parties:
        return Markup("")
    cx, cy = width / 2, height / 2
    inner, outer = min(width, height) * 0.2, min(width, height) * 0.4
    where: dict[str, tuple[float, float]] = {nodes[0].key: (cx, cy)}
    sector = 2 * math.pi / len(parties)
    for i, party in enumerate(parties):
        angle = -math.pi / 2 + sector * i
        where[party.key] = (cx + inner * math.cos(angle), cy + inner * math.sin(angle))
        children = [n for n in nodes if n.hop == 2 and n.parent == party.key]
        for j, child in enumerate(children):
            offset = (j + 0.5) / len(children) - 0.5 if len(children) > 1 else 0.0
            a = angle + offset * sector * 0.85
            where[child.key] = (cx + outer * math.cos(a), cy + outer * math.sin(a))
    parts = [
        f'<svg class="chart network network2" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}">'
    ]
    by_key = {n.key: n for n in nodes}
    for a, b in graph.edges:
        if a not in where or b not in where:
            continue
        (x1, y1), (x2, y2) = where[a], where[b]
        hop = by_key[b].hop
        parts.append(
            f'<line class="edge edge-hop{hop}" x1="{_num(x1)}" y1="{_num(y1)}" '
            f'x2="{_num(x2)}" y2="{_num(y2)}"/>'
        )
        if hop == 1 and by_key[b].relation:
            parts.append(
                # 60% along the edge: clear of the firm's own label under the centre
                f'<text class="edge-label halo" x="{_num(x1 + 0.6 * (x2 - x1))}" '
                f'y="{_num(y1 + 0.6 * (y2 - y1))}">'
                f"{escape(by_key[b].relation)}</text>"
            )
    for node in nodes:
        x, y = where.get(node.key, (cx, cy))
        radius = 11 if node.hop == 0 else 7 if node.hop == 1 else 5
        anchor = "middle" if abs(x - cx) < 5 else ("start" if x > cx else "end")
        lx = x + (9 if anchor == "start" else -9 if anchor == "end" else 0)
        ly = y + (20 if node.hop == 0 else 16 if y > cy and anchor == "middle" else 4)
        if anchor == "middle" and y < cy and node.hop:
            ly = y - 10
        kind = escape(node.kind)
        parts.append(
            f'<g class="party party-{kind}"><circle class="node node-{kind}" '
            f'cx="{_num(x)}" cy="{_num(y)}" r="{radius}"/>'
            f'<text class="label halo" x="{_num(lx)}" y="{_num(ly)}" text-anchor="{anchor}">'
            f"{escape(node.label)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
