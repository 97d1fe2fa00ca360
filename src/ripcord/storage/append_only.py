"""Commands that delete, or plan deletion, refuse an append-only store up front.

An append-only server (`ripcord serve --append-only`) refuses every delete but
of lock objects, and prune plans. A prune or repair run through it would get
as far as writing new packs and index files before being refused, so these
commands ask the store's capabilities first and stop before writing anything,
saying where the deletion can be done: on the server, on the repository's
directory, where the server's rules do not apply.
"""

from __future__ import annotations

from ripcord.errors import StoreError
from ripcord.storage.base import Store


class AppendOnly(StoreError):
    """the repository's server is append-only: nothing can be deleted through it"""


def deletion_refused(store: Store, command: str) -> str | None:
    """Why `command` (as typed after `ripcord -r REPO`) cannot run here; None if it can."""
    if not store.capabilities.append_only:
        return None
    return (
        f"`{command}` deletes data, and this repository's server is append-only: nothing"
        " can be deleted through it, so stolen backup credentials cannot destroy history."
        f" Run it on the server, on the repository's directory there:"
        f" `ripcord -r SERVER_ROOT/REPOSITORY {command}`"
    )


def refuse_deletion(store: Store, command: str) -> None:
    """Raise AppendOnly if `command` cannot delete through `store`."""
    why = deletion_refused(store, command)
    if why is not None:
        raise AppendOnly(why)
