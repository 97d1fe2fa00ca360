"""Who may use the dashboard: a login token (printed at start) or a password, then a
session cookie; and a CSRF token that every action must carry.

The dashboard can restore files onto the server and start backups, so it is
closed by default: every page but /login and /static needs a session. The login
token travels once in the URL printed at start; the login page swaps it for an
HttpOnly, SameSite=Strict cookie and sends the browser on without it (and pages
send no Referer), so the token does not linger in the address bar or in logs.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_TTL = 12 * 3600.0  # seconds a login lasts
OPEN_PATHS = ("/login", "/static/")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass
class Session:
    csrf: str
    expires: float


@dataclass
class Auth:
    """The login secrets and the sessions they opened (in memory: a restart logs out)."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    password: str | None = None  # --password-file: a second way in, for a bookmark
    cookie: str = "ripcord_session"
    sessions: dict[str, Session] = field(default_factory=dict)
    failures: int = 0

    def check_secret(self, given: str | None, password: bool = False) -> bool:
        """True when `given` is the token (or, with password=True, the password)."""
        if not given:
            return False
        want = self.password if password else self.token
        return want is not None and hmac.compare_digest(_raw(given), _raw(want))

    def open_session(self) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        self.sessions[sid] = session = Session(
            secrets.token_urlsafe(32), time.monotonic() + SESSION_TTL
        )
        return sid, session

    def session(self, request: Request) -> Session | None:
        sid = request.cookies.get(self.cookie)
        s = self.sessions.get(sid) if sid else None
        if s is None or s.expires < time.monotonic():
            return None
        return s

    def close_session(self, request: Request) -> None:
        self.sessions.pop(request.cookies.get(self.cookie) or "", None)

    async def failed(self) -> None:
        """Slow down guessing: each failed login waits longer (up to 5 s)."""
        self.failures += 1
        await asyncio.sleep(min(5.0, 0.25 * self.failures))

    def login_response(self, to: str = "/") -> Response:
        sid, _ = self.open_session()
        self.failures = 0
        r = RedirectResponse(to, status_code=303)
        r.set_cookie(self.cookie, sid, httponly=True, samesite="strict", path="/")
        return r


def csrf_ok(session: Session, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(_raw(given), _raw(session.csrf))


def _raw(text: str) -> bytes:
    """Bytes to compare in constant time, whatever a client sent (a lone surrogate too)."""
    return text.encode("utf-8", "surrogatepass")


def same_origin(request: Request) -> bool:
    """A browser's Origin (sent on every cross-site POST) must name this very server."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or a browser too old to send it on a POST
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


class Guard:
    """ASGI middleware: no session, no page; no CSRF token, no action."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app, self.auth = app, auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        path = request.url.path
        if request.method in UNSAFE_METHODS and not same_origin(request):
            await PlainTextResponse("cross-site request refused", 403)(scope, receive, send)
            return
        if path == "/login" or path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        session = self.auth.session(request)
        if session is None:
            response: Response
            if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                response = RedirectResponse("/login", status_code=303)
            else:
                response = PlainTextResponse("log in first", status_code=401)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["session"] = session
        if request.method in UNSAFE_METHODS:
            given = request.headers.get(CSRF_HEADER)
            if given is None and _is_form(request):
                body = await request.body()  # read once here, handed on to the page
                receive = _replay(body)
                value = (await Request(scope, _replay(body)).form()).get(CSRF_FIELD)
                given = value if isinstance(value, str) else None
            if not csrf_ok(session, given):
                await PlainTextResponse("missing or wrong CSRF token", 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def _replay(body: bytes) -> Receive:
    """A receive() that hands the already-read body to the app once more."""
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
