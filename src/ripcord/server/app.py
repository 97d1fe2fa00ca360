"""The HTTP side of `ripcord serve`: a starlette app over LocalStores under one root.

Routes (docs/SERVER.md has the whole protocol):

    GET                      /{repo}/capabilities
    GET                      /{repo}/list/{prefix}
    GET HEAD PUT DELETE      /{repo}/objects/{name}

Every request is authenticated (HTTP Basic, user and token) and confined to the
user's own repository before anything is read or written. Names are checked
twice: the raw path may hold only the name alphabet (no `%` escapes, dots or
backslashes can reach the router), and each store checks `validate_name`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ripcord.errors import RepositoryNotFound, StoreError
from ripcord.server.users import Users
from ripcord.storage import (
    InvalidName,
    LocalStore,
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    StoreFull,
    validate_name,
)
from ripcord.storage.rest_protocol import (
    JSON,
    MSGPACK,
    PLAIN_PATH,
    PROTOCOL,
    REPOSITORY_NAME,
    encode_listing,
)

# Packs are ~8 MiB of plaintext plus at most one bundle or chunk (4 MiB each) and their
# trailer; parity is at most the size of its pack; snapshots and marks are read back
# only up to 16 MiB, plans up to 64 MiB (pending.py: MAX_PENDING), index files hold at
# most 100,000 blobs (~6 MiB). So no object ripcord writes exceeds 64 MiB, with room.
DEFAULT_MAX_REQUEST = 72 << 20

log = logging.getLogger("ripcord.serve")


BCRYPT_AT_ONCE = 1  # bcrypt checks of unknown tokens running at once


@dataclass(frozen=True)
class ServerOptions:
    root: Path
    users: Path
    append_only: bool = False
    max_request_size: int = DEFAULT_MAX_REQUEST


class Refused(Exception):
    """A request the server answers with an error status and a message for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Repositories:
    """One LocalStore per repository directory under the root, opened on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stores: dict[str, LocalStore] = {}
        self._lock = threading.Lock()

    def get(self, name: str, create: bool = False) -> LocalStore | None:
        """The repository's store; None if it has no directory yet and `create` is false."""
        with self._lock:
            store = self._stores.get(name)
            if store is None:
                path = self.root / name
                if not create and not path.is_dir():
                    return None
                store = self._stores[name] = LocalStore(path, create=create)
            return store


def create_app(options: ServerOptions, users: Users) -> ASGIApp:
    """The ASGI app: routes behind the raw-path check and the access log."""
    handlers = _Handlers(options, users, Repositories(options.root))
    app = Starlette(
        routes=[
            Route("/{repo}/capabilities", handlers.capabilities, methods=["GET"]),
            Route("/{repo}/list/{prefix:path}", handlers.listing, methods=["GET"]),
            Route(
                "/{repo}/objects/{name:path}",
                handlers.obj,
                methods=["GET", "HEAD", "PUT", "DELETE"],
            ),
        ],
        exception_handlers={HTTPException: _http_error},  # type: ignore[dict-item]
    )
    return _AccessLog(_PlainPaths(app))


class _Handlers:
    def __init__(self, options: ServerOptions, users: Users, repos: Repositories) -> None:
        self.options = options
        self.users = users
        self.repos = repos
        # a flood of wrong tokens for users not yet seen costs ~0.25 s of bcrypt each:
        # one at a time, they queue on the event loop, not in the worker threads that
        # every request's store calls need, and clients already seen skip bcrypt
        self._bcrypt = asyncio.Semaphore(BCRYPT_AT_ONCE)

    async def capabilities(self, request: Request) -> Response:
        return await _answer(self._capabilities(request))

    async def _capabilities(self, request: Request) -> Response:
        await self._authorize(request)
        return JSONResponse(
            {
                "protocol": PROTOCOL,
                "append_only": self.options.append_only,
                "max_request_size": self.options.max_request_size,
            }
        )

    async def listing(self, request: Request) -> Response:
        return await _answer(self._listing(request))

    async def _listing(self, request: Request) -> Response:
        repo = await self._authorize(request)
        prefix = _name(request.path_params["prefix"])
        store = await run_in_threadpool(self.repos.get, repo)
        entries: Iterable[ObjectInfo] = () if store is None else store.list(prefix)
        pairs = ((i.name, i.size) for i in entries)
        if MSGPACK in request.headers.get("accept", ""):
            return StreamingResponse(encode_listing(pairs), media_type=MSGPACK)
        return StreamingResponse(_json_listing(pairs), media_type=JSON)

    async def obj(self, request: Request) -> Response:
        return await _answer(self._obj(request))

    async def _obj(self, request: Request) -> Response:
        repo = await self._authorize(request)
        name = _name(request.path_params["name"])
        if request.method == "PUT":
            return await self._put(request, repo, name)
        store = await run_in_threadpool(self.repos.get, repo)
        if request.method == "DELETE":
            if self.options.append_only and not name.startswith("locks/"):
                raise Refused(
                    403,
                    f"cannot delete {name}: this server is append-only; only lock objects"
                    " can be deleted through it (prune on the server itself)",
                )
            if store is None:
                raise ObjectNotFound(f"{name} not found")
            await run_in_threadpool(store.delete, name)
            return Response(status_code=204)
        if store is None:
            raise ObjectNotFound(f"{name} not found")
        info = await run_in_threadpool(store.stat, name)
        if request.method == "HEAD":
            return Response(headers={"content-length": str(info.size)})
        wanted = _range(request.headers.get("range"))
        if wanted is None:
            return Response(await run_in_threadpool(store.get, name), media_type=_OCTETS)
        start, end = wanted
        if start >= info.size:
            return Response(status_code=416, headers={"content-range": f"bytes */{info.size}"})
        length = None if end is None else end - start + 1
        data = await run_in_threadpool(store.get, name, start, length)
        last = start + len(data) - 1
        return Response(
            data,
            status_code=206,
            media_type=_OCTETS,
            headers={"content-range": f"bytes {start}-{last}/{info.size}"},
        )

    async def _put(self, request: Request, repo: str, name: str) -> Response:
        if self.options.append_only and name.startswith("pending/"):
            raise Refused(
                403,
                f"cannot write {name}: this server is append-only, and a prune plan is"
                " deletion by other means; prune and repair on the server itself",
            )
        data = await self._body(request)
        store = await run_in_threadpool(self.repos.get, repo, True)
        assert store is not None  # created
        await run_in_threadpool(store.put, name, data)
        return Response(status_code=201)

    async def _body(self, request: Request) -> bytes:
        """The request body, refused as soon as it is known to exceed the limit."""
        limit = self.options.max_request_size
        too_large = Refused(
            413,
            f"request body over the server's limit of {limit} bytes (ripcord serve"
            " --max-request-size)",
        )
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Refused(400, "invalid Content-Length")
            if int(declared) > limit:
                raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
        except ClientDisconnect:
            raise Refused(400, "the client went away before the body was complete") from None
        return b"".join(chunks)

    async def _authorize(self, request: Request) -> str:
        """The repository of the request, once its user is known and may use it."""
        credentials = _basic(request.headers.get("authorization"))
        if credentials is None:
            raise Refused(401, "authentication required: HTTP Basic with user and token")
        user, token = credentials
        known = self.users.remembered(user, token)
        if known is None:  # bcrypt: one at a time, so failed logins take a core at most
            async with self._bcrypt:
                known = await run_in_threadpool(self.users.verify, user, token)
        if not known:
            raise Refused(401, "wrong user or token")
        request.state.user = user
        repo: str = request.path_params["repo"]
        if not REPOSITORY_NAME.match(repo):
            raise Refused(400, f"invalid repository name {repo!r}")
        if repo != user:
            raise Refused(403, f"user {user} may not use repository {repo}, only {user}")
        return repo


