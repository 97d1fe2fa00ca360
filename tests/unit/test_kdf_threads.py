"""Repositories opened from several threads at once (status observes every copy of a
plan together) each derive their key: no derivation may fail for another's sake."""

from __future__ import annotations

import threading

from ripcord.repository import KdfParams, Repository
from ripcord.storage import MemoryStore

PASSWORD = b"pw"


def test_repositories_open_together_from_threads() -> None:
    kdf = KdfParams(iterations=1, memory_kib=1024, lanes=4)  # lanes > 1: OpenSSL's threads
    stores = [MemoryStore() for _ in range(4)]
    for store in stores:
        Repository.init(store, PASSWORD, kdf).close()
    failed: list[BaseException] = []

    def open_often(store: MemoryStore) -> None:
        try:
            for _ in range(5):
                Repository.open(store, PASSWORD).close()
        except BaseException as e:
            failed.append(e)

    threads = [threading.Thread(target=open_often, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == []
