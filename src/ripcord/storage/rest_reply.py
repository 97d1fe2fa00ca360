"""A REST server's reply, read whole but never past what its request allows.

The server is not trusted with the client's memory: an error body, a capabilities
answer or a ranged read that goes on for gigabytes is cut off one chunk past its
bound and refused, and a Content-Length over the bound is refused before any of the
body is read. Replies are read as sent (the client asks for no content encoding):
a compressed reply could inflate a thousandfold inside a single chunk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from ripcord.errors import StoreError

SMALL = 64 << 10  # any reply but an object's bytes: errors, capabilities, put and delete


class ReplyTooLarge(StoreError):
    """a reply longer than its request allows"""


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError (or RecursionError) when it is not."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def message(self) -> str:
        """What the server says went wrong, in one short line."""
        try:
            doc = self.json()
            if isinstance(doc, dict) and "error" in doc:
                return str(doc["error"])[:200]
        except (ValueError, RecursionError):
            pass
        return self.text[:200] or self.reason


def unencoded(r: httpx.Response, where: str, what: str) -> httpx.Response:
    """`r`, or StoreError if its body is content-encoded (none was asked for)."""
    encoding = r.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise StoreError(f"{where} sent {what} encoded as {encoding!r:.40}, which was not asked")
    return r


def read_reply(r: httpx.Response, bound: int | None, where: str, what: str) -> Reply:
    """`r`'s status, headers and body; StoreError if the body passes `bound` bytes
    (None: no bound; an object read whole) or is content-encoded."""
    unencoded(r, where, what)
    declared = r.headers.get("content-length", "")
    if bound is not None and declared.isdigit() and int(declared) > bound:
        raise ReplyTooLarge(f"{where} sent more than {bound} bytes for {what}")
    chunks: list[bytes] = []
    size = 0
    for chunk in r.iter_raw():
        size += len(chunk)
        if bound is not None and size > bound:
            raise ReplyTooLarge(f"{where} sent more than {bound} bytes for {what}")
        chunks.append(chunk)
    return Reply(r.status_code, r.reason_phrase, r.headers, b"".join(chunks))
