"""The change guard with the cheaper signals: tiny files (16 to 127 bytes) encrypted in
place are still caught by their kind; tiny binary files do not count as random-looking;
and a ransom note is still found by its content, though only files new to a source
are looked at for one."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ripcord.errors import EXIT_GUARD_ALARM
from tests.conftest import Cli
from tests.samples import NOTES


def backup(cli: Cli, path: Path) -> tuple[int, Any]:
    r = cli("backup", str(path), "--json")
    assert r.code in (0, EXIT_GUARD_ALARM), r.err
    return r.code, r.json["guard"]


def tiny_texts(root: Path, files: int = 200) -> Path:
    """Small settings files of 20 to 100 bytes, as /etc and dotfile folders hold."""
    rng = random.Random(3)
    for i in range(files):
        (root / f"conf{i // 50}").mkdir(parents=True, exist_ok=True)
        line = f"option_{i:03} = {rng.choice(['yes', 'no', 'auto'])}\n"
        (root / f"conf{i // 50}" / f"{i:03}.conf").write_text(line * rng.randint(1, 4))
    return root


def test_tiny_files_encrypted_in_place_are_an_alarm(cli: Cli, tmp_path: Path) -> None:
    src = tiny_texts(tmp_path / "src")
    sizes = [f.stat().st_size for f in src.rglob("*.conf")]
    assert min(sizes) >= 16 and max(sizes) < 128
    backup(cli, src)
    for f in sorted(src.rglob("*.conf"))[::10]:
        cipher = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(os.urandom(16))).encryptor()
        f.write_bytes(cipher.update(f.read_bytes()))
    code, guard = backup(cli, src)
    assert code == EXIT_GUARD_ALARM, guard
    assert guard["changes"]["turned_random"] == 20
    assert any("went from compressible to random-looking" in r for r in guard["reasons"])


def test_tiny_binary_files_do_not_count_as_random_looking(cli: Cli, tmp_path: Path) -> None:
    """A compressor finds any 100 bytes random-looking: a folder of small binary files
    added is no growth of random-looking files (the slow-encryption rule)."""
    src = tiny_texts(tmp_path / "src")
    (src / "big.bin").write_bytes(random.Random(1).randbytes(4096))  # random, and counted
    _, first = backup(cli, src)
    assert first["changes"]["random_files"] == 1
    rng = random.Random(2)
    (src / "state").mkdir()
    for i in range(60):  # 30 % of the files
        (src / "state" / f"{i}.bin").write_bytes(rng.randbytes(rng.randint(16, 127)))
    code, second = backup(cli, src)
    assert code == 0 and second["verdict"] == "ok", second
    assert second["changes"]["random_files"] == 1


def test_a_ransom_note_new_to_the_source_is_found_by_its_content(cli: Cli, tmp_path: Path) -> None:
    src = tiny_texts(tmp_path / "src")
    backup(cli, src)
    (src / "conf1" / "letter.txt").write_bytes(NOTES["english"].encode())  # an ordinary name
    code, guard = backup(cli, src)
    assert code == 0 and guard["verdict"] == "warn", guard
    assert any(
        "reads like a ransom note appeared" in r and "conf1/letter.txt" in r
        for r in guard["reasons"]
    ), guard["reasons"]
