"""A TCP proxy on 127.0.0.1 that holds every byte for a fixed delay each way (stdlib only).

Loopback has no latency, so on it one transfer at a time costs nothing; a real link to a
NAS or an S3 region has 1-100 ms of it, which is what parallel transfers are for. The
kernel's netem would do this better, but it needs a module these machines lack. Bandwidth
is not limited: only the round trip is added, `2 * delay`.

    with DelayProxy(target_port, delay=0.010) as port: ...   # connect to 127.0.0.1:port
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from types import TracebackType

_CHUNK = 256 << 10


class DelayProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target>, `delay` seconds late in each direction."""

    def __init__(self, target: int, delay: float) -> None:
        self.target, self.delay = target, delay
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)

    def __enter__(self) -> int:
        self._thread.start()
        self._ready.wait()
        return self.port

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, reuse_address=True)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _serve(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            down_w.close()
            return
        await asyncio.gather(self._pipe(down_r, up_w), self._pipe(up_r, down_w))

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        """Read as fast as bytes come; write each piece `delay` after it came, in order."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                dst.write(data)
                await dst.drain()

        sender = asyncio.ensure_future(send())
        with contextlib.suppress(OSError):
            while data := await src.read(_CHUNK):
                queue.put_nowait((time.monotonic() + self.delay, data))
        queue.put_nowait((0.0, b""))
        with contextlib.suppress(OSError):
            await sender
        with contextlib.suppress(OSError):
            dst.close()
