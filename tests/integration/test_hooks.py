"""Hooks for real: commands run by /bin/sh, and pings to an HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ripcord.plan.hooks import PING_BODY_LIMIT, fire, ping
from ripcord.plan.model import Hooks

SUMMARY: dict[str, object] = {"status": "ok", "snapshots": ["7c21e9", "5b0d33"], "errors": []}


@dataclass
class Request:
    path: str
    content_type: str
    body: bytes


@dataclass
class PingServer:
    """Records each POST; answers each path with the statuses queued for it, then 200."""

    port: int = 0
    requests: list[Request] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


@pytest.fixture
def server() -> Iterator[PingServer]:
    state = PingServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.requests.append(Request(self.path, self.headers["content-type"], body))
            queued = state.statuses.get(self.path, [])
            self.send_response(queued.pop(0) if queued else 200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


# --- pings ------------------------------------------------------------------------------


def test_ping_url_gets_start_success_and_fail_with_the_summary(server: PingServer) -> None:
    hooks = Hooks(ping_url=server.url("/ping/abc/"), timeout=5)
    for event in ("start", "success", "failure"):
        [outcome] = fire(hooks, event, SUMMARY, "office")
        assert outcome.ok and outcome.kind == "ping" and outcome.detail == "HTTP 200"
    assert server.paths() == ["/ping/abc/start", "/ping/abc", "/ping/abc/fail"]
    for r in server.requests:
        assert r.content_type == "application/json" and json.loads(r.body) == SUMMARY


def test_explicit_urls_override_the_derived_ones(server: PingServer) -> None:
    hooks = Hooks(
        ping_url=server.url("/base"),
        start_url=server.url("/go"),
        failure_url=server.url("/oops"),
        timeout=5,
    )
    for event in ("start", "success", "failure"):
        fire(hooks, event, SUMMARY, "office")
    assert server.paths() == ["/go", "/base", "/oops"]


def test_an_alarm_runs_on_alarm_and_pings_nothing(server: PingServer, tmp_path: Path) -> None:
    mark = tmp_path / "alarmed"
    hooks = Hooks(
        on_alarm=(f"touch {shlex.quote(str(mark))}",),
        on_failure=("false",),
        ping_url=server.url("/p"),
    )
    [outcome] = fire(hooks, "alarm", SUMMARY, "office")
    assert outcome.kind == "command" and outcome.ok and mark.exists()
    assert server.requests == []


def test_a_500_is_tried_again(server: PingServer) -> None:
    server.statuses["/p"] = [500]
    outcome = ping(server.url("/p"), SUMMARY, 5, backoff=0.01)
    assert outcome.ok and outcome.detail == "HTTP 200 (after 2 tries)"
    assert server.paths() == ["/p", "/p"]


def test_a_server_failing_every_time_gets_three_tries(server: PingServer) -> None:
    server.statuses["/p"] = [502, 503, 500, 500]
    outcome = ping(server.url("/p"), SUMMARY, 5, backoff=0.01)
    assert not outcome.ok and outcome.detail == "HTTP 500 (3 tries)"
    assert server.paths() == ["/p"] * 3


def test_a_client_error_is_not_tried_again(server: PingServer) -> None:
    server.statuses["/p"] = [404]
    outcome = ping(server.url("/p"), SUMMARY, 5, backoff=0.01)
    assert not outcome.ok and outcome.detail == "HTTP 404"
    assert server.paths() == ["/p"]


def test_a_server_that_never_answers_costs_one_timeout() -> None:
    with socket.socket() as silent:  # the kernel accepts connections; nobody reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        outcome = ping(f"http://127.0.0.1:{port}/p", SUMMARY, 0.3, backoff=0.01)
    assert not outcome.ok and outcome.detail == "no answer within 0.3s"


def test_a_refused_connection_is_tried_three_times_and_reported() -> None:
    with socket.socket() as closed:  # bound but not listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        outcome = ping(f"http://127.0.0.1:{port}/p", SUMMARY, 5, backoff=0.01)
    assert not outcome.ok
    assert outcome.detail.startswith("cannot connect") and outcome.detail.endswith("(3 tries)")


def test_an_invalid_url_is_an_outcome_not_an_exception() -> None:
    [outcome] = fire(Hooks(success_url="ftp://example.net/x"), "success", SUMMARY, "p")
    assert not outcome.ok and outcome.detail == "not a valid http(s) URL"


def test_credentials_and_tokens_never_reach_the_outcome(server: PingServer) -> None:
    token = "1f2e3d4c-5b6a-4789-abcd-0123456789ef"
    url = f"http://hc:s3cret@127.0.0.1:{server.port}/{token}?api_key=k3y"
    [outcome] = fire(Hooks(ping_url=url), "start", SUMMARY, "p")
    assert outcome.ok and server.paths() == [f"/{token}/start?api_key=k3y"]
    assert outcome.target == f"http://127.0.0.1:{server.port}/1f2e…/start?…"
    for secret in ("s3cret", "hc:", token, "k3y"):
        assert secret not in outcome.target + outcome.detail


def test_a_huge_summary_is_cut_to_the_limit_as_json(server: PingServer) -> None:
    errors = [f"file {i} could not be read" for i in range(20_000)]
    big: dict[str, object] = {"status": "failed", "errors": errors}
    [outcome] = fire(Hooks(failure_url=server.url("/f")), "failure", big, "p")
    [request] = server.requests
    assert outcome.ok and len(request.body) <= PING_BODY_LIMIT
    doc = json.loads(request.body)
    assert doc["status"] == "failed" and doc["truncated"] is True
    assert doc["errors"][0] == "file 0 could not be read"


# --- commands ---------------------------------------------------------------------------


def test_a_command_reads_the_summary_and_sees_the_event(tmp_path: Path) -> None:
    got, env = tmp_path / "stdin.json", tmp_path / "env"
    command = (
        f"cat > {shlex.quote(str(got))};"
        f' echo "$RIPCORD_EVENT $RIPCORD_PLAN_NAME $RIPCORD_STATUS $RIPCORD_PLAN"'
        f" > {shlex.quote(str(env))}"
    )
    plan = tmp_path / "office.toml"
    [outcome] = fire(Hooks(on_failure=(command,)), "failure", SUMMARY, "office", plan)
    assert outcome.ok and outcome.kind == "command" and outcome.target == command
    assert json.loads(got.read_text()) == SUMMARY
    assert env.read_text() == f"failure office failed {plan}\n"


def test_a_failing_command_says_how_and_the_next_still_runs(tmp_path: Path) -> None:
    mark = tmp_path / "second"
    hooks = Hooks(on_success=("echo disk full >&2; exit 3", f"touch {shlex.quote(str(mark))}"))
    first, second = fire(hooks, "success", SUMMARY, "p")
    assert not first.ok and first.detail == "exit 3: disk full"
    assert second.ok and mark.exists()


def test_a_missing_command_cannot_start() -> None:
    [outcome] = fire(Hooks(on_start=("no-such-hook-command",)), "start", SUMMARY, "p")
    assert not outcome.ok and outcome.detail.startswith("cannot start (exit 127)")
    assert "not found" in outcome.detail


def test_a_command_that_times_out_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    command = f"echo started; sleep 600 & echo $! > {shlex.quote(str(pidfile))}; wait"
    [outcome] = fire(Hooks(on_start=(command,), timeout=0.5), "start", SUMMARY, "p")
    assert not outcome.ok
    assert outcome.detail == "timed out after 0.5s (killed): started"
    assert_ends(int(pidfile.read_text()))


def test_an_interrupted_run_takes_its_hook_with_it(tmp_path: Path) -> None:
    """Ctrl-C reaches ripcord's process group, not the hook's own session: fire must kill it."""
    pidfile = tmp_path / "child.pid"
    command = f"sleep 600 & echo $! > {shlex.quote(str(pidfile))}; wait"
    code = (
        "import sys\n"
        "from ripcord.plan.hooks import fire\n"
        "from ripcord.plan.model import Hooks\n"
        "try:\n"
        f"    fire(Hooks(on_start=({command!r},), timeout=600), 'start', {{}}, 'p')\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    runner = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(3000):  # until the hook has started its child (bounded: 30 s)
            if pidfile.exists() and pidfile.read_text().strip():
                break
            time.sleep(0.01)
        runner.send_signal(signal.SIGINT)
        assert runner.wait(timeout=60) == 130
    finally:
        runner.kill()
        runner.wait()
    assert_ends(int(pidfile.read_text()))


def assert_ends(pid: int) -> None:
    """pid ends (is killed); a survivor is killed here and fails the test."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already gone and reaped
    try:  # a pidfd is readable once its process has ended; bounded so a survivor fails
        readable, _, _ = select.select([fd], [], [], 30)
        if not readable:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    finally:
        os.close(fd)
    assert readable, f"the hook's child {pid} outlived the hook"


def test_a_successful_command_keeps_its_last_lines_and_a_signal_is_named() -> None:
    hooks = Hooks(on_success=("echo one; echo; echo mail sent", "kill -TERM $$"))
    sent, killed = fire(hooks, "success", SUMMARY, "p")
    assert sent.ok and sent.detail == "exit 0: one\nmail sent"
    assert not killed.ok and killed.detail == "killed by SIGTERM"


def test_unknown_event_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown hook event"):
        fire(Hooks(), "finish", SUMMARY, "p")
