"""ripcord mount: browse snapshots as a read-only folder (FUSE)."""

from __future__ import annotations

import click
from rich.markup import escape

from ripcord.cli.env import Env, pass_env
from ripcord.errors import UsageError
from ripcord.mount.fs import SnapshotFs
from ripcord.mount.run import check_mountpoint, load_fuse, serve
from ripcord.mount.view import SnapshotRoot, everything, reread
from ripcord.repository import resolve


@click.command("mount")
@click.argument("args", nargs=-1, metavar="[SNAPSHOT] MOUNTPOINT")
@click.option(
    "--allow-other",
    is_flag=True,
    help="Let other users into the mount (the stored modes and owners still apply);"
    " a user other than root needs user_allow_other in /etc/fuse.conf.",
)
@pass_env
def mount(env: Env, args: tuple[str, ...], allow_other: bool) -> None:
    """Show every snapshot, or only SNAPSHOT (latest, an id prefix or @TIME), read-only
    at MOUNTPOINT until Ctrl-C.

    Every snapshot: MOUNTPOINT/snapshots/TIME, ids/ID, hosts/HOST/TIME, tags/TAG/TIME,
    and latest, a link to the newest; the list is read again every 30 s, so backups
    made meanwhile appear. MOUNTPOINT must be an empty directory.
    """
    if len(args) not in (1, 2):
        raise UsageError("usage: ripcord mount [SNAPSHOT] MOUNTPOINT")
    *spec, mountpoint = args
    check_mountpoint(mountpoint)  # before the password prompt: a typo costs nothing
    fuse = load_fuse()

    def warn(message: str) -> None:
        env.err.print(f"[yellow]warning:[/] {escape(message)}")

    def ready() -> None:
        env.out.print(f"Mounted at {escape(mountpoint)}; press Ctrl-C to unmount")

    with env.open() as repo, repo.reading():
        snaps = repo.snapshots()
        if spec:
            fs = SnapshotFs(repo, SnapshotRoot(resolve(snaps, spec[0])), warn, ready)
        else:
            fs = SnapshotFs(repo, everything(snaps, warn), warn, ready, lambda: reread(repo, warn))
        serve(fuse, fs, mountpoint, allow_other)
    env.out.print(f"Unmounted {escape(mountpoint)}")
