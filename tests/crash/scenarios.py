"""The commands the crash tests kill, each with the world it runs in and what must hold.

Sources are small and seeded (a dozen files, one or two packs a backup), so that
walking every store call of every command stays cheap; each snapshot is tagged with
the version of the source it was taken of, whose picture it must restore to.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import ClassVar

from tests.conftest import PASSWORD, Result
from tests.crash.harness import KILLED, Kill, Picture, World, count, run
from tests.crash.sites import Site
from tests.trees import tree_state

FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
NEW_PASSWORD = "the password after key passwd"
WRONG_PASSWORD = 12  # errors.py: the exit code of a password that opens no key slot


def write_source(src: Path, version: int) -> None:
    """Version 1 of the source, or the changes that make `version` from the one before:
    a rewritten file and a new one (few enough that the change guard stays quiet)."""
    rng = random.Random(version)
    if version == 1:
        (src / "docs" / "deep").mkdir(parents=True)
        (src / "empty").mkdir()
        for i in range(6):
            (src / "docs" / f"note-{i}.txt").write_text(f"note {i}\n" * (200 + 50 * i))
            (src / "docs" / "deep" / f"{i}.bin").write_bytes(rng.randbytes(20_000 + 1000 * i))
        (src / "zero").write_bytes(b"")
        return
    (src / "docs" / "deep" / f"{version}.bin").write_bytes(rng.randbytes(25_000))
    (src / "docs" / f"added-{version}.txt").write_text(f"added in version {version}\n" * 30)


class Base:
    """A command in a repository holding snapshots of the source's first versions."""

    name = ""
    versions = 1  # versions backed up while preparing
    kept_tags: ClassVar[dict[str, set[str]]] = {"main": {"v1"}}  # listed whatever the kill
    done_tags: ClassVar[dict[str, set[str]]] = {"main": {"v1"}}  # listed once it finished

    def __init__(self) -> None:
        self.source = Path()

    def world(self, site: Site, root: Path, argv: list[str], roles: tuple[str, ...]) -> World:
        repos = {role: site.location(f"{root.name}-{role}") for role in roles}
        world = World(root, repos, argv, {})
        world.cli().ok("init", *FAST)
        return world

    def backup(self, world: World, version: int) -> None:
        """Change the source to `version`, picture it, back it up tagged v`version`."""
        write_source(self.source, version)
        tag = f"v{version}"
        world.pictures[tag] = Picture(self.source, tree_state(self.source))
        world.cli().ok("backup", str(self.source), "--tag", tag)

    def prepare(self, site: Site, root: Path) -> World:
        root.mkdir(parents=True)
        self.source = root / "src"
        world = self.world(site, root, self.argv(), ("main",))
        for version in range(1, self.versions + 1):
            self.backup(world, version)
        return world

    def argv(self) -> list[str]:
        raise NotImplementedError

    def kept(self) -> dict[str, set[str]]:
        return self.kept_tags

    def done(self) -> dict[str, set[str]]:
        return self.done_tags

    def settle(self, world: World) -> None:
        pass

    def rerun(self, world: World) -> Result | None:
        return world.cli()(*world.args())

    def finished(self, world: World) -> None:
        pass


class FirstBackup(Base):
    """The first backup into an empty repository."""

    name = "backup-first"
    versions = 0
    kept_tags: ClassVar[dict[str, set[str]]] = {"main": set()}

    def prepare(self, site: Site, root: Path) -> World:
        world = super().prepare(site, root)
        write_source(self.source, 1)
        world.pictures["v1"] = Picture(self.source, tree_state(self.source))
        return world

    def argv(self) -> list[str]:
        return ["backup", str(self.source), "--tag", "v1"]


class NextBackup(Base):
    """An incremental backup: a parent snapshot, one file rewritten and one added."""

    name = "backup-incremental"
    done_tags: ClassVar[dict[str, set[str]]] = {"main": {"v1", "v2"}}

    def prepare(self, site: Site, root: Path) -> World:
        world = super().prepare(site, root)
        write_source(self.source, 2)
        world.pictures["v2"] = Picture(self.source, tree_state(self.source))
        return world

    def argv(self) -> list[str]:
        return ["backup", str(self.source), "--tag", "v2"]


