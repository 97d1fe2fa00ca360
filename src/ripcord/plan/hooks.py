"""Tell the outside world how a run went: the plan's hook commands and HTTP pings.

A hook must never make a backup fail or hang: every command and request is
bounded by the plan's hook timeout, and whatever goes wrong (a non-zero exit,
a timeout, a command that cannot start, an unreachable URL) becomes a
HookOutcome the caller reports, never an exception.

Pings follow healthchecks.io: start → URL/start, success → URL, failure →
URL/fail, each a POST whose body is the run's summary as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from ripcord.plan.model import Hooks

EVENTS = ("start", "success", "failure", "alarm")
_STATUS = {"start": "ok", "success": "ok", "failure": "failed", "alarm": "alarm"}
PING_BODY_LIMIT = 100_000  # healthchecks.io keeps the first 100 kB of a ping's body
TRIES = 3
BACKOFF = 0.5  # seconds before the second try; doubled before each later one
_TAIL_BYTES = 4096
_TAIL_LINES = 10
_CUT = "…(cut to fit the ping's size limit)"


@dataclass(frozen=True)
class HookOutcome:
    kind: str  # "command" | "ping"
    target: str  # the command text, or the URL with its secrets masked
    ok: bool
    detail: str  # "exit 3: <its last output lines>", "timed out after 10s (killed)", "HTTP 200"

    def doc(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "ok": self.ok, "detail": self.detail}


def fire(
    hooks: Hooks,
    event: str,
    summary: dict[str, object],
    plan_name: str,
    plan_file: Path | None = None,
) -> list[HookOutcome]:
    """Run the commands and pings of one event, in that order, and say how each went.

    event is "start", "success", "failure" or "alarm". "alarm" runs only the
    on_alarm commands and pings nothing: a run with a guard alarm has failed,
    so the caller fires "failure" as well, and that pings URL/fail.

    Commands see RIPCORD_EVENT, RIPCORD_STATUS (ok, failed or alarm) and
    RIPCORD_PLAN_NAME; with plan_file, RIPCORD_PLAN is its path, the variable
    the global --plan reads, so a hook running `ripcord status` means this plan.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown hook event {event!r}")
    commands = {
        "start": hooks.on_start,
        "success": hooks.on_success,
        "failure": hooks.on_failure,
        "alarm": hooks.on_alarm,
    }[event]
    body = json.dumps(summary, default=str)
    env = {
        **os.environ,
        "RIPCORD_EVENT": event,
        "RIPCORD_PLAN_NAME": plan_name,
        "RIPCORD_STATUS": _STATUS[event],
    }
    if plan_file is not None:
        env["RIPCORD_PLAN"] = str(plan_file)
    outcomes = [run_command(c, body.encode(), env, hooks.timeout) for c in commands]
    url = ping_url(hooks, event)
    if url is not None:
        outcomes.append(ping(url, summary, hooks.timeout))
    return outcomes


# --- commands ---------------------------------------------------------------------------


def run_command(command: str, stdin: bytes, env: dict[str, str], timeout: float) -> HookOutcome:
    """Run one command with /bin/sh in its own process group, the summary on its stdin.

    Output goes to a temporary file (stdout and stderr together), not a pipe: a
    chatty hook cannot fill memory, and a background child that keeps the output
    open cannot make us wait for it. On timeout the whole group is killed, so
    what the hook started goes too.
    """

    def outcome(ok: bool, detail: str) -> HookOutcome:
        return HookOutcome("command", command, ok, detail)

    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group, to kill as one
            )
        except OSError as e:
            return outcome(False, f"cannot start: {e.strerror or e}")
        try:
            proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return outcome(False, _with_tail(f"timed out after {timeout:g}s (killed)", out))
        except BaseException:  # Ctrl-C, SIGTERM: its own session would outlive us
            _kill_group(proc)
            raise
        code = proc.returncode
        if code < 0:
            return outcome(False, _with_tail(f"killed by {_signal_name(-code)}", out))
        if code in (126, 127):  # the shell's "not executable" and "not found"
            return outcome(False, _with_tail(f"cannot start (exit {code})", out))
        return outcome(code == 0, _with_tail(f"exit {code}", out))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the command's process group while its leader is still unreaped, so the
    group id cannot have been given to another process."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()  # reap; stdin is closed, output goes to the file


def _with_tail(what: str, out: IO[bytes]) -> str:
    """what, and the last lines the command printed (where the reason usually is)."""
    tail = _tail(out)
    return f"{what}: {tail}" if tail else what


def _tail(out: IO[bytes]) -> str:
    size = out.seek(0, os.SEEK_END)
    out.seek(max(0, size - _TAIL_BYTES))
    lines = out.read().decode("utf-8", "replace").splitlines()
    if size > _TAIL_BYTES:
        lines = lines[1:]  # the first may be cut in the middle
    return "\n".join(line.rstrip() for line in lines[-_TAIL_LINES:] if line.strip())


