"""Starting `ripcord serve`: the listening socket, TLS, logging, uvicorn.

Plain HTTP is served only on a loopback address unless asked for (a TLS proxy in
front): tokens travel in every request, and on a network they need TLS.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from ripcord.errors import UsageError
from ripcord.server.app import ServerOptions, create_app
from ripcord.server.users import Users

log = logging.getLogger("ripcord.serve")


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all addresses) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not port.isdigit() or int(port) > 65535 or "[" in host or "]" in host:
        raise UsageError(f"invalid --listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8000")
    return host or "0.0.0.0", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (so the real port of `:0` is known before serving)."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = info[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    options: ServerOptions,
    listen: str,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    allow_plain_http: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> None:
    """Serve until SIGINT or SIGTERM."""
    if not options.root.is_dir():
        raise UsageError(f"--root {options.root} is not a directory")
    users = Users(options.users)

    def listening(url: str) -> None:
        say(
            f"listening on {url}, root {options.root},"
            f" {len(users)} users{', append-only' if options.append_only else ''}"
        )

    run_app(
        create_app(options, users),
        listen,
        tls_cert,
        tls_key,
        allow_plain_http,
        listening,
        "tokens would cross the network in the clear",
    )


def run_app(
    app: ASGIApp,
    listen: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    allow_plain_http: bool,
    listening: Callable[[str], None],
    why_tls: str,
) -> None:
    """Serve `app` on `listen` with uvicorn until SIGINT or SIGTERM (also the dashboard's).

    `listening` hears the base URL once the socket is bound (with the real port of
    `:0`). Plain HTTP off loopback is refused unless `allow_plain_http`, saying `why_tls`.
    """
    host, port = parse_listen(listen)
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    tls = tls_cert is not None
    if not tls and not allow_plain_http and not is_loopback(host):
        raise UsageError(
            f"refusing plain HTTP on {host}: {why_tls};"
            " give --tls-cert and --tls-key, or --allow-plain-http behind a TLS proxy"
        )
    config = uvicorn.Config(
        app,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        access_log=False,
        log_config=None,
        log_level="warning",
        lifespan="off",
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=10,  # then requests still running are cut off
    )
    try:
        config.load()
    except (OSError, ssl.SSLError) as e:
        raise UsageError(f"cannot load the TLS certificate or key: {e}") from None
    _log_to_stderr()
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    listening(f"{'https' if tls else 'http'}://{shown}:{bound}")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    # uvicorn stops gracefully on Ctrl-C and returns; exit 130 like every command
    if signal.SIGINT in getattr(server, "_captured_signals", ()):
        raise KeyboardInterrupt


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name in ("ripcord.serve", "uvicorn"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate = False
    logging.getLogger("ripcord.serve").setLevel(logging.INFO)
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
