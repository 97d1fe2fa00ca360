"""A hostile REST server's replies beyond its capabilities: every store operation gets
a value or a clear StoreError, never an unexpected exception, and no reply makes the
client hold more than the request allows.

A real HTTP server on 127.0.0.1 answers the capabilities request honestly (so the
store opens), then answers everything else with the reply a test draws: any status,
bodies of junk, JSON error documents (deep, huge, of the wrong types), msgpack
listings with bad entries, Content-Length headers that lie or are not numbers, and
content encodings nobody asked for.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.errors import RipcordError, StoreError
from ripcord.storage import ObjectInfo
from ripcord.storage.rest import RestStore, parse_rest_url
from ripcord.storage.rest_protocol import encode_listing
from tests.fuzz.corpus import FUZZ
from tests.fuzz.mutate import mutated

CAPABILITIES = b'{"protocol": 1, "append_only": false, "max_request_size": 1048576}'
RANGE = 100  # bytes a ranged read asks for
HUGE = 1 << 30  # what an endless reply offers


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    length: str | None = "exact"  # the Content-Length sent: exact, none, or this text
    endless: bool = False  # HUGE bytes of body, sent until the client hangs up


@dataclass
class Script:
    reply: Reply = field(default_factory=Reply)
    capabilities: bool = False  # answer the capabilities request with `reply` too
    sent: list[int] = field(default_factory=list)  # body bytes written, per reply
    done: threading.Event = field(default_factory=threading.Event)  # a scripted reply ended


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        honest = self.path.endswith("/capabilities") and not self.script.capabilities
        reply = Reply(body=CAPABILITIES) if honest else self.script.reply
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.length == "exact":
            self.send_header("Content-Length", str(HUGE if reply.endless else len(reply.body)))
        elif reply.length is not None:
            self.send_header("Content-Length", reply.length)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        sent = 0
        try:
            if reply.endless:
                chunk = bytes(64 << 10)
                while sent < HUGE:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            else:
                self.wfile.write(reply.body)
                sent = len(reply.body)
        except OSError:
            pass  # the client hung up: what it refused to read
        finally:
            if not honest:
                self.script.sent.append(sent)
                self.script.done.set()

    do_GET = do_PUT = do_DELETE = do_HEAD = _answer

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("Scripted", (Handler,), {"script": script})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"rest+http://backup:t0k3n@127.0.0.1:{httpd.server_address[1]}/repo", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def open_store(url: str) -> RestStore:
    """Two attempts and no pauses: a retried fault costs nothing but a request."""
    return RestStore(parse_rest_url(url), attempts=2, backoff=0.0, timeout=10.0)


@pytest.fixture(scope="module")
def store(server: tuple[str, Script]) -> Iterator[RestStore]:
    """One store for every example (making an httpx client costs ~50 ms)."""
    opened = open_store(server[0])
    try:
        yield opened
    finally:
        opened.close()


OPERATIONS: dict[str, Callable[[RestStore], object]] = {
    "get": lambda s: s.get("snapshots/x"),
    "ranged get": lambda s: s.get("data/x", 5, RANGE),
    "stat": lambda s: s.stat("snapshots/x"),
    "list": lambda s: list(s.list("snapshots")),
    "put": lambda s: s.put("locks/x", b"lock bytes"),
    "delete": lambda s: s.delete("locks/x"),
}


def check_outcome(operation: str, outcome: object) -> None:
    """What a successful operation may return, whatever the server said."""
    if operation == "ranged get":
        assert isinstance(outcome, bytes) and len(outcome) <= RANGE
    elif operation == "stat":
        assert isinstance(outcome, ObjectInfo) and outcome.size >= 0
    elif operation == "list":
        assert isinstance(outcome, list)
        for info in outcome:
            assert info.name.startswith("snapshots/") and info.size >= 0


deep_json = b'{"error": ' + b"[" * 5000 + b"]" * 5000 + b"}"
error_values: st.SearchStrategy[object] = st.sampled_from(
    [None, 1, 1e999, [], {}, "long", "\x1b[31mred", "\u2028"]
)
json_bodies = st.one_of(
    st.just("deep").map(lambda _: deep_json),
    error_values.map(lambda v: json.dumps({"error": "x" * 5000 if v == "long" else v}).encode()),
    st.just(b'{"error": "no such object"}'),
    st.just(b"[1, 2, 3]"),
)
listing_entries = st.lists(
    st.tuples(
        st.sampled_from(["snapshots/a", "snapshots/../x", "other/a", "", "SNAPSHOTS/A", "a" * 300]),
        st.sampled_from([0, 1, -1, 2**63, 2**64 - 1, -(2**63)]),
    ),
    max_size=5,
)


@st.composite
def listings(draw: st.DrawFn) -> bytes:
    entries = draw(listing_entries)
    packed = b"".join(msgpack.packb([n, s]) for n, s in entries) if entries else b""
    if not packed or draw(st.booleans()):
        packed = b"".join(encode_listing([("snapshots/a", 10)])) + packed
    return draw(st.just(packed) | mutated(packed))


replies = st.builds(
    Reply,
    status=st.sampled_from([200, 204, 206, 299, 301, 400, 401, 403, 404, 409, 413, 416, 500])
    | st.sampled_from([502, 503, 507, 599]),
    headers=st.lists(
        st.sampled_from(
            [
                ("Content-Encoding", "gzip"),
                ("Content-Encoding", "identity"),
                ("Content-Encoding", "br"),
                ("Content-Type", "application/json"),
                ("Content-Type", "application/x-msgpack"),
                ("Content-Range", "bytes 0-99/100"),
            ]
        ),
        max_size=2,
    ),
    body=st.one_of(st.binary(max_size=300), json_bodies, listings()),
    length=st.sampled_from(["exact", None, "0", "3", "999", "abc", "-5", "1_0", " 7", "9" * 25]),
)


@FUZZ
@given(operation=st.sampled_from(sorted(OPERATIONS)), reply=replies)
def test_a_hostile_reply_is_a_value_or_a_clear_store_error(
    server: tuple[str, Script], store: RestStore, operation: str, reply: Reply
) -> None:
    server[1].reply, server[1].capabilities = reply, False
    try:
        outcome: object = OPERATIONS[operation](store)
    except RipcordError as e:
        assert str(e), "an error with no message"
    else:
        check_outcome(operation, outcome)


@pytest.mark.parametrize(
    ("operation", "status", "declared"),
    [
        ("ranged get", 206, False),
        ("ranged get", 206, True),
        ("get", 500, False),
        ("put", 201, False),
        ("delete", 404, True),
        ("list", 500, False),
        ("capabilities", 200, False),
        ("capabilities", 200, True),
    ],
)
def test_an_endless_reply_is_cut_off_after_its_bound(
    server: tuple[str, Script], operation: str, status: int, declared: bool
) -> None:
    """A server offering a gigabyte where a ranged read, an error, a put's answer or the
    capabilities fit in a few KiB: refused, and it could only send what the sockets
    between them buffer (a Content-Length over the bound: nothing is read at all)."""
    url, script = server
    script.reply = Reply(status=status, endless=True, length="exact" if declared else None)
    script.capabilities = operation == "capabilities"
    script.sent.clear()
    script.done.clear()
    with pytest.raises(StoreError):
        store = open_store(url)
        try:
            if operation != "capabilities":
                OPERATIONS[operation](store)
        finally:
            store.close()
    script.done.wait(60)  # the server's last write fails once the client has hung up
    assert script.sent and max(script.sent) < 32 << 20, script.sent
