"""Size bounds on objects read whole: refused before they are held in memory.

Every object ripcord reads whole (config, key files, locks, index files, snapshots
and the other records) has a size limit (docs/FORMAT.md §Bounds). A hostile store
can hold, or claim to hold, an object of gigabytes under any of those names, so the
limit is enforced on the read itself: at most limit + 1 bytes are asked for, with
the store contract's ranged get, and one byte too many is enough to refuse it.
"""

from __future__ import annotations

from ripcord.errors import CorruptObject
from ripcord.storage import Store


def too_large(what: str, limit: int) -> CorruptObject:
    """The one error for an object over its limit, wherever it is found."""
    return CorruptObject(f"{what}: too large (over {limit} bytes)")


def within(data: bytes, limit: int, what: str) -> bytes:
    """`data`, or CorruptObject when it is over `limit` bytes."""
    if len(data) > limit:
        raise too_large(what, limit)
    return data


def read_bounded(store: Store, name: str, limit: int, size: int | None = None) -> bytes:
    """The whole object `name`, read with at most limit + 1 bytes asked of the store;
    CorruptObject if it is over `limit`. `size`, when a listing gave it, refuses an
    object already listed over the limit without reading any of it, and is all that
    is read of one within it (a listing that lies short gets a cut-off object, which
    fails its authentication). ObjectNotFound passes through for the caller to name."""
    if size is not None:
        if size > limit:
            raise too_large(name, limit)
        # exactly the listed size: objects never change, and a read that ends where the
        # object ends is not taken for a cut-off one (over SFTP that costs a stat each)
        return store.get(name, 0, size)
    return within(store.get(name, 0, limit + 1), limit, name)
