"""ripcord stats: how much is stored, and how well it deduplicates."""

from __future__ import annotations

import click
from rich.console import Console

from ripcord.cli.env import Env, human_bytes, json_option, pass_env
from ripcord.repository import DATA


@click.command("stats")
@json_option
@pass_env
def stats(env: Env) -> None:
    """Logical size, stored size, and deduplication and compression ratios."""
    with env.open() as repo, repo.reading():
        snaps = repo.snapshots()
        logical = sum(s.summary.get("total_bytes", 0) for s in snaps)
        unique = blobs = trees = 0
        for blob_type, length in repo.index.sizes():
            if blob_type == DATA:
                unique += length
                blobs += 1
            else:
                trees += 1
        packs = repo.pack_sizes()
        stored = sum(packs.values())
        data_stored = repo.index.frame_bytes(DATA)
        total = sum(
            i.size for p in ("data", "index", "snapshots", "keys") for i in repo.store.list(p)
        )
    doc = {
        "snapshots": len(snaps),
        "logical_bytes": logical,
        "unique_bytes": unique,
        "stored_bytes": total,
        "pack_bytes": stored,
        "packs": len(packs),
        "data_blobs": blobs,
        "tree_blobs": trees,
        "dedup_ratio": round(logical / unique, 3) if unique else None,
        "data_stored_bytes": data_stored,
        "compression_ratio": round(unique / data_stored, 3) if data_stored else None,
        "total_ratio": round(logical / total, 3) if total else None,
    }

    def human(c: Console) -> None:
        c.print(f"snapshots:         {len(snaps)}")
        c.print(f"logical size:      {human_bytes(logical)} (sum over snapshots)")
        c.print(f"unique data:       {human_bytes(unique)} in {blobs} blobs")
        c.print(f"stored size:       {human_bytes(total)} ({len(packs)} packs)")
        c.print(f"deduplication:     {doc['dedup_ratio']}x")
        c.print(f"compression:       {doc['compression_ratio']}x")

    env.emit(doc, human)
