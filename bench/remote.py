#!/usr/bin/env python3
"""First backup and restore of the mixed set to S3 (SeaweedFS) and over SFTP (OpenSSH), side by
side with restic (s3: and sftp: repositories) and Borg (ssh://, `borg serve` on the far side).

Both servers run on 127.0.0.1 on this machine, started by this script from the test suite's
own fixtures (tests/s3server.py, tests/sshserver.py), so it needs the project venv:

    .venv/bin/python bench/remote.py --scale 0.25
    .venv/bin/python bench/remote.py --scale 0.25 --rounds 3 --ripcord /tmp/pin/venv/bin/ripcord
    .venv/bin/python bench/remote.py --scale 0.25 --delay 10     # a 20 ms round trip to both

Each step runs under ``/usr/bin/time -v`` after the page cache is dropped (as bench/run.py's
steps do); the servers share the machine's CPUs with the client, as they would not in real
use. On loopback there is no latency, so the figures compare the clients' efficiency, not their
use of a network; `--delay MS` puts both servers behind a proxy that holds every byte MS ms
each way (bench/latency.py), as a link to a NAS or an S3 region would. Every restore is compared
file by file with the source (untimed). Ratios are the first tool over each other one.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gen
import run
from latency import DelayProxy
from run import MIB, StepResult, ToolRun, ToolSpec, log

sys.path.insert(0, str(run.BENCH_DIR.parent))  # the test fixtures that start the servers
from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, S3Server, Seaweed
from tests.sshserver import Sshd, SshServer

TARGETS = ("s3", "sftp")


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    command: str  # init | backup | restore


STEPS = (
    Step("init", "init", "init"),
    Step("backup", "first backup", "backup"),
    Step("restore", "full restore", "restore"),
)

_ripcord = run.TOOLS["ripcord"]
_restic = run.TOOLS["restic"]
_borg = run.TOOLS["borg"]
# restic reaches the sshd through OpenSSH's client, told the port, key and known host
_RESTIC_SFTP = ("-o", "sftp.command={ssh} {user}@{host} -s sftp")
# (tool, target) -> command templates; {repo} is the target's location for that tool
SPECS: dict[tuple[str, str], ToolSpec] = {
    ("ripcord", "s3"): _ripcord,
    ("ripcord", "sftp"): _ripcord,
    ("restic", "s3"): _restic,
    ("restic", "sftp"): dataclasses.replace(
        _restic,
        init=(*_restic.init[:1], *_RESTIC_SFTP, *_restic.init[1:]),
        backup=(*_restic.backup[:1], *_RESTIC_SFTP, *_restic.backup[1:]),
        restore=(*_restic.restore[:1], *_RESTIC_SFTP, *_restic.restore[1:]),
    ),
    ("borg", "sftp"): _borg,  # Borg has no S3; over ssh:// it runs `borg serve` remotely
}


@dataclass
class Servers:
    s3: S3Server
    ssh: SshServer
    remote: Path  # where SFTP and ssh repositories live on the "remote" host

    def ssh_command(self) -> str:
        """OpenSSH's client as restic and Borg use it: this server's key and host key only."""
        return (
            f"ssh -p {self.ssh.port} -i {self.ssh.client_key} -o IdentitiesOnly=yes"
            f" -o BatchMode=yes -o UserKnownHostsFile={self.ssh.known_hosts()}"
        )

    def location(self, tool: str, target: str, bucket: str) -> str:
        path = self.remote / tool
        if target == "s3":
            host = self.s3.endpoint.removeprefix("http://")
            return (
                self.s3.url(bucket, tool)
                if tool == "ripcord"
                else f"s3:http://{host}/{bucket}/{tool}"
            )
        if tool == "ripcord":
            return self.ssh.url(path)
        if tool == "restic":
            return f"sftp:{self.ssh.user}@{self.ssh.host}:{path}"
        return f"ssh://{self.ssh.user}@{self.ssh.host}:{self.ssh.port}{path}"

    def stored(self, tool: str, target: str, bucket: str) -> int:
        """Bytes the repository takes on the server."""
        if target == "sftp":
            return run.repo_size(self.remote / tool)
        client: Any = self.s3.client()
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=tool)
            return sum(o["Size"] for page in pages for o in page.get("Contents", ()))
        finally:
            client.close()


def delayed(
    s3: S3Server, ssh: SshServer, delay: float, stack: contextlib.ExitStack[bool | None], base: Path
) -> tuple[S3Server, SshServer]:
    """The two servers as seen through proxies that add `delay` each way."""
    s3_port = stack.enter_context(DelayProxy(int(s3.endpoint.rsplit(":", 1)[1]), delay))
    ssh_port = stack.enter_context(DelayProxy(ssh.port, delay))
    base.mkdir(parents=True, exist_ok=True)  # a known_hosts for the proxy's port
    return (
        dataclasses.replace(s3, endpoint=f"http://127.0.0.1:{s3_port}"),
        dataclasses.replace(ssh, port=ssh_port, base=base),
    )


def tool_env(env: dict[str, str], servers: Servers, work: Path) -> dict[str, str]:
    """Credentials for every tool at once: S3 keys, and Borg's ssh and remote borg (whose
    home on the "remote" side is kept in the work directory, not this machine's)."""
    remote_home = work / "remote-home"
    remote_home.mkdir(parents=True, exist_ok=True)
    return {
        **env,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "BORG_RSH": servers.ssh_command(),
        "BORG_REMOTE_PATH": f"env HOME={remote_home} borg",
        "RIPCORD_NO_PROGRESS": "1",
    }


