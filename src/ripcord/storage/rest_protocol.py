"""What `ripcord serve` and the rest+http(s):// store agree on (docs/SERVER.md).

Both ends import these few constants and the listing codec from here, so the
protocol is written down in code once. The server package sits above storage
and may import it; the client is `ripcord.storage.rest`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import msgpack

PROTOCOL = 1  # the version a capabilities answer names; a client refuses another
MSGPACK = "application/x-msgpack"
JSON = "application/json"

# a repository (and user) name: one segment of an object name
REPOSITORY_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")

# Object names are written in the URL as they are: the name alphabet needs no escaping, so
# a path with anything else in it (a `%` escape, a dot, a backslash) is refused outright.
PLAIN_PATH = re.compile(rb"^[a-z0-9_/-]*$")

# What a server keeps of a listing before sending it: one hop to a worker thread per batch
LIST_BATCH = 1000


def encode_listing(entries: Iterable[tuple[str, int]]) -> Iterator[bytes]:
    """A listing as a stream of msgpack `[name, size]` arrays, batched into chunks."""
    packer = msgpack.Packer()
    batch: list[bytes] = []
    for name, size in entries:
        batch.append(packer.pack([name, size]))
        if len(batch) >= LIST_BATCH:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


class ListingDecoder:
    """Turns the bytes of a msgpack listing, fed as they arrive, into (name, size) pairs.

    Malformed input (not `[str, int]` entries, an entry over 64 KiB) is a ValueError."""

    _SLICE = 64 << 10

    def __init__(self) -> None:
        self._unpacker = msgpack.Unpacker(max_buffer_size=4 * self._SLICE)

    def feed(self, data: bytes) -> Iterator[tuple[str, int]]:
        view = memoryview(data)
        for start in range(0, len(view), self._SLICE):
            try:
                self._unpacker.feed(view[start : start + self._SLICE])
            except msgpack.BufferFull:
                raise ValueError("a listing entry over 64 KiB") from None
            for entry in self._unpacker:
                if (
                    not isinstance(entry, list)
                    or len(entry) != 2
                    or not isinstance(entry[0], str)
                    or type(entry[1]) is not int
                    or entry[1] < 0
                ):
                    raise ValueError(f"not a listing entry: {entry!r:.80}")
                yield entry[0], entry[1]
