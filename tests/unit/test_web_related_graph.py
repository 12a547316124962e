"""The two-hop related-party graph: built from registry links (persons and phones masked,
capped), drawn as SVG (well-formed, escaped, no style attributes), shown on the 360 profile."""

from __future__ import annotations

from xml.etree import ElementTree

import polars as pl
import pytest

from puhui.data.lake import Lake
from puhui.web.charts import two_hop_svg
from puhui.web.related_graph import Link, read_links, two_hop_graph
from support.workbench import AS_OF, shared_province, signed_in

FIRM = "91330100AAAAAAAAA1"
NAMES = {
    FIRM: "杭州某<某>科技有限公司",
    "91330100BBBBBBBBB2": "乙公司",
    "91330100CCCCCCCCC3": "丙公司",
    "91330100DDDDDDDDD4": "丁公司",
}
PEOPLE = {"330100199001011234": "张三丰", "330100199202022345": "李四"}


def _links() -> list[Link]:
    return [
        Link(FIRM, "rep", "330100199001011234"),
        Link(FIRM, "holder", "330100199001011234"),  # rep and holder: one node
        Link(FIRM, "holder", "330100199202022345"),
        Link(FIRM, "phone", "13812345678"),
        Link(FIRM, "address", "杭州市西湖区文三路一百号某大厦十二层"),
        Link("91330100BBBBBBBBB2", "rep", "330100199001011234"),
        Link("91330100CCCCCCCCC3", "holder", "330100199202022345"),
        Link("91330100CCCCCCCCC3", "phone", "13812345678"),  # reached twice: drawn once
        Link("91330100DDDDDDDDD4", "address", "杭州市西湖区文三路一百号某大厦十二层"),
    ]


def test_two_hops_reach_every_firm_sharing_a_party_once_with_persons_masked() -> None:
    graph = two_hop_graph(FIRM, NAMES[FIRM], _links(), firm_names=NAMES, person_names=PEOPLE)
    hop1 = [n for n in graph.nodes if n.hop == 1]
    hop2 = [n for n in graph.nodes if n.hop == 2]
    assert [n.kind for n in hop1] == ["person", "person", "phone", "address"]
    assert [n.label for n in hop1][:3] == ["张**", "李*", "138****5678"]
    assert hop1[3].label.endswith("…") and len(hop1[3].label) == 13
    assert sorted(n.label for n in hop2) == ["丁公司", "丙公司", "乙公司"]
    parents = {n.label: n.parent for n in hop2}
    assert parents["乙公司"] == "person:330100199001011234"
    assert parents["丙公司"] == "person:330100199202022345"  # its first tie wins
    assert len(graph.edges) == len(graph.nodes) - 1 and graph.omitted == 0
    assert graph.counts == {"parties": 4, "firms": 3}
    assert all("1990" not in n.label and "13812345678" not in n.label for n in graph.nodes)


def test_the_graph_is_capped_and_counts_what_it_left_out() -> None:
    hub = "杭州市某注册代理地址"
    links = [Link(FIRM, "address", hub)]
    links += [Link(f"91330100X{i:08d}0", "address", hub) for i in range(30)]
    graph = two_hop_graph(FIRM, "甲", links, firm_names={}, person_names={}, per_party=6)
    assert len(graph.nodes) == 1 + 1 + 6 and graph.omitted == 24
    small = two_hop_graph(FIRM, "甲", links, firm_names={}, person_names={}, max_nodes=4)
    assert len(small.nodes) == 4 and small.omitted == 28


def test_a_corporate_shareholder_keeps_its_name() -> None:
    holder = "91330100EEEEEEEEE5"
    graph = two_hop_graph(
        FIRM,
        "甲",
        [Link(FIRM, "holder", holder)],
        firm_names={holder: "戊投资有限公司"},
        person_names={},
    )
    assert [(n.label, n.kind) for n in graph.nodes[1:]] == [("戊投资有限公司", "firm-holder")]


