"""The timeline's SVG: any figures make well-formed XML, one column per snapshot, every
name escaped, an alarm marked where (and only where) the guard raised one."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from ripcord.ui.chart import Column, bars, count, legend, line

SVG = "{http://www.w3.org/2000/svg}"
figure = st.none() | st.integers(min_value=-5, max_value=10**12)
text = st.text(max_size=40)  # every code point: controls and lone surrogates too
columns = st.builds(
    Column,
    tip=text,
    tick=text,
    added=figure,
    changed=figure,
    deleted=figure,
    stored=figure,
    alarm=st.none() | text,
)


@given(st.lists(columns, max_size=60), text)
def test_any_figures_render_valid_svg_with_one_column_per_snapshot(
    cols: list[Column], title: str
) -> None:
    root = ET.fromstring(bars(cols, title, "1 MiB"))
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title") is not None
    groups = [g for g in root.iter(f"{SVG}g") if "snap" in g.get("class", "").split()]
    assert len(groups) == len(cols)
    for g, c in zip(groups, cols, strict=True):
        assert g.find(f"{SVG}title") is not None  # the tooltip
        marked = g.find(f"{SVG}path[@class='alarm-mark']") is not None
        assert marked == (c.alarm is not None)
        for r in g.iter(f"{SVG}rect"):
            assert float(r.get("height", "0")) > 0 and float(r.get("y", "-1")) >= 0


def test_hostile_names_stay_text() -> None:
    evil = '<script>alert(1)</script>"&'
    svg = bars([Column(evil, evil, 1, 2, 3, 4, evil)], evil, evil)
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert root.findtext(f"{SVG}title") == evil
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert evil in texts


def test_a_mass_deletion_towers_over_ordinary_nights() -> None:
    cols = [Column("n", "n", 5, 5, 0, 100) for _ in range(5)]
    cols.append(Column("gone", "gone", 0, 0, 4000, 10, "4000 files deleted"))
    root = ET.fromstring(bars(cols, "t", "100 B"))
    heights = {}
    for g in root.iter(f"{SVG}g"):
        for r in g.iter(f"{SVG}rect"):
            heights[(g.get("data-index"), r.get("class"))] = float(r.get("height", "0"))
    assert heights[("5", "deleted")] > 50 * heights[("0", "added")]
    assert ("0", "deleted") not in heights  # nothing deleted: no bar at all


@given(st.lists(st.tuples(text, st.integers(min_value=0, max_value=10**15)), max_size=60))
def test_the_size_line_is_valid_svg_with_a_point_per_snapshot(
    points: list[tuple[str, int]],
) -> None:
    root = ET.fromstring(line(points, "size", "1 GiB"))
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "point"]) == len(points)


def test_characters_xml_cannot_hold_are_replaced_not_dropped() -> None:
    name = "bad\x01name\udcff.txt"  # a control character and a non-UTF-8 byte
    root = ET.fromstring(bars([Column(name, "t", 1, 0, 0, 0)], name, "0"))
    assert root.findtext(f"{SVG}title") == "bad\ufffdname\ufffd.txt"


def test_legend_and_counts() -> None:
    ET.fromstring(legend())
    assert [count(n) for n in (950, 9500, 95_000, 9_500_000)] == ["950", "9,500", "95k", "9.5M"]