class Copy(Base):
    """A copy to a replica that holds the first of the source's two snapshots."""

    name = "copy"
    versions = 2
    kept_tags: ClassVar[dict[str, set[str]]] = {"main": {"v1", "v2"}, "copy": {"v1"}}
    done_tags: ClassVar[dict[str, set[str]]] = {"main": {"v1", "v2"}, "copy": {"v1", "v2"}}

    def prepare(self, site: Site, root: Path) -> World:
        root.mkdir(parents=True)
        self.source = root / "src"
        world = self.world(site, root, self.argv(), ("main", "copy"))
        world.env["RIPCORD_TO_PASSWORD"] = PASSWORD
        world.cli("copy").ok(
            "init", "--copy-params-from", world.repos["main"], *FAST,
            env={"RIPCORD_FROM_PASSWORD": PASSWORD},
        )  # fmt: skip
        self.backup(world, 1)
        world.cli().ok("copy", "--to", world.repos["copy"], "latest")
        self.backup(world, 2)
        return world

    def argv(self) -> list[str]:
        return ["copy", "--to", "{copy}"]

    def finished(self, world: World) -> None:
        """The rerun skipped what the killed copy had sent: no snapshot twice."""
        tags = [t for s in world.cli("copy").ok("snapshots", "--json").json for t in s["tags"]]
        assert sorted(tags) == ["v1", "v2"], tags


class Forget(Base):
    """forget --prune: three snapshots, the two older forgotten and their data freed."""

    name = "forget"
    versions = 3
    kept_tags: ClassVar[dict[str, set[str]]] = {"main": {"v3"}}
    done_tags: ClassVar[dict[str, set[str]]] = {"main": {"v3"}}

    def argv(self) -> list[str]:
        return ["forget", "--keep-last", "1", "--prune"]


class Prune(Base):
    """prune --max-unused 0% after the first of two snapshots was forgotten: its pack is
    partly used by the second, so it is repacked."""

    name = "prune"
    versions = 2
    kept_tags: ClassVar[dict[str, set[str]]] = {"main": {"v2"}}
    done_tags: ClassVar[dict[str, set[str]]] = {"main": {"v2"}}

    def prepare(self, site: Site, root: Path) -> World:
        world = super().prepare(site, root)
        world.cli().ok("forget", "--keep-last", "1")
        return world

    def argv(self) -> list[str]:
        return ["prune", "--max-unused", "0%"]

    def finished(self, world: World) -> None:
        doc = world.cli().ok("check", "--json").json
        assert doc["notes"] == [], f"unreferenced data left after prune: {doc['notes']}"


class RepairIndex(Base):
    """repair index after a backup was killed between storing its packs and its index:
    their packs are in no index file until the repair adopts them."""

    name = "repair-index"

    def prepare(self, site: Site, root: Path) -> World:
        world = super().prepare(site, root)
        write_source(self.source, 2)
        killed = World(world.root, world.repos, ["backup", str(self.source)], {})
        puts = [name for op, name in count(killed, site).calls if op == "put"]
        first_index = next(i for i, name in enumerate(puts, 1) if name.startswith("index/"))
        r = run(killed, Kill(f"put:{first_index}"))
        assert r.code == KILLED, r.err
        return world

    def argv(self) -> list[str]:
        return ["repair", "index"]

    def finished(self, world: World) -> None:
        notes = world.cli().ok("check", "--json").json["notes"]
        assert not [n for n in notes if n["kind"] == "unindexed-pack"], notes


class KeyPasswd(Base):
    """key passwd: the repository opens with the old or the new password, never neither."""

    name = "key-passwd"

    def prepare(self, site: Site, root: Path) -> World:
        world = super().prepare(site, root)
        world.env["RIPCORD_NEW_PASSWORD"] = NEW_PASSWORD
        return world

    def argv(self) -> list[str]:
        return ["key", "passwd", *FAST]

    def opens(self, world: World, password: str) -> bool:
        r = world.cli()("key", "list", "--json", env={"RIPCORD_PASSWORD": password})
        assert r.code in (0, WRONG_PASSWORD), f"key list exited {r.code}: {r.err}"
        return r.code == 0

    def settle(self, world: World) -> None:
        old, new = self.opens(world, PASSWORD), self.opens(world, NEW_PASSWORD)
        assert old or new, "neither the old nor the new password opens the repository"
        world.env["RIPCORD_PASSWORD"] = PASSWORD if old else NEW_PASSWORD

    def rerun(self, world: World) -> Result | None:
        """The command again with the old password while it still opens the repository
        (else the change is complete); from then on the new one is the password."""
        r = world.cli()(*world.args()) if world.env["RIPCORD_PASSWORD"] == PASSWORD else None
        world.env["RIPCORD_PASSWORD"] = NEW_PASSWORD
        return r

    def finished(self, world: World) -> None:
        assert not self.opens(world, PASSWORD), "the old password still opens the repository"
        assert self.opens(world, NEW_PASSWORD)


SCENARIOS: tuple[type[Base], ...] = (
    FirstBackup,
    NextBackup,
    Copy,
    Forget,
    Prune,
    RepairIndex,
    KeyPasswd,
)
