"""Replies lost on a real network (tests/flaky.py LosingProxy in front of real servers):
the request reached the server and was done, the client never heard. A put retried
after that finds its own object there, and must succeed (issue 8's "lost-response
PUT meets 412"); a put that finds other bytes is still refused."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from ripcord.cli.location import open_store
from ripcord.storage import ObjectExists, Store
from ripcord.storage.rest import RestStore
from ripcord.storage.s3 import MULTIPART_THRESHOLD, S3Store
from tests.flaky import LosingProxy
from tests.restserver import shared_rest_server
from tests.s3server import REGION, shared_server
from tests.sshserver import _SSHD


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[tuple[Store, LosingProxy]]:
    server = shared_server()
    proxy = LosingProxy(("127.0.0.1", _port(server.endpoint)))
    store = S3Store(
        server.new_bucket(),
        "lost",
        endpoint=f"http://127.0.0.1:{proxy.port}",
        region=REGION,
        part_size=5 << 20,  # S3's smallest part: multipart from 5 MiB on
    )
    yield store, proxy
    store.close()
    proxy.close()


@pytest.fixture
def rest() -> Iterator[tuple[Store, LosingProxy]]:
    server = shared_rest_server()
    real = server.new_store()
    proxy = LosingProxy(("127.0.0.1", server.port))
    where = dataclasses.replace(real.location, base=f"http://127.0.0.1:{proxy.port}")
    real.close()
    store = RestStore(where, backoff=0.01)
    yield store, proxy
    store.close()
    proxy.close()


@pytest.fixture
def sftp(tmp_path: Path) -> Iterator[tuple[Store, LosingProxy]]:
    """The store `ripcord -r sftp://...` opens (behind the retry wrapper), through the proxy."""
    server = _SSHD.start()
    proxy = LosingProxy((server.host, server.port))
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{proxy.port} {server.host_public_key}\n")
    url = (
        f"sftp://{server.user}@127.0.0.1:{proxy.port}{quote(str(tmp_path / 'remote'))}"
        f"?key={server.client_key}&known_hosts={known}"
    )
    store = open_store(url)
    yield store, proxy
    store.close()
    proxy.close()


KINDS = ["s3", "rest", "sftp"]


@pytest.fixture(params=KINDS)
def lossy(request: pytest.FixtureRequest) -> tuple[Store, LosingProxy]:
    pair: tuple[Store, LosingProxy] = request.getfixturevalue(request.param)
    return pair


# how many server messages of a put go through before the one lost: for SFTP each
# step of a put (open, write, close, rename) has its reply, and any may be the one
SKIPS = {"s3": [0, 1], "rest": [0], "sftp": [0, 1, 2, 3, 4, 5]}


@pytest.mark.parametrize(("kind", "skip"), [(k, s) for k in KINDS for s in SKIPS[k]])
def test_a_put_whose_reply_was_lost_succeeds(
    request: pytest.FixtureRequest, kind: str, skip: int
) -> None:
    store, proxy = request.getfixturevalue(kind)
    store.put("config", b"first, to open the connection")
    data = os.urandom(100_000)
    proxy.lose_next_reply(skip)
    store.put("data/ab/abcd", data)
    assert proxy.lost == 1  # the fault happened
    assert store.get("data/ab/abcd") == data


def test_an_s3_multipart_put_whose_completion_reply_was_lost_succeeds(
    s3: tuple[Store, LosingProxy],
) -> None:
    store, proxy = s3
    data = os.urandom((5 << 20) * 2 + 1000)
    assert len(data) > 5 << 20 and MULTIPART_THRESHOLD >= 5 << 20
    store.put("config", b"x")
    # create, three parts (each a 100-continue, then its reply) go through; the
    # completion's reply is lost
    proxy.lose_next_reply(skip=7)
    store.put("data/mp/multi", data)
    assert proxy.lost == 1
    assert store.get("data/mp/multi") == data


def test_a_retried_put_that_finds_other_bytes_is_refused(
    lossy: tuple[Store, LosingProxy],
) -> None:
    store, proxy = lossy
    store.put("snapshots/x", b"theirs")
    proxy.lose_next_reply()
    with pytest.raises(ObjectExists):
        store.put("snapshots/x", b"ours!!")
    assert store.get("snapshots/x") == b"theirs"
