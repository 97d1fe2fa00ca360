"""A hostile or broken server behind a rest+http:// location: its capabilities reply is
refused with a clear StoreError, never an unexpected exception (a real HTTP server on
127.0.0.1 that answers what the test says)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from ripcord.errors import StoreError
from ripcord.storage.rest import RestStore

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def answering() -> Iterator[list[str]]:
    """A server answering every request with the body last put in the list."""
    bodies: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies[-1].encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    bodies.append(f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield bodies
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "reply",
    [
        '{"protocol": 1, "append_only": false, "max_request_size": 1e999}',
        '{"protocol": 1, "append_only": false, "max_request_size": 0}',
        '{"protocol": 1, "append_only": false, "max_request_size": -5}',
        DEEP,
        '{"protocol": 1}',
        "not json",
    ],
    ids=["huge", "zero", "negative", "deep", "partial", "text"],
)
def test_a_hostile_capabilities_reply_is_a_clear_error(answering: list[str], reply: str) -> None:
    base = answering[0]
    answering.append(reply)
    with pytest.raises(StoreError, match="is not a ripcord server"):
        RestStore.from_url(f"rest+{base.replace('//', '//backup:t0k3n@')}/repo")
