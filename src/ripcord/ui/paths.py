"""Paths of a snapshot in URLs, and file names in downloads.

Names in a snapshot are bytes: not always UTF-8, and they may hold `?`, `#`, `%`,
spaces or newlines. A URL carries them as the percent-encoding of the raw bytes,
component by component, and the server decodes them from the request's raw path
(the ASGI `path` is already decoded as UTF-8 with replacement: it loses bytes).
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ripcord.archive.node import check_name
from ripcord.errors import UnsafePath


class _AnyPath(Convertor[str]):
    """`{x:anypath}`: the rest of the path, newlines included (starlette's `path` is
    `.*`, which stops at a newline a file name may hold)."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anypath", _AnyPath())


def quote_path(path: bytes) -> str:
    """'/a b/\\xff' -> 'a%20b/%FF': every byte but the unreserved ones percent-encoded."""
    return "/".join(quote(c, safe="") for c in path.split(b"/") if c)


def unquote_path(tail: bytes) -> bytes:
    """The snapshot path a URL tail names ('a%20b/%FF' -> b'/a b/\\xff').

    A component that is not a possible name ('..', '.', NUL, too long) names nothing
    in any snapshot: 404, like a name that is not there.
    """
    parts = [unquote_to_bytes(c) for c in tail.split(b"/") if c]
    try:
        for p in parts:
            check_name(p)
    except UnsafePath:
        raise HTTPException(404, "no such path in the snapshot") from None
    return b"/" + b"/".join(parts)


def path_after(request: Request, segments: int) -> bytes:
    """The snapshot path in the request's raw URL after its first `segments` segments
    (`/snapshots/REPO/ID/browse/a%20b` with 4 -> b'/a b')."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    pieces = raw.split(b"/", segments + 1)
    return unquote_path(pieces[segments + 1] if len(pieces) > segments + 1 else b"")


def query_name(request: Request, key: str) -> bytes | None:
    """The name a query parameter carries as percent-encoded raw bytes (`?after=%FF`),
    from the raw query (starlette decodes it as UTF-8 with replacement, losing bytes);
    None when absent, 404 when it is not a possible name."""
    raw: bytes = request.scope.get("query_string", b"")
    for piece in raw.split(b"&"):
        k, _, v = piece.partition(b"=")
        if k == key.encode():
            name = unquote_to_bytes(v.replace(b"+", b" "))
            try:
                return check_name(name)
            except UnsafePath:
                raise HTTPException(404, "no such name in the folder") from None
    return None


def shown(path: bytes) -> str:
    """A path as text for a page: bytes that are not UTF-8 shown as \\xNN escapes."""
    return path.decode("utf-8", "backslashreplace")


def text(s: str) -> str:
    """A name read from a repository as str (bytes that were not UTF-8 kept as
    surrogate escapes) made fit for a page."""
    return shown(s.encode("utf-8", "surrogateescape"))


_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+,=@\[\]{}~-]")


def disposition(name: bytes) -> str:
    """Content-Disposition for a download called `name`: an ASCII fallback (RFC 6266)
    and the exact name as UTF-8 (RFC 5987); nothing a header or a shell could trip on."""
    text = name.decode("utf-8", "replace")
    fallback = _UNSAFE.sub("_", text).strip(" .") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(text, safe='')}"
