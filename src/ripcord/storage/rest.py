"""A repository on a `ripcord serve` server, over HTTP(S) with httpx.

    rest+https://USER:TOKEN@HOST:PORT/REPOSITORY[?cacert=FILE]

The token may be left out of the location and given in RIPCORD_REST_TOKEN
instead (so it shows in no process list); the user defaults to the repository's
name, which is whom the server lets use it. `cacert` names a CA certificate (PEM)
to trust for a self-signed server; otherwise the system's CAs are used (and
SSL_CERT_FILE, as OpenSSL reads it).

One httpx.Client is shared by every thread (its connection pool is thread-safe)
and every request has bounded timeouts. Connection faults and 502/503/504 are
retried with exponential backoff; a put whose reply was lost and whose retry
finds the name taken succeeds only if the stored bytes are the ones it sent
(asked with a GET), since that is the only way it could have been taken by
this put. The protocol is in docs/SERVER.md.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from ripcord.errors import StoreError, UsageError
from ripcord.storage.base import Capabilities, ObjectInfo, PutOptions, validate_name
from ripcord.storage.errors import InvalidName, ObjectExists, ObjectNotFound, StoreFull
from ripcord.storage.rest_protocol import MSGPACK, PROTOCOL, REPOSITORY_NAME, ListingDecoder
from ripcord.storage.rest_reply import SMALL, Reply, ReplyTooLarge, read_reply, unencoded
from ripcord.storage.retry import holds

TOKEN_ENV = "RIPCORD_REST_TOKEN"
_TRANSIENT = {502, 503, 504}
_USAGE = (
    "expected rest+http(s)://[USER[:TOKEN]@]HOST[:PORT]/REPOSITORY[?cacert=FILE]"
    f" (the token may come from {TOKEN_ENV})"
)


@dataclass(frozen=True)
class RestLocation:
    """A parsed rest+http(s):// location. `base` is the server's URL, without credentials."""

    base: str
    repository: str
    user: str
    token: str
    cacert: str | None = None

    @property
    def where(self) -> str:
        """The location as it may be shown: never with the token."""
        return f"rest+{self.base}/{self.repository}"


def parse_rest_url(url: str, environ: Mapping[str, str] = os.environ) -> RestLocation:
    """Parse `rest+http(s)://...`; a malformed location is a usage error naming the form."""
    u = urlsplit(url)
    options = dict(parse_qsl(u.query, keep_blank_values=True))
    try:
        port = u.port
    except ValueError:
        raise UsageError(f"invalid rest location: bad port; {_USAGE}") from None
    path = unquote(u.path).rstrip("/")
    base_path, _, repository = path.rpartition("/")
    if (
        u.scheme not in ("rest+http", "rest+https")
        or not u.hostname
        or set(options) - {"cacert"}
        or u.fragment
        or not REPOSITORY_NAME.match(repository)
    ):
        raise UsageError(f"invalid rest location {_redacted(url)!r}: {_USAGE}")
    token = unquote(u.password) if u.password is not None else environ.get(TOKEN_ENV, "")
    if not token:
        raise UsageError(
            f"no token for {_redacted(url)}: put it in the location (USER:TOKEN@HOST) or in"
            f" {TOKEN_ENV}"
        )
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
    netloc = host if port is None else f"{host}:{port}"
    return RestLocation(
        base=f"{u.scheme.removeprefix('rest+')}://{netloc}{base_path}",
        repository=repository,
        user=unquote(u.username) if u.username else repository,
        token=token,
        cacert=options.get("cacert") or None,
    )


def _redacted(url: str) -> str:
    """`url` with any token replaced by `***`, fit for an error message."""
    u = urlsplit(url)
    if u.password is None:
        return url
    return u._replace(netloc=f"{u.username}:***@{u.netloc.rpartition('@')[2]}").geturl()


