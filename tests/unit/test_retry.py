"""The retry wrapper: which faults it retries, and what a retry finds that the first
attempt did (each rule of storage/retry.py's docstring, one test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ripcord.errors import StoreError
from ripcord.storage import MemoryStore, ObjectExists, ObjectInfo, ObjectNotFound, StoreUnavailable
from ripcord.storage.retry import Retrying


class Script(MemoryStore):
    """A memory store whose next calls of a kind fail as told: `before` (the call never
    arrived) or `after` (it was done, its reply lost)."""

    def __init__(self) -> None:
        super().__init__()
        self.plan: dict[str, list[str]] = {}

    def _then(self, kind: str, op: Callable[[], object]) -> object:
        how = self.plan.get(kind, []).pop(0) if self.plan.get(kind) else None
        if how == "before":
            raise StoreUnavailable(f"{kind} refused")
        if how == "permanent":
            raise StoreError(f"{kind}: disk broken")
        result = op()
        if how == "after":
            raise StoreUnavailable(f"{kind} reply lost")
        if how == "short" and isinstance(result, bytes):
            return result[:1]
        return result

    def put(self, name: str, data: bytes, options: object = None) -> None:
        self._then("put", lambda: super(Script, self).put(name, data))

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        out = self._then("get", lambda: super(Script, self).get(name, offset, length))
        assert isinstance(out, bytes)
        return out

    def delete(self, name: str) -> None:
        self._then("delete", lambda: super(Script, self).delete(name))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        items = list(super().list(prefix))
        for i, info in enumerate(items):
            if i == 1 and self.plan.get("list"):
                self.plan["list"].pop(0)
                raise StoreUnavailable("listing cut off")
            yield info


def retrying(store: Script, **kw: object) -> Retrying:
    pauses: list[float] = []
    r = Retrying(store, sleep=pauses.append, **kw)  # type: ignore[arg-type]
    r.pauses = pauses  # type: ignore[attr-defined]
    return r


def test_a_transient_fault_is_retried_after_a_growing_pause() -> None:
    s = Script()
    s.plan["put"] = ["before", "before", "before"]
    r = retrying(s, backoff=1.0)
    r.put("data/x", b"abc")
    assert s.objects["data/x"] == b"abc"
    assert r.retries == 3
    caps = [1.0, 2.0, 4.0]
    assert all(0 <= p <= c for p, c in zip(r.pauses, caps, strict=True))


def test_a_fault_that_outlasts_the_attempts_is_raised() -> None:
    s = Script()
    s.plan["get"] = ["before"] * 5
    s.objects["x"] = b"1"
    with pytest.raises(StoreUnavailable):
        retrying(s, attempts=5).get("x")


def test_a_permanent_fault_is_not_retried() -> None:
    s = Script()
    s.plan["put"] = ["permanent", "before"]
    r = retrying(s)
    with pytest.raises(StoreError, match="disk broken"):
        r.put("x", b"1")
    assert r.retries == 0


def test_a_put_whose_reply_was_lost_succeeds_when_its_bytes_are_there() -> None:
    s = Script()
    s.plan["put"] = ["after"]
    retrying(s).put("data/x", b"abc")
    assert s.objects["data/x"] == b"abc"


def test_a_retried_put_that_finds_other_bytes_is_object_exists() -> None:
    s = Script()
    s.objects["data/x"] = b"theirs"
    s.plan["put"] = ["before"]
    with pytest.raises(ObjectExists):
        retrying(s).put("data/x", b"ours!!")
    assert s.objects["data/x"] == b"theirs"


def test_a_first_put_that_finds_the_same_bytes_is_still_object_exists() -> None:
    s = Script()
    s.objects["x"] = b"abc"
    with pytest.raises(ObjectExists):
        retrying(s).put("x", b"abc")


def test_a_delete_whose_reply_was_lost_succeeds() -> None:
    s = Script()
    s.objects["x"] = b"1"
    s.plan["delete"] = ["after"]
    retrying(s).delete("x")
    assert "x" not in s.objects


def test_a_short_ranged_read_is_read_again() -> None:
    s = Script()
    s.objects["x"] = b"0123456789"
    s.plan["get"] = ["short"]
    r = retrying(s)
    assert r.get("x", 2, 5) == b"23456"
    assert r.retries == 1


def test_a_range_cut_by_the_end_of_the_object_is_no_short_read() -> None:
    s = Script()
    s.objects["x"] = b"0123"
    r = retrying(s)
    assert r.get("x", 2, 5) == b"23"
    assert r.retries == 0


def test_a_listing_is_retried_only_before_its_first_entry() -> None:
    s = Script()
    for i in range(3):
        s.objects[f"p/{i}"] = b""
    s.plan["list"] = ["cut"]
    with pytest.raises(StoreUnavailable):
        list(retrying(s).list("p"))


def test_a_lost_connection_is_reopened_once() -> None:
    s = Script()
    s.objects["x"] = b"1"
    fresh = Script()
    fresh.objects["x"] = b"fresh"
    opened: list[Script] = []

    def reopen() -> Script:
        opened.append(fresh)
        return fresh

    s.plan["get"] = ["before"]
    r = retrying(s, reopen=reopen)
    assert r.get("x") == b"fresh"
    assert r.get("x") == b"fresh"
    assert opened == [fresh]


def test_extras_of_the_wrapped_store_pass_through() -> None:
    s = Script()
    s.objects["x"] = b"1"
    assert retrying(s).retained_until("x") is None
    with pytest.raises(ObjectNotFound):
        retrying(s).retained_until("y")