def run_target(
    tool: str,
    exe: str,
    target: str,
    servers: Servers,
    src: Path,
    args: argparse.Namespace,
    env: dict[str, str],
    result: ToolRun,
) -> None:
    """init, first backup and full restore of one tool to one server, into `result`."""
    spec = SPECS[(tool, target)]
    bucket = servers.s3.new_bucket() if target == "s3" else ""
    shutil.rmtree(servers.remote / tool, ignore_errors=True)
    (servers.remote / tool).parent.mkdir(parents=True, exist_ok=True)
    target_dir = args.work / "restore" / target / tool
    values = {
        "exe": exe,
        "repo": servers.location(tool, target, bucket),
        "src": src,
        "target": target_dir,
        "n": 1,
        "ssh": servers.ssh_command(),
        "user": servers.ssh.user,
        "host": servers.ssh.host,
    }
    failed = ""
    for step in STEPS:
        key = f"{target}-{step.key}"
        if failed:  # every round has every step, so medians line up
            result.steps[key] = StepResult(status="skipped", error=f"{failed} failed")
            continue
        if step.command == "restore":
            run.fresh_dir(target_dir)
        cwd = (
            Path(spec.restore_cwd.format(**values))
            if step.command == "restore" and spec.restore_cwd
            else None
        )
        cmd = run.render(getattr(spec, step.command), **values)
        log_base = args.work / "logs" / target / tool / step.key
        res = run.run_timed(cmd, env, cwd, log_base, args.timeout, spec.ok_codes)
        result.steps[key] = res
        log(f"[{target}] {tool:8} {step.label:14} {run.describe(res)}")
        if res.status != "ok":
            failed = step.label
            continue
        if step.command == "backup":
            result.repo_bytes[key] = servers.stored(tool, target, bucket)
        if step.command == "restore":
            verdict = run.verify_restore(target_dir, src)
            result.restore_verified = "; ".join(
                filter(None, [result.restore_verified, f"{target} {verdict}"])
            )
            shutil.rmtree(target_dir, ignore_errors=True)


def one_round(
    names: Sequence[str],
    exes: dict[str, str | None],
    servers: Servers,
    src: Path,
    args: argparse.Namespace,
    env: dict[str, str],
    versions: dict[str, str],
) -> dict[str, ToolRun]:
    runs = {n: ToolRun(n, exes[n] or "", versions.get(n, "not installed")) for n in names}
    for target in TARGETS:  # every tool against one server, then the other server
        for name in names:
            exe = exes[name]
            if (name, target) not in SPECS:
                continue
            if not exe:
                runs[name].steps[f"{target}-init"] = StepResult(
                    status="skipped", error="not installed"
                )
                continue
            run_target(name, exe, target, servers, src, args, env, runs[name])
    return runs


