"""What the snapshot browser's pages read: a snapshot by id, a node by path, and the
repository's errors turned into pages' answers (404 for what is not there), never
a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.exceptions import HTTPException

from ripcord.archive.node import DIR, Node
from ripcord.archive.trees import along
from ripcord.errors import MissingObject, RipcordError, UsageError
from ripcord.repository import Repository, Snapshot, resolve
from ripcord.ui.site import Site


@contextmanager
def answered() -> Iterator[None]:
    """Repository errors as HTTP errors: what is not there is a 404; a damaged or
    unreachable repository (or a wrong password) a 502 saying why."""
    try:
        yield
    except (MissingObject, UsageError) as e:
        raise HTTPException(404, str(e)) from None
    except RipcordError as e:
        if type(e) is RipcordError:  # along(): "... is not in the snapshot" / "not a directory"
            raise HTTPException(404, str(e)) from None
        raise HTTPException(502, f"the repository could not be read: {e}") from None


@dataclass(frozen=True)
class Located:
    """A path of a snapshot and the nodes from the root down to it."""

    snapshot: Snapshot
    path: bytes
    nodes: list[Node]

    @property
    def node(self) -> Node:
        return self.nodes[-1]

    @property
    def is_dir(self) -> bool:
        return self.node.type == DIR

    @property
    def name(self) -> bytes:
        """The last component ('' for the root)."""
        return self.path.rstrip(b"/").rpartition(b"/")[2]


def snapshot(repo: Repository, snap_id: str) -> Snapshot:
    """The snapshot `snap_id` (an id or a unique prefix) names; 404 if none."""
    with answered():
        return resolve(repo.snapshots(), snap_id)


def locate(site: Site, repo_name: str, snap_id: str, path: bytes) -> Located:
    """The node at `path` in the snapshot; 404 if either is not there."""
    with answered(), site.using(repo_name) as repo:  # using() sees a store error first
        snap = snapshot(repo, snap_id)
        return Located(snap, path, along(repo, bytes.fromhex(snap.tree), path))
