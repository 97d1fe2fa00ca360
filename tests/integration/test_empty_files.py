"""Empty files are backed up from their lstat alone: nothing to read, so no open, read
and fstat each (a folder of a million empty files spent most of its backup on them),
and they come back the same, extended attributes included."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ripcord.archive import backup as backup_module
from tests.conftest import Cli
from tests.trees import assert_round_trip


def test_empty_files_are_never_opened_and_come_back_whole(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(40):
        (src / f"empty-{i}").write_bytes(b"")
    os.setxattr(src / "empty-7", "user.tag", b"kept")
    (src / "full").write_text("read as ever\n")
    opened: list[bytes] = []
    real = backup_module._open_noatime

    def counting(path: bytes) -> int:
        opened.append(path)
        return real(path)

    monkeypatch.setattr(backup_module, "_open_noatime", counting)
    cli.ok("backup", str(src))
    assert [os.path.basename(p) for p in opened] == [b"full", b"full"]  # read-ahead, read
    out = assert_round_trip(cli, src, tmp_path / "out")
    assert os.getxattr(out / "empty-7", "user.tag") == b"kept"