_OCTETS = "application/octet-stream"
_RANGE = re.compile(r"bytes=(\d{1,19})-(\d{0,19})")


def _range(header: str | None) -> tuple[int, int | None] | None:
    """`bytes=START-END` or `bytes=START-`, the only forms a client sends."""
    if header is None:
        return None
    m = _RANGE.fullmatch(header.strip())
    if m is None or (m.group(2) and int(m.group(2)) < int(m.group(1))):
        raise Refused(416, f"unsupported range {header!r}: expected bytes=START-[END]")
    return int(m.group(1)), int(m.group(2)) if m.group(2) else None


def _name(name: str) -> str:
    try:
        return validate_name(name)
    except InvalidName as e:
        raise Refused(400, str(e)) from None


def _basic(header: str | None) -> tuple[str, str] | None:
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, token = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, token) if sep else None


def _json_listing(pairs: Iterator[tuple[str, int]]) -> Iterator[bytes]:
    """A JSON array of {"name", "size"} objects, sent as it is walked."""
    yield b"["
    first = True
    batch: list[str] = []
    for name, size in pairs:
        batch.append(("" if first else ",") + json.dumps({"name": name, "size": size}))
        first = False
        if len(batch) >= 1000:
            yield "".join(batch).encode()
            batch = []
    yield ("".join(batch) + "]").encode()


async def _answer(response: Awaitable[Response]) -> Response:
    """Run a handler, turning refusals and storage errors into statuses with a message."""
    try:
        return await response
    except Refused as e:
        return _error(e.status, str(e))
    except InvalidName as e:
        return _error(400, str(e))
    except (ObjectNotFound, RepositoryNotFound) as e:
        return _error(404, str(e))
    except ObjectExists as e:
        return _error(409, str(e))
    except StoreFull:
        log.error("out of space")
        return _error(507, "the server is out of space")
    except StoreError as e:
        log.error("storage error: %s", e)
        return _error(500, f"the server could not do it: {e}")


def _error(status: int, message: str) -> Response:
    headers = {"www-authenticate": 'Basic realm="ripcord"'} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _http_error(_request: Request, exc: HTTPException) -> Response:
    """Routing errors (no such route, wrong method) in the same JSON as the others."""
    return _error(exc.status_code, exc.detail)


def _plain(scope: Scope) -> bool:
    raw = scope.get("raw_path") or scope.get("path", "").encode()
    return bool(PLAIN_PATH.match(raw.split(b"?", 1)[0]))


class _PlainPaths:
    """Refuse any path outside the name alphabet before routing: no escape, no dot."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _plain(scope):
            message = "invalid path: object names are lowercase a-z, 0-9, '-', '_' and '/'"
            await _error(400, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _AccessLog:
    """One line per request: client, user, method, path, status, time. Never a header,
    so never a token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        started = time.monotonic()
        status = [0]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client") or ("-", 0)
            log.info(
                '%s %s "%s %s" %d %.1fms',
                client[0],
                state.get("user", "-"),
                scope["method"],
                scope["path"][:300],
                status[0],
                (time.monotonic() - started) * 1000,
            )
