"""One directory of many entries: backup lets each scanned entry go once its wire node is
made, so the listing is not held whole beside the wire nodes (bench/RESULTS.md §Memory
per entry of one big directory)."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

from ripcord.archive.backup import Backup, BackupOptions
from ripcord.repository import Repository
from ripcord.storage import LocalStore
from tests.conftest import FAST_KDF, PASSWORD

ENTRIES = 20_000
# traced peak of the whole backup, per entry: 1642 bytes with every entry (its name,
# path and os.stat_result) held to the end of the directory, 1247 without
LIMIT = 1450


def test_a_big_directory_is_backed_up_without_holding_its_listing_to_the_end(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(ENTRIES):
        os.close(os.open(src / f"f{i:07}", os.O_CREAT | os.O_WRONLY, 0o644))
    with Repository.init(
        LocalStore(tmp_path / "repo", create=True), PASSWORD.encode(), FAST_KDF
    ) as repo:
        tracemalloc.start()
        try:
            report = Backup(repo, BackupOptions([str(src)])).run()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert report.files_new == ENTRIES and not report.errors
    assert peak / ENTRIES < LIMIT
