"""Folder names a mount makes: unique however the times repeat, and only safe
components from what a repository says."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ripcord.mount.names import is_component, time_name, to_bytes, to_str, unique
from ripcord.mount.view import Folder, everything
from ripcord.repository import Snapshot


@given(st.lists(st.sampled_from(["a", "a-1", "a-2", "b", "b-1", "latest"]), max_size=12))
def test_unique_names_are_distinct_and_keep_their_base(names: list[str]) -> None:
    out = unique(names)
    assert len(set(out)) == len(out) == len(names)
    for given_name, made in zip(names, out, strict=True):
        assert made == given_name or (
            made.startswith(given_name + "-") and made[len(given_name) + 1 :].isdigit()
        )
    # the first of each name keeps it as it is
    assert [out[names.index(n)] for n in set(names)] == list(set(names))


@given(st.binary(max_size=300))
def test_is_component_refuses_what_could_leave_a_folder(name: bytes) -> None:
    bad = name in (b"", b".", b"..") or b"/" in name or b"\0" in name or len(name) > 255
    assert is_component(name) is not bad


@given(st.binary(min_size=1, max_size=64))
def test_names_round_trip_as_the_same_bytes(name: bytes) -> None:
    assert to_bytes(to_str(name)) == name


def _snap(snap_id: str, when: datetime, host: str, tags: list[str]) -> Snapshot:
    return Snapshot(
        time=when, host=host, user="u", paths=["/"], tree="00" * 32, tags=tags, id=snap_id
    )


def test_hostile_hosts_and_tags_are_left_out_with_a_warning() -> None:
    t = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    snaps = [
        _snap("aa" * 32, t, "../etc", ["ok", "a/b", ".."]),
        _snap("bb" * 32, t, "web", ["x\0y"]),
    ]
    warnings: list[str] = []
    root = everything(snaps, warnings.append)
    hosts, tags, times = (root.children[k] for k in ("hosts", "tags", "snapshots"))
    assert isinstance(hosts, Folder) and isinstance(tags, Folder) and isinstance(times, Folder)
    assert list(hosts.children) == ["web"]
    assert list(tags.children) == ["ok"]
    assert len(warnings) == 4
    assert all("not a folder name" in w for w in warnings)
    # two snapshots in one second: both shown, the later with a suffix
    name = time_name(t)
    assert list(times.children) == [name, name + "-1", "latest"]
