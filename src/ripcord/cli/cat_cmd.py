"""ripcord cat: show a repository object decrypted, as JSON (for debugging)."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import click

from ripcord.archive.trees import listing
from ripcord.cli.env import Env, pass_env
from ripcord.repository import resolve
from ripcord.repository.pack import frames_to_wire

ID_FIELDS = frozenset({"content", "subtree", "hash", "frames", "id"})  # bytes: ids or hashes


def jsonable(v: Any, ids: bool = False) -> Any:
    """Ids and hashes as hex; other bytes (names, link targets, xattrs) as text where
    they are UTF-8, else as {"base64": ...}."""
    if isinstance(v, bytes):
        if ids:
            return v.hex()
        try:
            return v.decode()
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(v).decode()}
    if isinstance(v, dict):
        return {str(jsonable(k)): jsonable(x, ids or k in ID_FIELDS) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x, ids) for x in v]
    return v


@click.command("cat")
@click.argument("kind", type=click.Choice(["config", "snapshot", "tree", "index"]))
@click.argument("object_id", required=False)
@pass_env
def cat(env: Env, kind: str, object_id: str | None) -> None:
    """Print the config, a snapshot (latest/prefix/@TIME), a tree or an index file as JSON."""
    with env.open() as repo, repo.reading():
        doc: Any
        if kind == "config":
            doc = json.loads(repo.config.dump(repo.secrets.id_key))
        elif object_id is None:
            raise click.UsageError(f"cat {kind} needs an ID")
        elif kind == "snapshot":
            s = resolve(repo.snapshots(), object_id)
            doc = {"id": s.id, **s.to_doc()}
        elif kind == "tree":
            try:
                tree_id = bytes.fromhex(object_id)
            except ValueError:
                raise click.UsageError(f"not a tree id: {object_id}") from None
            found = listing(repo, tree_id)  # a split tree: its parts, each a tree to cat
            if found.parts:
                doc = {"parts": [p.to_wire() for p in found.parts]}
            else:
                doc = {"nodes": [n.to_wire() for n in found.nodes]}
        else:
            names = [i.name for i in repo.store.list("index") if i.name[6:].startswith(object_id)]
            if len(names) != 1:
                raise click.UsageError(f"{object_id} matches {len(names)} index files")
            packs = repo.read_index_file(names[0])  # size-bounded, as every reader does
            doc = {"packs": [{"id": p, "frames": frames_to_wire(f)} for p, f in packs]}
    sys.stdout.write(json.dumps(jsonable(doc), indent=2) + "\n")
