"""Serving a file system at a mount point with libfuse, through mfusepy."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from ripcord.errors import RipcordError, UsageError
from ripcord.mount.fs import SnapshotFs
from ripcord.mount.names import ENCODING, ERRORS

# Snapshots never change: the kernel may keep names, attributes and pages as long as it
# likes (an hour), which makes a second `ls -R` or read of the same file free.
CACHE_SECONDS = 3600


class FuseUnavailable(RipcordError):
    """FUSE is not available on this machine"""


def load_fuse() -> ModuleType:
    """mfusepy, or a FuseUnavailable that says how to get FUSE."""
    if not os.path.exists("/dev/fuse"):
        raise FuseUnavailable(
            "FUSE is not available: /dev/fuse is missing (load the kernel module: modprobe"
            " fuse; in a container, run it with --device /dev/fuse --cap-add SYS_ADMIN)"
        )
    try:
        import mfusepy  # loads libfuse when imported
    except OSError as e:
        raise FuseUnavailable(
            f"FUSE is not available: libfuse cannot be loaded ({e});"
            " install it: apt-get install fuse3"
        ) from None
    module: ModuleType = mfusepy
    return module


def check_mountpoint(path: str) -> None:
    """The mount point must be an existing, empty folder: a mount over files hides them."""
    if not os.path.isdir(path):
        what = "is not a directory" if os.path.exists(path) else "does not exist"
        raise UsageError(f"mount point {path} {what} (create an empty directory for it)")
    if os.path.ismount(path):
        raise UsageError(f"mount point {path} is already a mount point")
    try:
        if os.listdir(path):
            raise UsageError(f"mount point {path} is not empty")
    except OSError as e:
        raise UsageError(f"mount point {path} cannot be read: {e.strerror}") from None


def serve(fuse: ModuleType, fs: SnapshotFs, mountpoint: str, allow_other: bool = False) -> None:
    """Mount `fs` read-only at `mountpoint` until Ctrl-C, SIGTERM or an unmount.

    Single-threaded: the repository's index (SQLite) answers only the thread that
    opened it, and one thread already outruns restore (bench/RESULTS.md §Mount).
    """
    check_mountpoint(mountpoint)
    options: dict[str, object] = {
        "foreground": True,
        "nothreads": True,
        "ro": True,
        "nosuid": True,
        "nodev": True,  # a stored device node must not open the host's device
        "default_permissions": True,  # the kernel checks the stored modes and owners
        "use_ino": True,  # our inode numbers, so hard links show as such
        "kernel_cache": True,
        "entry_timeout": CACHE_SECONDS,
        "attr_timeout": CACHE_SECONDS,
        "fsname": "ripcord",
        "subtype": "ripcord",
        "allow_other": allow_other,
    }
    with _fuse_handles_signals():
        try:
            fuse.FUSE(fs, mountpoint, encoding=ENCODING, errors=ERRORS, **options)
        except RuntimeError as e:
            # libfuse reports a loop ended by a signal as an error too: only a mount
            # that never came up is one (libfuse has printed why)
            if not fs.mounted:
                raise RipcordError(f"could not mount at {mountpoint} (libfuse: {e})") from None


@contextmanager
def _fuse_handles_signals() -> Iterator[None]:
    """libfuse sets its own SIGTERM handler (to unmount and return) only where none is
    set; ripcord's own would wait for Python code that never runs while FUSE waits."""
    try:
        old = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # not the main thread: signals are not ours to set
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