class RestStore:
    """The Store contract over the protocol of docs/SERVER.md."""

    capabilities: Capabilities

    def __init__(
        self,
        location: RestLocation,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        attempts: int = 6,
        backoff: float = 0.25,
    ) -> None:
        self.location = location
        self.where = location.where
        self.attempts = attempts
        self.backoff = backoff
        self.max_request_size: int | None = None
        self._client = httpx.Client(
            base_url=f"{location.base}/{location.repository}/",
            auth=(location.user, location.token),
            verify=_tls_context(location.cacert) if location.base.startswith("https") else True,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            trust_env=False,  # no proxy from the environment: the location says where to go
            headers={"accept-encoding": "identity"},  # bytes as stored: see rest_reply
        )
        self._closed = threading.Event()
        try:
            self.capabilities = self._handshake()
        except BaseException:
            self._client.close()
            raise

    @classmethod
    def from_url(cls, url: str) -> RestStore:
        return cls(parse_rest_url(url))

    def _handshake(self) -> Capabilities:
        """Ask the server what it offers; fails fast on a wrong token or an unknown protocol."""
        try:
            r, _ = self._send("GET", "capabilities", attempts=2)
        except ReplyTooLarge as e:
            raise StoreError(f"{self.where} is not a ripcord server ({e})") from None
        if r.status in (403, 404):
            raise StoreError(f"{self.where}: {r.message()}")
        self._check(r, "capabilities", "open")
        try:
            doc: Any = r.json()
            protocol, append_only = doc["protocol"], doc["append_only"]
            self.max_request_size = int(doc["max_request_size"])
            if self.max_request_size <= 0:
                raise ValueError("max_request_size")
        # a hostile server's reply: absurd numbers (1e999), nesting past the recursion limit
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            raise StoreError(f"{self.where} is not a ripcord server (no capabilities)") from None
        if protocol != PROTOCOL:
            raise StoreError(
                f"{self.where} speaks protocol {protocol!r}; this ripcord speaks {PROTOCOL}"
            )
        return Capabilities(append_only=append_only is True)

    # -- the Store operations ---------------------------------------------------------

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        path = self._object(name)
        limit = self.max_request_size
        if limit is not None and len(data) > limit:
            raise StoreError(
                f"cannot write {name} ({len(data)} bytes) to {self.where}: over the server's"
                f" limit of {limit} bytes (its --max-request-size)"
            )
        r, retried = self._send("PUT", path, content=data)
        if r.status == 409 and retried and holds(self, name, data):
            return  # the first attempt stored it; only its reply was lost
        self._check(r, name, "write")

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        path = self._object(name)
        if length == 0:
            self.stat(name)  # nothing to read, but a missing object is still an error
            return b""
        headers = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            headers["range"] = f"bytes={offset}-{end}"
        r, _ = self._send("GET", path, bound=length, headers=headers)
        if r.status == 416:  # the range starts at or past the end
            return b""
        self._check(r, name, "read")
        return r.body

    def stat(self, name: str) -> ObjectInfo:
        r, _ = self._send("HEAD", self._object(name), bound=None)  # no body, only a size
        self._check(r, name, "stat")
        size = r.headers.get("content-length", "")
        if not size.isascii() or not size.isdigit():  # int() takes '-5', ' 7 ' and '1_0'
            raise StoreError(f"{self.where} gave no size for {name}")
        return ObjectInfo(name, int(size))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Stream the listing; a fault before the first entry is retried, one after it
        fails the listing (a restart would repeat entries)."""
        path = f"list/{validate_name(prefix)}"
        for attempt in range(self.attempts):
            yielded = False
            try:
                with self._client.stream("GET", path, headers={"accept": MSGPACK}) as r:
                    if r.status_code in _TRANSIENT and attempt + 1 < self.attempts:
                        self._pause(attempt)
                        continue
                    if r.status_code != 200:
                        self._check(read_reply(r, SMALL, self.where, "an error"), prefix, "list")
                        raise StoreError(f"{self.where} answered a listing with {r.status_code}")
                    decoder = ListingDecoder()
                    for chunk in unencoded(r, self.where, f"the listing of {prefix}").iter_raw():
                        for name, size in decoder.feed(chunk):
                            yielded = True
                            yield ObjectInfo(self._listed(name, prefix), size)
                    return
            except httpx.TransportError as e:
                if yielded or attempt + 1 >= self.attempts:
                    self._unreachable(e, f"list {prefix}", attempt + 1)
                self._pause(attempt)
            except ValueError as e:
                raise StoreError(f"{self.where} sent a bad listing of {prefix}: {e}") from None

    def _listed(self, name: str, prefix: str) -> str:
        """A name from the server, checked: it must be a valid name under the prefix."""
        try:
            validate_name(name)
        except InvalidName:
            raise StoreError(f"{self.where} listed an invalid name {name!r:.80}") from None
        if not name.startswith(prefix + "/"):
            raise StoreError(f"{self.where} listed {name} under {prefix}/")
        return name

    def delete(self, name: str) -> None:
        r, retried = self._send("DELETE", self._object(name))
        if r.status == 404 and retried:
            return  # the first attempt deleted it; only its reply was lost
        self._check(r, name, "delete")

    def close(self) -> None:
        self._client.close()

    # -- requests, retries and statuses -----------------------------------------------

    def _object(self, name: str) -> str:
        return f"objects/{validate_name(name)}"

    def _send(
        self,
        method: str,
        path: str,
        *,
        attempts: int | None = None,
        bound: int | None = SMALL,
        **kw: Any,
    ) -> tuple[Reply, bool]:
        """Send a request, retrying connection faults and 502/503/504 with backoff; a
        successful reply's body may hold up to `bound` bytes (None: any), others SMALL.

        Returns the reply and whether an earlier attempt may have reached the server.
        """
        attempts = attempts or self.attempts
        maybe_done = False
        for attempt in range(attempts):
            try:
                with self._client.stream(method, path, **kw) as response:
                    limit = bound if response.status_code < 300 else SMALL
                    r = read_reply(response, limit, self.where, f"{method} {path}")
            except httpx.TransportError as e:
                # a request that failed to connect never arrived; any other might have
                maybe_done = maybe_done or not isinstance(e, httpx.ConnectError | httpx.PoolTimeout)
                if attempt + 1 >= attempts:
                    self._unreachable(e, f"{method} {path}", attempts)
            else:
                if r.status not in _TRANSIENT or attempt + 1 >= attempts:
                    return r, maybe_done
                maybe_done = True  # a proxy may have passed it on before giving up
            self._pause(attempt)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _pause(self, attempt: int) -> None:
        time.sleep(min(self.backoff * 2**attempt, 8.0))

    def _unreachable(self, e: httpx.TransportError, doing: str, attempts: int) -> NoReturn:
        kind = "timed out" if isinstance(e, httpx.TimeoutException) else "failed"
        tries = "once" if attempts == 1 else f"{attempts} times"
        raise StoreError(
            f"cannot reach {self.where} ({doing} {kind}, tried {tries}): {e or type(e).__name__}"
        ) from None

    def _check(self, r: Reply, name: str, doing: str) -> None:
        """Raise the storage error that a status means, with the server's message."""
        status = r.status
        if status < 300:
            return
        message = r.message()
        if status == 401:
            raise StoreError(
                f"{self.where}: wrong user or token (user {self.location.user}); check the"
                f" token in the location or in {TOKEN_ENV}"
            )
        if status == 404:
            raise ObjectNotFound(f"{name} not found")
        if status == 409:
            raise ObjectExists(f"{name} already exists")
        if status == 400 and doing != "open":
            raise InvalidName(f"{self.where} refused {name}: {message}")
        if status == 507:
            raise StoreFull(f"cannot {doing} {name}: {self.where} is out of space")
        if status in (403, 413):
            raise StoreError(f"{self.where}: {message}")
        raise StoreError(f"cannot {doing} {name} at {self.where}: HTTP {status} {message}")


def _tls_context(cacert: str | None) -> ssl.SSLContext:
    if cacert is not None and not os.path.isfile(os.path.expanduser(cacert)):
        raise UsageError(f"cacert {cacert} is not a file")
    try:
        return ssl.create_default_context(
            cafile=os.path.expanduser(cacert) if cacert is not None else None
        )
    except (OSError, ssl.SSLError) as e:
        raise UsageError(f"cannot read the CA certificate {cacert}: {e}") from None
