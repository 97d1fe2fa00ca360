"""What a plan, as written, cannot achieve: static advice for `ripcord plan check`.

`status` judges the copies as they are (plan/status.py); this only reads the
file, so it can say before the first run that a plan can never meet 3-2-1-1-0,
or that a password file is missing or readable by others."""

from __future__ import annotations

import os
import stat

from ripcord.plan.model import Plan

_IMMUTABLE_STORES = ("s3://", "rest+http://", "rest+https://")  # Object Lock, append-only


def advice(plan: Plan) -> list[str]:
    """Plain-words warnings about `plan`; none means nothing to add."""
    out = [*_rule_advice(plan), *_proof_advice(plan)]
    for spec in plan.repositories:
        if spec.immutable and not spec.url.startswith(_IMMUTABLE_STORES):
            out.append(
                f"repository {spec.name!r} says immutable = true, but {_kind(spec.url)} cannot"
                " refuse deletes: status will not count it as immutable"
            )
        password_file = spec.credentials.password_file
        if password_file is not None:
            out += _password_file_advice(spec.name, password_file)
    return out


def _rule_advice(plan: Plan) -> list[str]:
    repos = plan.repositories
    out = []
    if len(repos) < 2:
        out.append(
            f"only {len(repos) + 1} copies (the live data and {len(repos)} repository):"
            " 3-2-1 needs 3, so two repositories"
        )
    media = {r.media for r in repos}
    if len(repos) >= 2 and len(media) < 2:
        out.append(f"every repository is on media {media.pop()!r}: 3-2-1 needs 2 different media")
    if not any(r.offsite for r in repos):
        out.append("no repository is offsite: 3-2-1 needs one copy in another building")
    if not any(r.immutable or r.offline for r in repos):
        out.append(
            "no repository is immutable or offline: 3-2-1-1-0 needs one copy that ransomware"
            " on this machine cannot change"
        )
    return out


def _proof_advice(plan: Plan) -> list[str]:
    out = []
    if plan.check is None:
        out.append("no [check]: the '0 errors' of 3-2-1-1-0 needs a recent check of each copy")
    if plan.drill is None:
        out.append("no [drill]: the '0 errors' of 3-2-1-1-0 needs a recent restore drill")
    if plan.retention is None:
        out.append("no [retention]: nothing is ever forgotten, so each repository only grows")
    return out


def _password_file_advice(name: str, path: str) -> list[str]:
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return [f"repository {name!r}: password file {path} cannot be read: {e.strerror}"]
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [
            f"repository {name!r}: password file {path} is open to group or others"
            f" (mode {stat.S_IMODE(mode):o}): chmod 600 it"
        ]
    return []


def _kind(url: str) -> str:
    return "an SFTP server" if url.startswith("sftp://") else "a local directory"
