"""File metadata both ways: stat and xattrs into a Node, and back onto disk."""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
from functools import lru_cache

from ripcord.archive.node import BLOCK, CHAR, DIR, FIFO, FILE, SOCKET, SYMLINK, Node

_KINDS = {
    stat.S_IFREG: FILE,
    stat.S_IFDIR: DIR,
    stat.S_IFLNK: SYMLINK,
    stat.S_IFIFO: FIFO,
    stat.S_IFCHR: CHAR,
    stat.S_IFBLK: BLOCK,
    stat.S_IFSOCK: SOCKET,
}
_UNSUPPORTED_XATTR = (errno.ENOTSUP, errno.EPERM, errno.ENODATA, errno.EACCES)


@lru_cache(maxsize=1024)
def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


@lru_cache(maxsize=1024)
def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def node_from_stat(name: bytes, st: os.stat_result) -> Node:
    """A node from lstat. Directories and symlinks record their mtime as atime:
    backing them up (listing, readlink) moves their atime, so a stored atime
    would make every tree differ from the last backup's and defeat tree reuse."""
    moves = stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)
    return Node(
        name=name,
        type=_KINDS.get(stat.S_IFMT(st.st_mode), SOCKET),
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        user=user_name(st.st_uid),
        group=group_name(st.st_gid),
        mtime_ns=st.st_mtime_ns,
        atime_ns=st.st_mtime_ns if moves else st.st_atime_ns,
        ctime_ns=st.st_ctime_ns,
        size=st.st_size if stat.S_ISREG(st.st_mode) else 0,
        inode=st.st_ino,
        dev=st.st_dev,
        nlink=st.st_nlink,
        rdev=st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 0,
    )


def read_xattrs(target: int | bytes) -> dict[bytes, bytes]:
    """Extended attributes, including system.posix_acl_* (how Linux exposes ACLs).

    `target` is an open fd, or a path for entries that cannot be opened
    (symlinks, devices); a path is never followed.
    """
    follow = isinstance(target, int)
    try:
        names = os.listxattr(target, follow_symlinks=follow) if not follow else os.listxattr(target)
    except OSError as e:
        if e.errno in _UNSUPPORTED_XATTR:
            return {}
        raise
    out = {}
    for n in sorted(names):
        try:
            value = (
                os.getxattr(target, n) if follow else os.getxattr(target, n, follow_symlinks=False)
            )
        except OSError as e:
            if e.errno in _UNSUPPORTED_XATTR:
                continue
            raise
        out[os.fsencode(n)] = value
    return out


_ACLS = (b"system.posix_acl_access", b"system.posix_acl_default")


def write_xattrs(target: int | str, xattrs: dict[bytes, bytes]) -> list[str]:
    """Set xattrs on an open file (or a /proc/self/fd path); returns the names refused.

    ACLs the entry did not have are removed: a new entry inherits them from a
    default ACL on its directory in the target, which the backup never held.
    """
    refused = []
    for k, v in xattrs.items():
        try:
            os.setxattr(target, k, v)
        except OSError:
            refused.append(os.fsdecode(k))
    for acl in _ACLS:
        if acl not in xattrs:
            try:
                os.removexattr(target, acl)
            except OSError as e:
                if e.errno not in (*_UNSUPPORTED_XATTR, errno.EINVAL):
                    raise
    return refused


def apply_owner_mode_times(node: Node, name: bytes, dir_fd: int, can_chown: bool) -> None:
    """Ownership, permissions and times on an entry, never following a symlink."""
    if can_chown:
        os.chown(name, node.uid, node.gid, dir_fd=dir_fd, follow_symlinks=False)
    if node.type != SYMLINK:
        os.chmod(name, node.mode, dir_fd=dir_fd)
    os.utime(name, ns=(node.atime_ns, node.mtime_ns), dir_fd=dir_fd, follow_symlinks=False)
