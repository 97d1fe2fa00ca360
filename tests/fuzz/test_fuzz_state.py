"""A corrupt or hostile status state file: `ripcord status` ignores it with a warning
(or uses what it can trust), and never ends in a traceback.

The state file (plan/state.py) remembers the last observation of each repository of
a plan. It is the user's own file, but it is read back by every `status`: a damaged
one, or one edited by hand, must be set aside with a clear warning. The plan here has
one repository that cannot be reached, so `status` reports it from the file: the
remembered facts are rendered, as text and as JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.plan.state import (
    STATE_VERSION,
    Alarm,
    CopyState,
    Immutability,
    Newest,
    Proof,
    state_doc,
)
from tests.conftest import Cli
from tests.fuzz.corpus import FUZZ
from tests.fuzz.mutate import _paths, _replace, mutated

WHEN = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SNAPSHOT = "5" * 64


@dataclass(frozen=True)
class Workspace:
    plan: Path
    state: Path
    env: dict[str, str]

    def status(self, *args: str) -> tuple[int, str, str]:
        r = Cli(self.plan, self.env)("--plan", str(self.plan), "status", *args, repo=False)
        return r.code, r.out, r.err


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("state")
    (root / "src").mkdir()
    (root / "nas.pass").write_text("secret\n")
    plan = root / "office.toml"
    plan.write_text(
        f'[[source]]\npaths = ["{root / "src"}"]\n\n'
        f'[repository.nas]\nurl = "{root / "absent"}"\nmedia = "nas"\n'
        f'password_file = "{root / "nas.pass"}"\n'
    )
    env = {
        "HOME": str(root),
        "PATH": os.environ.get("PATH", ""),
        "RIPCORD_STATE_DIR": str(root / "state"),
        "RIPCORD_CACHE_DIR": str(root / "cache"),
        "RIPCORD_CONFIG_DIR": str(root / "config"),
        "RIPCORD_DATA_DIR": str(root / "data"),
        "RIPCORD_NO_PROGRESS": "1",
    }
    (root / "state").mkdir()
    return Workspace(plan, root / "state" / "office.json", env)


def remembered() -> dict[str, Any]:
    """A state file as `status` writes it, for the repository `nas`."""
    proof = Proof(SNAPSHOT, WHEN, "fail", 2, "pack 1234: damaged")
    state = CopyState(
        "nas",
        True,
        WHEN,
        newest=(Newest("office", SNAPSHOT, WHEN), Newest("home")),
        check=proof,
        drill=proof,
        immutable=Immutability(True, "a local directory"),
        alarms=(Alarm(SNAPSHOT, WHEN, "2 of 3 files deleted"),),
    )
    return {"version": STATE_VERSION, "plan": "office.toml", "repositories": [state_doc(state)]}


DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE: list[object] = [
    None,
    0,
    -1,
    True,
    2**70,
    1e999,
    "",
    "[/x]",
    "[bold]",
    "\x1b[31mred",
    "x" * 10_000,
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "2026-11-20T12:00:00",
    "nas",
    [],
    {},
    [None],
    DEEP,
]


@st.composite
def state_files(draw: st.DrawFn) -> bytes:
    """The state file with one value anywhere replaced or dropped, or its bytes damaged."""
    doc = remembered()
    text = json.dumps(doc).encode()
    if draw(st.booleans()):
        return draw(mutated(text))
    path = draw(st.sampled_from(_paths(doc)))
    new = draw(st.sampled_from(HOSTILE))
    out = json.dumps(_replace(doc, path, "DEEP" if new is DEEP else new))
    return out.replace('"DEEP"', DEEP).encode()


@FUZZ
@given(output=st.sampled_from(["text", "json"]), data=state_files())
def test_a_hostile_state_file_is_ignored_or_used_never_a_traceback(
    workspace: Workspace, output: str, data: bytes
) -> None:
    workspace.state.write_bytes(data)
    code, out, err = workspace.status(*(["--json"] if output == "json" else []))
    assert "Traceback" not in err and "unexpected error" not in err, err
    assert code in (0, 4, 6), (code, err)  # the verdict's exit codes
    if output == "json":
        json.loads(out)


def test_the_unmutated_state_file_is_used(workspace: Workspace) -> None:
    """The seed itself is trusted: the fuzz above starts from a file `status` uses."""
    workspace.state.write_text(json.dumps(remembered()))
    code, out, err = workspace.status("--json")
    assert "warning" not in err, err
    nas = json.loads(out)["repositories"][0]
    assert nas["remembered"] and nas["alarms"], out
    assert code == 6