def test_the_svg_is_well_formed_escaped_and_has_no_style_attribute() -> None:
    graph = two_hop_graph(FIRM, NAMES[FIRM], _links(), firm_names=NAMES, person_names=PEOPLE)
    svg = str(two_hop_svg(graph, title="t"))
    root = ElementTree.fromstring(svg)
    circles = root.findall(".//{*}circle") or root.findall(".//circle")
    assert len(circles) == len(graph.nodes)
    assert svg.count('class="edge edge-hop2"') == 3 and svg.count('class="edge edge-hop1"') == 4
    assert "&lt;某&gt;" in svg and "<某>" not in svg and "style=" not in svg
    empty = two_hop_graph(FIRM, "甲", [], firm_names={}, person_names={})
    assert str(two_hop_svg(empty)) == ""


@pytest.fixture(scope="module")
def province():  # type: ignore[no-untyped-def]
    return shared_province()


def _firm_with_hop_two(lake: Lake) -> str:
    firms = lake.scan("reg_enterprise").filter(pl.col("founded_on") < AS_OF).collect()
    shared = firms.group_by("legal_rep_id").len().filter(pl.col("len") > 1)["legal_rep_id"]
    return firms.filter(pl.col("legal_rep_id").is_in(shared.to_list())).sort("uscc")["uscc"][0]


def test_read_links_ties_each_other_firm_by_a_party_it_really_shares(province) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(province.data_dir / "lake")
    uscc = _firm_with_hop_two(lake)
    links, firm_names, person_names = read_links(lake, uscc, AS_OF)
    own = {(link.kind, link.party) for link in links if link.uscc == uscc}
    firms = lake.scan("reg_enterprise").collect()
    holders = lake.scan("reg_shareholder").collect()
    me = firms.filter(pl.col("uscc") == uscc).row(0, named=True)
    assert ("rep", me["legal_rep_id"]) in own
    others = [link for link in links if link.uscc != uscc]
    assert others, "the chosen firm shares its legal representative"
    mine = {party for _, party in own}
    for link in others:
        assert link.party in mine
        row = firms.filter(pl.col("uscc") == link.uscc).row(0, named=True)
        held = set(holders.filter(pl.col("uscc") == link.uscc)["holder_id"].to_list())
        if link.kind == "rep":
            assert row["legal_rep_id"] == link.party
        elif link.kind == "holder":
            assert link.party in held
        elif link.kind == "phone":
            assert row["contact_phone"] == link.party
        else:
            assert row["address"] == link.party
        assert firm_names[link.uscc] == row["name"]
    assert me["legal_rep_id"] in person_names


def test_the_profile_page_shows_the_two_hop_graph_masked(province) -> None:  # type: ignore[no-untyped-def]
    from puhui.actions.access import AccessPolicy
    from puhui.api import create_app
    from puhui.settings import Settings
    from support.workbench import cheap_passwords

    lake = Lake(province.data_dir / "lake")
    uscc = _firm_with_hop_two(lake)
    app = create_app(
        Settings(data_dir=province.data_dir),
        passwords=cheap_passwords(),
        policy=AccessPolicy(client_attempts=10_000),
    )
    page = signed_in(app, province, "demo_risk_officer").get(f"/firms/{uscc}")
    assert page.status_code == 200
    figure = page.text.split('data-testid="related-graph-2hop"')[1].split("</figure>")[0]
    assert 'class="node node-firm-centre"' in figure and 'class="node node-firm"' in figure
    rep_id = lake.scan("reg_enterprise").filter(pl.col("uscc") == uscc).collect()["legal_rep_id"][0]
    person = lake.scan("reg_person").filter(pl.col("person_id") == rep_id).collect()["name"][0]
    assert f">{person}<" not in figure and rep_id not in figure
    assert f">{person[0]}{'*' * (len(person) - 1)}<" in figure
