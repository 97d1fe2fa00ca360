"""Writers that only know how to write (tarfile, zipfile) feeding a response that
is read piece by piece: the writer runs in a thread of its own and hands ~1 MiB
pieces through a small bounded queue, so memory stays bounded however big the
download, and a client that goes away stops the writer."""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import BinaryIO

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

PIECE = 1 << 20  # bytes handed over at once
DEPTH = 4  # pieces waiting for the client at most


class _Gone(Exception):
    """The reader stopped reading: the writer gives up."""


class _End:
    """The writer is done (error: why it failed)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class Pipe(io.RawIOBase):
    """The writing end: not seekable, so zipfile writes data descriptors."""

    def __init__(self) -> None:
        self.queue: queue.Queue[bytes | _End] = queue.Queue(DEPTH)
        self.gone = threading.Event()
        self._buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buf += data
        if len(self._buf) >= PIECE:
            self._put(bytes(self._buf))
            self._buf.clear()
        return len(data)

    def end(self, error: BaseException | None = None) -> None:
        if error is None and self._buf:
            self._put(bytes(self._buf))
            self._buf.clear()
        self._put(_End(error))

    def _put(self, item: bytes | _End) -> None:
        while not self.gone.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise _Gone


def pieces(produce: Callable[[BinaryIO], None], name: str) -> Generator[bytes, None, None]:
    """What `produce(pipe)` writes, piece by piece, while it writes; its error, if
    it fails, is raised here (the response is cut short, never quietly complete)."""
    pipe = Pipe()

    def run() -> None:
        try:
            produce(pipe)  # type: ignore[arg-type]
        except _Gone:
            return
        except BaseException as e:
            with contextlib.suppress(_Gone):
                pipe.end(e)
            return
        with contextlib.suppress(_Gone):
            pipe.end()

    writer = threading.Thread(target=run, name=name, daemon=True)
    writer.start()
    try:
        while True:
            item = pipe.queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        pipe.gone.set()
        writer.join()


def started(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`chunks` with its first piece already read, so that a failure to begin (the
    repository cannot be opened, the file's first chunk is missing) raises here,
    while the page can still answer with an error instead of a cut-short download."""
    first = next(chunks, b"")

    def rest() -> Iterator[bytes]:
        try:
            yield first
            yield from chunks
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    return rest()


async def relayed(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """`chunks` for a StreamingResponse, each read in a worker thread; closed (so its
    writer stops) when the response ends, whether or not the client read it all."""
    try:
        async for c in iterate_in_threadpool(chunks):
            yield c
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await run_in_threadpool(close)