def report(runs: list[ToolRun], files: int, size: int, args: argparse.Namespace) -> str:
    rows = [(t, s) for t in TARGETS for s in STEPS]
    lines = [
        f"### mixed — scale {args.scale}, seed {args.seed}: {files:,} files, {size / MIB:.1f} MiB;"
        f" {args.rounds} round(s), medians"
        + (
            f"; {args.delay:g} ms added each way (round trip {2 * args.delay:g} ms)"
            if args.delay
            else ""
        ),
        "",
    ]
    lines += run.table(
        "wall time, s",
        [(f"{t} {s.label}", run.step_metric(f"{t}-{s.key}", "wall_s", 1)) for t, s in rows],
        runs,
        2,
    )
    lines += run.table(
        "peak RSS, MiB",
        [(f"{t} {s.label}", run.step_metric(f"{t}-{s.key}", "max_rss_kib", 1024)) for t, s in rows],
        runs,
        0,
    )
    lines += run.table(
        "stored after the backup, MiB",
        [(t, run.size_metric(f"{t}-backup")) for t in TARGETS],
        runs,
        1,
    )
    lines += [f"- {r.name}: {r.version}; restore: {r.restore_verified or '—'}" for r in runs]
    lines += [f"- {r.name}: {p}" for r in runs for p in run.problems(r)]
    loads = [x.load1 for r in runs for x in r.steps.values() if x.load1 is not None]
    if loads:
        lines.append(f"- 1-min load average at step start: {min(loads):.1f}–{max(loads):.1f}")
    return "\n".join([*lines, ""])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=float, default=0.25, help="mixed set size factor (1.0 ≈ 1 GiB)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rounds", type=int, default=1, help="fresh repositories each; medians shown")
    p.add_argument(
        "--tools", default="ripcord,restic,borg", help="ratios: the first over the others"
    )
    p.add_argument("--ripcord", help=f"ripcord executable (default: PATH, else {run.VENV_RIPCORD})")
    p.add_argument("--work", type=Path, default=run.BENCH_DIR / "work" / "remote")
    p.add_argument("--timeout", type=float, default=3600, help="per step, seconds")
    p.add_argument(
        "--delay", type=float, default=0, help="ms added each way to every byte (bench/latency.py)"
    )
    p.add_argument("--json-out", type=Path, help="default: WORK/results.json")
    p.add_argument("--md-out", type=Path, help="also write the tables here")
    p.add_argument("--password", default="ripcord-bench-password")
    args = p.parse_args(argv)
    args.work = args.work.resolve()
    unknown = set(args.tools.split(",")) - run.TOOLS.keys()
    if unknown:
        p.error(f"unknown tools: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = args.tools.split(",")
    started = run.now()
    exes = run.preflight(names, args.ripcord, setup=False)
    shutil.rmtree(args.work / "home", ignore_errors=True)
    env = run.bench_env(args.work, args.password)
    versions = {n: run.tool_version(run.TOOLS[n], exes[n] or "", env) for n in names if exes[n]}
    src = args.work / "data" / f"mixed-{args.scale}-{args.seed}"
    if not src.exists():
        log(f"generating the mixed set (scale {args.scale}, seed {args.seed}) in {src}")
        gen.generate("mixed", args.seed, src, args.scale)
    files, size = gen.tree_stats(src)
    servers_dir = args.work / "servers"
    shutil.rmtree(servers_dir, ignore_errors=True)
    weed, sshd = Seaweed(servers_dir / "seaweedfs"), Sshd(servers_dir / "sshd")
    with contextlib.ExitStack() as stack:
        stack.callback(weed.stop)
        stack.callback(sshd.stop)
        s3, ssh = weed.start(), sshd.start()
        if args.delay:  # every tool reaches both servers through the proxies
            s3, ssh = delayed(s3, ssh, args.delay / 1000, stack, servers_dir / "delayed")
        servers = Servers(s3, ssh, servers_dir / "remote")
        env = tool_env(env, servers, args.work)
        rounds = []
        for number in range(1, args.rounds + 1):
            log(f"round {number}/{args.rounds}")
            rounds.append(one_round(names, exes, servers, src, args, env, versions))
    medians = [run.median_run([r[n] for r in rounds]) for n in names]
    text = report(medians, files, size, args)
    print(text)
    if args.md_out:
        args.md_out.write_text(text)
    json_out: Path = args.json_out or args.work / "results.json"
    payload = {
        "meta": run.meta(args, started),
        "files": files,
        "bytes": size,
        "medians": [dataclasses.asdict(m) for m in medians],
        "rounds": [{n: dataclasses.asdict(r) for n, r in rnd.items()} for rnd in rounds],
    }
    json_out.write_text(json.dumps(payload, indent=2) + "\n")
    log(f"results: {json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
