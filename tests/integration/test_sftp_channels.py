"""One SSH connection, several SFTP sessions on it: a thread's request does not wait for
another thread's, and many threads' transfers at once all arrive whole."""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ripcord.storage import ObjectNotFound
from tests.sshserver import SshServer, children, sftp_store, sshd_fixture  # noqa: F401 (the fixture)

# failure guards only: a store that serialises its requests never gets past these
_NEVER = 60.0


def _waiting_in_fifo_open(sshd: SshServer) -> bool:
    """Whether a session of this server is blocked opening a FIFO no one writes to yet."""
    master = int((sshd.base / "sshd.pid").read_text())
    for pid in children(master):
        try:
            if Path(f"/proc/{pid}/wchan").read_text() == "wait_for_partner":
                return True
        except OSError:
            continue  # ended meanwhile
    return False


def test_a_request_does_not_wait_for_another_threads_request(
    sshd: SshServer, tmp_path: Path
) -> None:
    store = sftp_store(tmp_path)
    store.put("config", b"settings")
    fifo = tmp_path / "sftp-store" / "data" / "00" / "fifo"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    stuck_answer: list[BaseException] = []

    def stuck() -> None:  # the server's open() of a FIFO waits until a writer comes
        try:
            store.get("data/00/fifo")
        except BaseException as e:
            stuck_answer.append(e)

    first = threading.Thread(target=stuck)
    first.start()
    meanwhile: list[bytes] = []
    second = threading.Thread(target=lambda: meanwhile.append(store.get("config")))
    try:
        deadline = time.monotonic() + _NEVER
        while not _waiting_in_fifo_open(sshd):
            assert time.monotonic() < deadline, "the first request never reached the FIFO"
            time.sleep(0.01)
        second.start()
        second.join(_NEVER)
        assert meanwhile == [b"settings"]  # answered while the first still waits
        assert first.is_alive()
    finally:
        writer = os.open(fifo, os.O_RDWR)  # never blocks: lets the server's open() finish
        first.join()
        second.join()
        os.close(writer)
        store.close()
    assert len(stuck_answer) == 1 and isinstance(stuck_answer[0], ObjectNotFound)


def test_many_threads_transfers_at_once_all_arrive_whole(sshd: SshServer, tmp_path: Path) -> None:
    store = sftp_store(tmp_path)
    rng = random.Random(3)
    objects = {
        f"data/{i:02x}/{i:064x}": rng.randbytes(rng.randrange(1, 3 << 20)) for i in range(32)
    }
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda kv: store.put(*kv), objects.items()))
            read = dict(zip(objects, pool.map(store.get, objects), strict=True))
            parts = dict(
                zip(objects, pool.map(lambda n: store.get(n, 1000, 70_000), objects), strict=True)
            )
        assert read == objects
        assert parts == {n: d[1000:71_000] for n, d in objects.items()}
        assert sorted(i.name for i in store.list("data")) == sorted(objects)
    finally:
        store.close()
