"""Server-rendered pages: one Jinja2 environment, every value escaped.

Names in a repository are bytes chosen by whoever made the files (or by a hostile
repository); autoescape keeps them text on the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ripcord.plan.status import ago, span
from ripcord.ui.auth import CSRF_FIELD, Session
from ripcord.ui.paths import text

NAV = (
    ("/", "Overview"),
    ("/snapshots", "Snapshots"),
    ("/timeline", "Timeline"),
    ("/jobs", "Jobs"),
)


def _when(t: datetime | None) -> str:
    return "never" if t is None else t.astimezone().strftime("%Y-%m-%d %H:%M")


def _bytes(n: int | None) -> str:
    if n is None:
        return "–"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _finalize(value: Any) -> Any:
    """Every value a template prints: a name that was not UTF-8 (kept as surrogate
    escapes) is shown with \\xNN escapes instead of failing the whole page."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return text(value)
    return value


env = Environment(
    finalize=_finalize,
    loader=PackageLoader("ripcord.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["when"] = _when
env.filters["bytes"] = _bytes
env.filters["span"] = span
env.filters["text"] = text  # a path that may not be UTF-8 (the finalize hook does it too)
env.globals["ago"] = ago


def session_of(request: Request) -> Session:
    """The logged-in session (the auth middleware put it there; no page runs without)."""
    s: Session = request.scope["state"]["session"]
    return s


def page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Render `template` inside the site's frame (navigation, CSRF token for forms)."""
    site = request.app.state.site
    session: Session | None = request.scope.get("state", {}).get("session")
    csrf = session.csrf if session else ""

    def csrf_field() -> Markup:
        return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf)}">')

    html = env.get_template(template).render(
        request=request,
        site=site,
        nav=NAV,
        here=request.url.path,
        csrf=csrf,
        csrf_field=csrf_field,
        now=site.now(),
        **values,
    )
    return HTMLResponse(html, status_code=status_code)
