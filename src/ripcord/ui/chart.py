"""Charts as inline SVG, drawn on the server: no chart library, no script, no CDN.

A pure module (numbers in, markup out) so it can be tested without a server.
Colours are SVG presentation attributes (fill=, stroke=): the dashboard's CSP
forbids style="" attributes, and presentation attributes are not styles. Every
bar carries a <title>, which browsers show as a tooltip and screen readers read.

`bars` draws one column per snapshot: files added, changed and deleted stacked
in the upper panel, the bytes it stored in the lower one, and a red marker over
each snapshot the change guard raised an alarm on. A linear scale on purpose:
a ransomware night (thousands of files changed, the repository growing) or a
mass deletion dwarfs the ordinary nights, which is what the chart is for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr

STEP = 22  # px per snapshot column
BAR = 14  # px width of a bar
LEFT = 56  # room for the y-axis labels
TOP = 18  # room for alarm markers
FILES_H = 120  # px height of the files panel
GAP = 26  # between the panels (the date ticks sit here)
BYTES_H = 60  # px height of the bytes panel
BOTTOM = 6
MIN_WIDTH = 320
WIDEST = 48  # px per column at most
TICK = 40  # px a date label needs

ADDED, CHANGED, DELETED, STORED = "#1a7f37", "#d98e04", "#c62828", "#2457c5"
ALARM, AXIS, TEXT = "#c62828", "#9aa3b2", "#5d6677"


@dataclass(frozen=True)
class Column:
    """One snapshot's figures; None where the snapshot did not record one."""

    tip: str  # the tooltip: when, which snapshot, every figure in words
    tick: str  # the short label under the column (a date)
    added: int | None
    changed: int | None
    deleted: int | None
    stored: int | None  # bytes the backup added to the repository
    alarm: str | None = None  # why the change guard raised an alarm, if it did


def bars(columns: Sequence[Column], title: str, most_bytes_label: str) -> str:
    """An SVG of one column per snapshot (oldest left); `title` names the chart and
    `most_bytes_label` is the top of the bytes scale in words (the largest `stored`)."""
    n = len(columns)
    step = _step(n)
    width = max(MIN_WIDTH, LEFT + n * step + 8)
    files_top = TOP
    bytes_top = TOP + FILES_H + GAP
    height = bytes_top + BYTES_H + BOTTOM
    most_files = max((_files(c) for c in columns), default=0) or 1
    most_bytes = max((c.stored or 0 for c in columns), default=0) or 1
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        f' width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        _axis(files_top, FILES_H, width, count(most_files), "0"),
        _axis(bytes_top, BYTES_H, width, most_bytes_label, "0"),
    ]
    every = -(-TICK // step)  # a date under every few columns: labels must not overlap
    for i, c in enumerate(columns):
        x = LEFT + i * step + (step - BAR) // 2
        parts = [f"<title>{escape(c.tip)}</title>"]
        base: float = files_top + FILES_H
        for value, fill, what in (
            (c.added, ADDED, "added"),
            (c.changed, CHANGED, "changed"),
            (c.deleted, DELETED, "deleted"),
        ):
            h = _height(value, most_files, FILES_H)
            if h:
                base -= h
                parts.append(_rect(x, base, BAR, h, fill, what))
        h = _height(c.stored, most_bytes, BYTES_H)
        if h:
            parts.append(_rect(x, bytes_top + BYTES_H - h, BAR, h, STORED, "stored"))
        if c.alarm is not None:
            parts.append(_alarm(x, files_top, bytes_top + BYTES_H))
        if i % every == 0:
            parts.append(
                f'<text x="{x + BAR / 2:g}" y="{bytes_top - 8}" text-anchor="middle"'
                f' font-size="10" fill="{TEXT}" class="tick">{escape(c.tick)}</text>'
            )
        cls = "snap alarmed" if c.alarm is not None else "snap"
        out.append(f'<g class="{cls}" data-index="{i}">' + "".join(parts) + "</g>")
    out.append("</svg>")
    return "".join(out)


def line(points: Sequence[tuple[str, int]], title: str, label: str) -> str:
    """An SVG line of one value over time (each point: tooltip, value), oldest left."""
    n = len(points)
    step = _step(n)
    width = max(MIN_WIDTH, LEFT + n * step + 8)
    height = TOP + BYTES_H + BOTTOM + 4
    most = max((v for _, v in points), default=0) or 1
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        f' width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        _axis(TOP, BYTES_H, width, label, "0"),
    ]
    xy = [
        (LEFT + i * step + step / 2, TOP + BYTES_H - BYTES_H * max(0, v) / most)
        for i, (_, v) in enumerate(points)
    ]
    if len(xy) > 1:
        coords = " ".join(f"{x:g},{y:.1f}" for x, y in xy)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{STORED}" stroke-width="2"/>')
    for (tip, _), (x, y) in zip(points, xy, strict=True):
        out.append(
            f'<g class="point"><title>{escape(tip)}</title>'
            f'<circle cx="{x:g}" cy="{y:.1f}" r="4" fill="{STORED}"/></g>'
        )
    out.append("</svg>")
    return "".join(out)


# what XML 1.0 cannot hold: control characters, lone surrogates (a file name that was not
# UTF-8 reaches us with surrogate escapes), U+FFFE and U+FFFF
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def escape(text: str) -> str:
    """`text` as XML character data: markup escaped, characters XML cannot hold shown as
    U+FFFD (a name in a tooltip must not make the page's SVG malformed)."""
    return _escape(_NOT_XML.sub("\ufffd", text))


def count(n: int) -> str:
    """A count short enough for the axis: 950, 9,500, 95k, 9.5M."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1000:.0f}k"
    return f"{n / 1_000_000:.1f}M"


def _step(n: int) -> int:
    """Pixels per column: STEP, or wider when a few columns would leave the chart empty."""
    return max(STEP, min(WIDEST, (MIN_WIDTH - LEFT - 8) // max(1, n)))


def _files(c: Column) -> int:
    return (c.added or 0) + (c.changed or 0) + (c.deleted or 0)


def _height(value: int | None, most: int, panel: int) -> float:
    """Pixels for `value`; anything above zero gets at least one, so a small night shows."""
    if not value or value <= 0:
        return 0.0
    return max(1.0, panel * min(value, most) / most)


def _rect(x: float, y: float, w: float, h: float, fill: str, cls: str) -> str:
    return (
        f'<rect class={quoteattr(cls)} x="{x:g}" y="{y:.1f}" width="{w:g}" height="{h:.1f}"'
        f' fill="{fill}"/>'
    )


def _alarm(x: float, top: float, bottom: float) -> str:
    """A red triangle over the column and a dashed line down through both panels."""
    mid = x + BAR / 2
    return (
        f'<line class="alarm-line" x1="{mid:g}" y1="{top:g}" x2="{mid:g}" y2="{bottom:g}"'
        f' stroke="{ALARM}" stroke-width="1.5" stroke-dasharray="3 3"/>'
        f'<path class="alarm-mark" d="M{mid - 6:g} {top - 14:g} h12 l-6 10 z" fill="{ALARM}"/>'
    )


def _axis(top: float, h: float, width: float, high: str, low: str) -> str:
    bottom = top + h
    return (
        f'<g class="axis"><line x1="{LEFT - 4}" y1="{bottom:g}" x2="{width - 4:g}" y2="{bottom:g}"'
        f' stroke="{AXIS}"/>'
        f'<text x="{LEFT - 6}" y="{top + 8:g}" text-anchor="end" font-size="10"'
        f' fill="{TEXT}">{escape(high)}</text>'
        f'<text x="{LEFT - 6}" y="{bottom:g}" text-anchor="end" font-size="10"'
        f' fill="{TEXT}">{escape(low)}</text></g>'
    )


def legend() -> str:
    """The key to `bars`' colours, as a small SVG of its own."""
    items = (("added", ADDED), ("changed", CHANGED), ("deleted", DELETED), ("stored", STORED))
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="legend" width="300" height="16"'
        ' viewBox="0 0 300 16" role="img"><title>added, changed, deleted files; bytes stored'
        "</title>"
    ]
    for i, (what, fill) in enumerate(items):
        x = i * 75
        out.append(
            f'<rect x="{x}" y="3" width="10" height="10" fill="{fill}"/>'
            f'<text x="{x + 14}" y="12" font-size="11" fill="{TEXT}">{what}</text>'
        )
    out.append("</svg>")
    return "".join(out)
