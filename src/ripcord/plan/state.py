"""What `status` observed of each copy, and the small file that remembers it.

A rotated USB disk is not connected most of the time, and a NAS can be down
for an hour: neither should turn `status` into an error that hides what is
known. So each observation of a reachable repository is remembered in a
small JSON file per plan (platformdirs' state directory, or
RIPCORD_STATE_DIR), written atomically; a copy that cannot be reached now is
reported from its last observation ("last seen 3 days ago"). The file is only
a memory of facts read from the repositories: losing it loses nothing but
that memory, and a damaged one is set aside, never trusted half-way.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from ripcord.plan.model import Plan
from ripcord.repository.crypto import is_content_id

STATE_VERSION = 1
APP = "ripcord"
RESULTS = ("pass", "fail")  # of a check or a drill
# times are shown in local time (at most 14 hours off UTC): a remembered time must
# stay inside datetime's range there, or showing it overflows
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, 9, 59, tzinfo=UTC)
T = TypeVar("T")


@dataclass(frozen=True)
class Newest:
    """The newest snapshot of one plan source in one copy (none: never backed up there)."""

    source: str
    snapshot: str | None = None
    time: datetime | None = None


@dataclass(frozen=True)
class Proof:
    """The latest check or drill record of a copy."""

    id: str
    time: datetime
    result: str  # pass or fail
    errors: int  # a check's errors, a drill's failures
    first: str = ""  # the first of them, in words


@dataclass(frozen=True)
class Immutability:
    """What the store itself said about deleting or rewriting what ripcord wrote."""

    verified: bool
    how: str  # in plain words: "S3 Object Lock: ... locked until ...", "a local directory"


@dataclass(frozen=True)
class Alarm:
    """A change-guard alarm nobody has answered (`guard ack`)."""

    snapshot: str
    time: datetime
    reason: str
    # the snapshot this one is a copy of ("": not a copy, or remembered): the same alarm
    # in every copy of the plan; not kept in the state file nor in `status --json`
    origin: str = ""

    @property
    def key(self) -> str:
        """What names this alarm in every repository its snapshot was copied to."""
        return self.origin or self.snapshot


@dataclass(frozen=True)
class CopyState:
    """One repository as `status` knows it: observed now, or remembered."""

    repository: str  # the plan's name for it
    reachable: bool
    observed: datetime | None = None  # when the facts below were read (None: never)
    error: str | None = None  # why it cannot be reached now, in one line
    newest: tuple[Newest, ...] = ()
    check: Proof | None = None
    drill: Proof | None = None
    immutable: Immutability | None = None
    alarms: tuple[Alarm, ...] = ()

    @property
    def known(self) -> bool:
        """Whether anything was ever read from it."""
        return self.observed is not None

    @property
    def remembered(self) -> bool:
        """Facts from an earlier observation: it cannot be reached now."""
        return not self.reachable and self.known


def merged(now: CopyState, before: CopyState | None) -> CopyState:
    """What to report: an observation that reached the repository, else the last
    one that did, with today's reason for not reaching it."""
    if now.reachable or before is None or not before.known:
        return now
    return replace(before, reachable=False, error=now.error)


# -- JSON (the state file, and `status --json`) ---------------------------------------------


def state_doc(s: CopyState) -> dict[str, Any]:
    return {
        "repository": s.repository,
        "reachable": s.reachable,
        "observed": _time(s.observed),
        "error": s.error,
        "newest": [
            {"source": n.source, "snapshot": n.snapshot, "time": _time(n.time)} for n in s.newest
        ],
        "check": _proof_doc(s.check),
        "drill": _proof_doc(s.drill),
        "immutable": None
        if s.immutable is None
        else {"verified": s.immutable.verified, "how": s.immutable.how},
        "alarms": [
            {"snapshot": a.snapshot, "time": a.time.isoformat(), "reason": a.reason}
            for a in s.alarms
        ],
    }


def _proof_doc(p: Proof | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "id": p.id,
        "time": p.time.isoformat(),
        "result": p.result,
        "errors": p.errors,
        "first": p.first,
    }


def _time(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def read_state_doc(d: dict[str, Any]) -> CopyState:
    """The inverse of state_doc; raises KeyError, TypeError or ValueError. What is shown
    as it is (ids, results, times) is checked as strictly as when it was observed."""
    imm = d["immutable"]
    return CopyState(
        repository=_str(d["repository"]),
        reachable=d["reachable"] is True,
        observed=_at(d["observed"]),
        error=d["error"] if d["error"] is None else _str(d["error"]),
        newest=tuple(
            Newest(_str(n["source"]), _optional(_id, n["snapshot"]), _at(n["time"]))
            for n in d["newest"]
        ),
        check=_proof(d["check"]),
        drill=_proof(d["drill"]),
        immutable=None if imm is None else Immutability(imm["verified"] is True, _str(imm["how"])),
        alarms=tuple(
            Alarm(_id(a["snapshot"]), _when(a["time"]), _str(a["reason"])) for a in d["alarms"]
        ),
    )


def _proof(d: dict[str, Any] | None) -> Proof | None:
    if d is None:
        return None
    errors, result = d["errors"], d["result"]
    if type(errors) is not int or errors < 0:
        raise ValueError(f"errors {errors!r}")
    if result not in RESULTS:
        raise ValueError(f"result {result!r:.40}")
    return Proof(_id(d["id"]), _when(d["time"]), result, errors, _str(d["first"]))


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected text, got {v!r}")
    return v


def _id(v: Any) -> str:
    if not is_content_id(v):
        raise ValueError(f"not an id: {v!r:.80}")
    return str(v)


def _when(v: Any) -> datetime:
    t = datetime.fromisoformat(_str(v))
    if t.tzinfo is None:
        raise ValueError(f"time without a zone: {v!r}")
    if not _EARLIEST <= t <= _LATEST:
        raise ValueError(f"time out of range: {v!r}")
    return t


def _at(v: Any) -> datetime | None:
    return _optional(_when, v)


def _optional(read: Callable[[Any], T], v: Any) -> T | None:
    return None if v is None else read(v)


# -- the file -------------------------------------------------------------------------------


def state_path(plan: Plan) -> Path:
    base = os.environ.get("RIPCORD_STATE_DIR") or platformdirs.user_state_dir(APP)
    return Path(base) / f"{plan.name}.json"


def recall(plan: Plan) -> tuple[dict[str, CopyState], str | None]:
    """The last successful observation of each repository, and why the file was set
    aside if it could not be read (it is then ignored, not trusted half-way)."""
    path = state_path(plan)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError, RecursionError) as e:  # RecursionError: nested too deep
        return {}, f"the state file {path} cannot be read ({e}); starting afresh"
    try:
        if doc["version"] != STATE_VERSION:
            raise ValueError(f"version {doc['version']!r}")
        states = [read_state_doc(s) for s in doc["repositories"]]
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        return {}, f"the state file {path} is damaged ({e}); starting afresh"
    return {s.repository: s for s in states}, None


def remember(plan: Plan, states: list[CopyState]) -> str | None:
    """Keep each reachable observation (and the older one of each repository not
    reached now) for the next `status`; returns why it could not be written, if so."""
    path = state_path(plan)
    before, _ = recall(plan)
    keep = {**before, **{s.repository: s for s in states if s.reachable}}
    names = {r.name for r in plan.repositories}
    doc = {
        "version": STATE_VERSION,
        "plan": str(plan.path),
        "repositories": [state_doc(s) for n, s in sorted(keep.items()) if n in names],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        return f"the state file {path} could not be written ({e.strerror or e})"
    return None
