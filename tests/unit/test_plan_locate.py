"""The key locator points at the line where each key is written, in generated TOML
that uses every key style a plan plausibly does."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from ripcord.plan.locate import KeyPath, Locator

BARE = re.compile(r"[A-Za-z0-9_-]+")
# quoted keys may hold anything printable: dots, spaces, quotes, =, #, brackets
key_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8
)
bare_text = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True)


@st.composite
def written_key(draw: st.DrawFn, name: str) -> str:
    """`name` as a TOML key in one of the styles allowed for it."""
    styles = ["basic"]
    if BARE.fullmatch(name):
        styles.append("bare")
    if "'" not in name:
        styles.append("literal")
    style = draw(st.sampled_from(styles))
    if style == "bare":
        return name
    if style == "literal":
        return f"'{name}'"
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def basic(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


tricky = st.text(st.sampled_from("ab =#[]{}\"'.,"), max_size=10)


@st.composite
def value_lines(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A value as its lines (the first follows `key = `), and the keys of an inline table."""
    kind = draw(st.sampled_from(["int", "basic", "literal", "array", "mlbasic", "mlliteral"]))
    comment = draw(st.sampled_from(["", "  # x = 1 [t]", " #"]))
    if kind == "int":
        return [f"{draw(st.integers(-5, 10**6))}{comment}"], []
    if kind == "basic":
        return [basic(draw(tricky)) + comment], []
    if kind == "literal":
        return ["'" + draw(tricky).replace("'", "") + "'" + comment], []
    if kind == "array":
        items = draw(st.lists(tricky, max_size=3))
        inner = [f"  {basic(i)},{draw(st.sampled_from(['', ' # a = [']))}" for i in items]
        return ["[" + comment, *inner, "]"], []
    body = draw(st.lists(st.sampled_from(["x = 1", "[t]", "[[s]]", "", " y.z = 'q'"]), max_size=3))
    quote = '"""' if kind == "mlbasic" else "'''"
    return [quote, *body, quote + comment], []


@st.composite
def inline_table(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    names = draw(st.lists(bare_text, min_size=1, max_size=3, unique=True))
    parts = [f"{n} = {draw(st.integers(0, 9))}" for n in names]
    return ["{ " + ", ".join(parts) + " }"], names


@dataclass
class Doc:
    lines: list[str] = field(default_factory=list)
    expected: dict[KeyPath, int] = field(default_factory=dict)
    inline: dict[KeyPath, int] = field(default_factory=dict)  # keys inside an inline table

    def add(self, text: str) -> int:
        self.lines.append(text)
        return len(self.lines)


@st.composite
def statements(draw: st.DrawFn, doc: Doc, table: KeyPath, taken: set[str]) -> None:
    """Key/value lines for one table; `taken` holds the names already used in it."""
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            doc.add(draw(st.sampled_from(["", "# comment = 1", "   # [not.a.table]"])))
        name = draw(key_text.filter(lambda n: n not in taken))
        taken.add(name)
        path: KeyPath = (*table, name)
        key = draw(written_key(name))
        if draw(st.integers(0, 4)) == 0:  # a dotted key: name.sub = value
            sub = draw(key_text)
            dot = draw(st.sampled_from([".", " . "]))
            key = f"{key}{dot}{draw(written_key(sub))}"
            path = (*path, sub)
        value, inner = draw(st.one_of(value_lines(), inline_table()))
        line = doc.add(f"{draw(st.sampled_from(['', '  ', chr(9)]))}{key} = {value[0]}")
        for more in value[1:]:
            doc.add(more)
        doc.expected[path] = line
        for n in inner:
            doc.inline[(*path, n)] = line


@st.composite
def documents(draw: st.DrawFn) -> Doc:
    doc = Doc()
    root_names: set[str] = set()
    draw(statements(doc, (), root_names))
    arrays: dict[str, int] = {}
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["table", "array", "array", "subtable"]))
        if kind == "array" and arrays and draw(st.booleans()):
            name = draw(st.sampled_from(sorted(arrays)))  # another element of an earlier array
        else:
            name = draw(key_text.filter(lambda n: n not in root_names))
            root_names.add(name)
        doc.add("")
        if kind == "array":
            arrays[name] = arrays.get(name, -1) + 1
            path: KeyPath = (name, arrays[name])
            line = doc.add(f"[[ {draw(written_key(name))} ]]")
        elif kind == "subtable" and arrays:
            parent = draw(st.sampled_from(sorted(arrays)))
            sub = draw(bare_text.map(lambda s: "sub-" + s))  # never one of the element's keys
            path = (parent, arrays[parent], sub)
            if any(k[:3] == path for k in doc.expected):
                continue  # that name is taken in this element
            line = doc.add(f"[{draw(written_key(parent))}.{draw(written_key(sub))}]")
        else:
            path = (name,)
            line = doc.add(f"[{draw(written_key(name))}]")
        doc.expected[path] = line
        taken = {str(k[len(path)]) for k in doc.expected if k[: len(path)] == path and k != path}
        draw(statements(doc, path, taken))
    return doc


@settings(max_examples=300, deadline=None)
@given(documents())
def test_locator_points_at_the_line_that_writes_each_key(doc: Doc) -> None:
    text = "\n".join(doc.lines) + "\n"
    tomllib.loads(text)  # the generator writes valid TOML
    loc = Locator(text)
    for path, line in doc.expected.items():
        assert loc.line(path) == line, (path, text)
    for path, line in doc.inline.items():
        assert loc.line(path) == line, (path, text)


def test_nothing_located_gives_none() -> None:
    assert Locator("").line(("a", "b")) is None
    assert Locator("a = 1\n").line(("b",)) is None
    assert Locator("a = 1\n").line(("a", 0, "x")) == 1


def test_only_newline_ends_a_line() -> None:
    """TOML strings may hold U+2028 and other Unicode line breaks: they end no line."""
    text = 'a = "x\u2028y\u0085z"\n"k\u2029" = 1\nb = 2\n'
    tomllib.loads(text)
    loc = Locator(text)
    assert (loc.line(("k\u2029",)), loc.line(("b",))) == (2, 3)
