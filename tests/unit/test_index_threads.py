"""An open repository handed from thread to thread, one at a time (the dashboard's
Site keeps one open across requests, each served by a pool thread)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ripcord.repository import Repository
from ripcord.repository.pack import DATA


def test_the_index_answers_in_a_thread_other_than_the_one_that_opened_it(
    mem_repo: Repository,
) -> None:
    blob_id, _ = mem_repo.add_blob(DATA, b"hello from another thread")
    mem_repo.flush()
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(mem_repo.read_blob, blob_id).result() == b"hello from another thread"