# --- pings ------------------------------------------------------------------------------


def ping_url(hooks: Hooks, event: str) -> str | None:
    """The URL to POST for event: an explicit one, or derived from ping_url (the suffix
    goes on the path, before any query such as healthchecks' ?rid= or ?create=1)."""
    if event == "alarm":
        return None  # the failure event that follows pings
    explicit, suffix = {
        "start": (hooks.start_url, "/start"),
        "success": (hooks.success_url, ""),
        "failure": (hooks.failure_url, "/fail"),
    }[event]
    if explicit or not hooks.ping_url:
        return explicit
    parts = urlsplit(hooks.ping_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


def ping(
    url: str, summary: dict[str, object], timeout: float, *, backoff: float = BACKOFF
) -> HookOutcome:
    """POST the summary to url: up to TRIES tries when the server cannot be reached or
    answers 5xx; a server that accepts but never answers costs one timeout, not three."""
    import httpx  # ~50 ms to import: only when a plan pings

    shown = mask_url(url)
    content, content_type = ping_body(summary)
    detail = ""
    try:
        with httpx.Client(timeout=timeout) as client:
            for attempt in range(TRIES):
                if attempt:
                    time.sleep(backoff * 2 ** (attempt - 1))
                try:
                    r = client.post(url, content=content, headers={"content-type": content_type})
                except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                    detail = f"cannot connect: {_error_text(e, url, shown)}"
                    continue
                if r.status_code >= 500:
                    detail = f"HTTP {r.status_code}"
                    continue
                ok = r.status_code < 400
                return HookOutcome("ping", shown, ok, _tries(f"HTTP {r.status_code}", attempt))
    except httpx.TimeoutException:
        detail = f"no answer within {timeout:g}s"
        return HookOutcome("ping", shown, False, detail)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):
        return HookOutcome("ping", shown, False, "not a valid http(s) URL")
    except httpx.HTTPError as e:
        return HookOutcome("ping", shown, False, _error_text(e, url, shown))
    return HookOutcome("ping", shown, False, f"{detail} ({TRIES} tries)")


def _tries(detail: str, attempt: int) -> str:
    return f"{detail} (after {attempt + 1} tries)" if attempt else detail


def _error_text(e: Exception, url: str, shown: str) -> str:
    return (str(e) or type(e).__name__).replace(url, shown)


def ping_body(summary: dict[str, object], limit: int = PING_BODY_LIMIT) -> tuple[bytes, str]:
    """The summary as a body within limit bytes, and its content type.

    A summary that is too big loses its largest parts first (long lists are
    halved, long strings shortened, each cut marked), so the verdict and the
    small fields survive as valid JSON. Only if that cannot fit is it sent as
    plain text: the start of the JSON and a note."""
    full = _dumps(summary)
    if len(full) <= limit:
        return full, "application/json"
    doc: object = {"truncated": True, **summary}
    data = _dumps(doc)
    while len(data) > limit:
        cut = _cut_largest(doc)
        if cut == doc:
            note = f"\n…[cut: the summary is {len(full)} bytes, over the {limit} byte limit]"
            head = full[: max(0, limit - len(note.encode()))] + note.encode()
            return head[:limit].decode("utf-8", "ignore").encode(), "text/plain; charset=utf-8"
        doc, data = cut, _dumps(cut)
    return data, "application/json"


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, default=str, ensure_ascii=False).encode()


def _cut_largest(v: object) -> object:
    """v with its largest part made about half as big (v itself if nothing can be cut)."""
    if isinstance(v, dict) and v:
        key = max(v, key=lambda k: len(_dumps(v[k])))
        return {**v, key: _cut_largest(v[key])}
    if isinstance(v, list):
        items = [x for x in v if x != _CUT]
        if len(items) > 1:
            return [*items[: len(items) // 2], _CUT]
        if items:
            return [_cut_largest(items[0]), *([_CUT] if len(items) < len(v) else [])]
    if isinstance(v, str) and len(v) > 2 * len(_CUT):
        return v[: len(v) // 2] + _CUT
    return v


_TOKEN = re.compile(r"^(?=.*\d)[A-Za-z0-9_-]{16,}$")  # a UUID or key-like path segment


def mask_url(url: str) -> str:
    """url without what would let someone else ping or read it: no user:password, no
    query string, and long token-like path segments (healthchecks' UUID or ping
    key) shortened to their first four characters."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an invalid URL)"
    if ":" in host:
        host = f"[{host}]"
    path = "/".join(seg[:4] + "…" if _TOKEN.match(seg) else seg for seg in parts.path.split("/"))
    return urlunsplit((parts.scheme, host + port, path, "…" if parts.query else "", ""))
