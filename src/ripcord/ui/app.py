"""The dashboard's ASGI app: login, the security frame every response gets, and the
pages each module of this package contributes.

Each page module has `routes(site) -> list[BaseRoute]`; PAGES lists them. Pages
are plain functions (starlette runs them in its thread pool) because reading a
repository blocks.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ripcord.ui import browse, jobs, overview, timeline
from ripcord.ui.auth import Auth, Guard
from ripcord.ui.render import page
from ripcord.ui.site import Site

PAGES: tuple[Callable[[Site], list[BaseRoute]], ...] = (
    overview.routes,
    timeline.routes,
    jobs.routes,
    browse.routes,
)

HEADERS = {
    # every script, style and image is our own: an injected name cannot load or run anything
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self';"
    " script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    # the login token never leaves for another site in a Referer; not "no-referrer", under
    # which a browser sends `Origin: null` on every form POST, and Guard refuses them all
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def create_app(site: Site, auth: Auth) -> Starlette:
    routes: list[BaseRoute] = [
        Route("/login", _login, methods=["GET", "POST"]),
        Route("/logout", _logout, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("ripcord.ui", "static")]), name="static"),
    ]
    for contribute in PAGES:
        routes.extend(contribute(site))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_Headers), Middleware(Guard, auth=auth)],
    )
    app.state.site = site
    app.state.auth = auth
    return app


async def _login(request: Request) -> Response:
    auth: Auth = request.app.state.auth
    if request.method == "GET":
        token = request.query_params.get("token")
        if token is None:
            return page(request, "login.html", password=auth.password is not None)
        if auth.check_secret(token):
            return auth.login_response()
        await auth.failed()
        return page(
            request,
            "login.html",
            401,
            password=auth.password is not None,
            error="That login link is not valid (the token changes each time ripcord ui starts).",
        )
    form = await request.form()
    given = form.get("password")
    if auth.check_secret(given if isinstance(given, str) else None, password=True):
        return auth.login_response()
    await auth.failed()
    return page(
        request, "login.html", 401, password=auth.password is not None, error="Wrong password."
    )


async def _logout(request: Request) -> Response:
    request.app.state.auth.close_session(request)
    return RedirectResponse("/login", status_code=303)


class _Headers:
    """Adds HEADERS to every response; pages are never cached (they hold names of files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = dict(HEADERS)
                if not static:
                    extra["cache-control"] = "no-store"
                for k, v in extra.items():
                    if k.encode() not in present:
                        headers.append((k.encode(), v.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with)
