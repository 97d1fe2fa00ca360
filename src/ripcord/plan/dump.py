"""A Plan back in the plan file's own words, every default written out.

`ripcord plan show` prints it (as TOML, or JSON with --json) so a user sees
what ripcord understood: defaults filled in, `[guard] canary` copied into each
source, `~` expanded. Reading the TOML of `plan_dict(p)` gives `p` again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ripcord.plan.model import Credentials, Hooks, Plan, RepositorySpec, Source
from ripcord.retention.duration import format_duration
from ripcord.retention.policy import Policy


def plan_dict(plan: Plan) -> dict[str, Any]:
    """The plan as the file schema (docs/PLAN.md) spells it; JSON- and TOML-ready."""
    doc: dict[str, Any] = {"mode": plan.mode}
    if plan.host is not None:
        doc["host"] = plan.host
    doc["source"] = [_source(s) for s in plan.sources]
    doc["repository"] = {r.name: _repository(r) for r in plan.repositories}
    if plan.retention is not None:
        doc["retention"] = {**_policy(plan.retention), "prune": plan.prune}
    if plan.check is not None:
        doc["check"] = {
            "every": format_duration(plan.check.every),
            "read_data_subset": plan.check.read_data_subset or False,
        }
    if plan.drill is not None:
        doc["drill"] = {
            "every": format_duration(plan.drill.every),
            "sample": plan.drill.sample,
            "max_bytes": plan.drill.max_bytes or False,
        }
    doc["rpo"] = {"max_age": format_duration(plan.rpo)}
    doc["guard"] = dataclasses.asdict(plan.guard)
    doc["hooks"] = _hooks(plan.hooks)
    return doc


def _source(s: Source) -> dict[str, Any]:
    return {
        "name": s.name,
        "paths": list(s.paths),
        "exclude": list(s.excludes),
        "exclude_caches": s.exclude_caches,
        "one_file_system": s.one_file_system,
        "tags": list(s.tags),
        "canary": list(s.canaries),
    }


def _repository(r: RepositorySpec) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "url": r.url,
        "media": r.media,
        "offsite": r.offsite,
        "immutable": r.immutable,
        "offline": r.offline,
    }
    doc |= _credentials(r.credentials)
    if r.retention is not None:
        doc["retention"] = _policy(r.retention)
    return doc


def _credentials(c: Credentials) -> dict[str, str]:
    return {k: v for k, v in dataclasses.asdict(c).items() if v is not None}


def _policy(p: Policy) -> dict[str, Any]:
    doc: dict[str, Any] = {
        f.name: getattr(p, f.name)
        for f in dataclasses.fields(Policy)
        if isinstance(f.default, int) and getattr(p, f.name)
    }
    if p.keep_within is not None:
        doc["keep_within"] = format_duration(p.keep_within)
    if p.keep_tags:
        doc["keep_tags"] = sorted(p.keep_tags)
    doc["group_by"] = list(p.group_by)
    return doc


def _hooks(h: Hooks) -> dict[str, Any]:
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(h).items()
        if v is not None
    }
