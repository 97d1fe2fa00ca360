"""docs/PLAN.md stays true: its example is a valid plan, and it names every key."""

from __future__ import annotations

import re
from pathlib import Path

from ripcord.plan.dump import plan_dict
from ripcord.plan.load import parse_plan

DOC = Path(__file__).parents[2] / "docs" / "PLAN.md"


def example() -> str:
    m = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert m is not None
    return m[1]


def test_the_annotated_example_is_a_valid_plan() -> None:
    plan = parse_plan(example(), Path("/etc/ripcord/office.toml"))
    assert [r.name for r in plan.repositories] == ["usb", "nas", "cloud"]
    assert plan.repositories[2].retention is not None
    assert plan.check is not None and plan.drill is not None


def keys_of(value: object) -> set[str]:
    """Every key in a nested plan_dict, except the repositories' own names."""
    if isinstance(value, list):
        return set().union(*map(keys_of, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    first = next(iter(value.values()), None)
    names = set() if isinstance(first, dict) and "media" in first else set(value)
    return names.union(*map(keys_of, value.values()))


def test_every_key_of_a_plan_is_documented() -> None:
    keys = keys_of(plan_dict(parse_plan(example(), Path("office.toml"))))
    keys |= {"password_command", "keep_within", "keep_tags", "offline", "host"}
    text = DOC.read_text()
    assert "keep_daily" in keys and "max_bytes" in keys and "on_alarm" in keys
    forms = ("`{}`", "`[{}]`", "`[[{}]]`", "`[{}.NAME]`")
    missing = [k for k in sorted(keys) if not any(f.format(k) in text for f in forms)]
    assert missing == []
