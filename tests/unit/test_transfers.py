"""The repository uploads as many packs at once as its store says it runs well
(`Capabilities.transfers`): a remote store's uploads each wait on the network."""

from __future__ import annotations

import random
import threading

import pytest

from ripcord.repository import DATA, Repository
from ripcord.repository.packer import PACK_TARGET
from ripcord.storage import Capabilities, MemoryStore, PutOptions
from tests.conftest import FAST_KDF, PASSWORD

# a failure guard only: with fewer uploads at once the barrier never fills and breaks here
_NEVER = 120.0


class _Together(MemoryStore):
    """Lets a pack in only once `transfers` packs are being put at the same moment."""

    def __init__(self, transfers: int) -> None:
        super().__init__()
        self.capabilities = Capabilities(transfers=transfers)
        self.together = threading.Barrier(transfers, timeout=_NEVER)

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        if name.startswith("data/"):
            self.together.wait()
        super().put(name, data, options)


@pytest.mark.parametrize("transfers", [2, 4])
def test_packs_upload_as_many_at_once_as_the_store_asks(transfers: int) -> None:
    store = _Together(transfers)
    rng = random.Random(transfers)
    with Repository.init(store, PASSWORD.encode(), FAST_KDF) as repo:
        for _ in range(2 * transfers):  # each blob fills a pack: two full rounds at once
            repo.add_blob(DATA, rng.randbytes(PACK_TARGET))
        repo.flush()
    assert sum(n.startswith("data/") for n in store.objects) == 2 * transfers
