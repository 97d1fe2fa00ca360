"""Tree nodes: one file system entry, as stored in a tree blob.

A tree blob is msgpack ``{"v": 1, "nodes": [node, ...]}`` sorted by name, or for a
folder too big for one blob ``{"v": 2, "parts": [part, ...]}``, each part a version-1
tree of a run of its entries (docs/FORMAT.md §Split trees).
Names and link targets are bytes, so non-UTF-8 names survive. Everything
read back is validated here, before any other code sees it, because the
repository may be hostile (docs/FORMAT.md §Trees).
"""

from __future__ import annotations

import io
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ripcord.errors import CorruptObject, UnsafePath
from ripcord.repository.unpack import check_budget
from ripcord.repository.wire import as_bytes, as_id, as_int

TREE_VERSION = 1
SPLIT_VERSION = 2  # a tree that lists parts, each a version-1 tree
FILE, DIR, SYMLINK, FIFO, CHAR, BLOCK, SOCKET = (
    "file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket",
)  # fmt: skip
TYPES = (FILE, DIR, SYMLINK, FIFO, CHAR, BLOCK, SOCKET)
_TYPE_CHAR = {FILE: "-", DIR: "d", SYMLINK: "l", FIFO: "p", CHAR: "c", BLOCK: "b", SOCKET: "s"}
_NO_ID = 2**32 - 1  # (uid_t)-1: "leave unchanged", never a real owner


SIG_SCALE = 255  # compressibility is stored as round(compressed / plain * SIG_SCALE)
MAX_KIND = 16  # characters of a signal's kind name


@dataclass(frozen=True, slots=True)
class Signal:
    """What the change guard needs of a file's content, taken as the backup read it
    (docs/FORMAT.md §Trees): enough to tell an edit from an encryption without
    reading the old content again."""

    head: int  # compressibility of the first 1 KiB: compressed/plain in 1/SIG_SCALE; 0: text
    body: int  # the same of samples spread over the content after its first 4 KiB
    kind: str  # what the first bytes say the file is: "pdf", "zip", "text", ..., "data"
    note: bool = False  # small text that reads like a ransom note

    def to_wire(self) -> list[Any]:
        return [self.head, self.body, self.kind, self.note]

    @classmethod
    def from_wire(cls, d: Any) -> Signal:
        if not isinstance(d, list) or len(d) != 4:
            raise ValueError("signal is not a list of 4")
        # exact types before the lookup: True or 1.0 must not find the entry of 1
        key = (d[0], d[1], d[2], bool(d[3]))
        if type(d[0]) is int and type(d[1]) is int and type(d[2]) is str:
            known = _DECODED.get(key)
            if known is not None:
                return known
        head, body = as_int(d[0]), as_int(d[1])
        if not (0 <= head <= SIG_SCALE and 0 <= body <= SIG_SCALE):
            raise ValueError(f"signal compressibility out of range: {head}, {body}")
        kind = d[2]
        if not isinstance(kind, str) or not 0 < len(kind) <= MAX_KIND:
            raise ValueError("bad signal kind")
        sig = cls(head, body, kind, key[3])
        if len(_DECODED) < _DECODED_MAX:
            _DECODED[key] = sig
        return sig


# Signals decoded so far, shared (they are frozen): most files of a tree have one of a
# few (every text file the same), and building a frozen dataclass costs ~6x a lookup,
# which the guard pays for every file of a first backup (bench/RESULTS.md §Signals).
_DECODED: dict[tuple[Any, Any, Any, bool], Signal] = {}
_DECODED_MAX = 4096


@dataclass(slots=True)  # no __dict__: ~70 bytes less per node (a tree of 1M entries)
class Node:
    name: bytes
    type: str
    mode: int = 0
    uid: int = 0
    gid: int = 0
    user: str = ""
    group: str = ""
    mtime_ns: int = 0
    atime_ns: int = 0
    ctime_ns: int = 0
    size: int = 0
    inode: int = 0
    dev: int = 0
    nlink: int = 1
    rdev: int = 0
    content: list[bytes] = field(default_factory=list)  # blob ids, in order
    subtree: bytes | None = None
    target: bytes = b""
    xattrs: dict[bytes, bytes] = field(default_factory=dict)  # POSIX ACLs live here too
    hash: bytes = b""  # BLAKE3 of the whole file
    changed: bool = False  # the file changed while it was being read
    sig: Signal | None = None  # for the change guard; None: not measured (empty, or older)

    def to_wire(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "mode": self.mode}
        d.update(uid=self.uid, gid=self.gid, user=self.user, group=self.group)
        d.update(mtime=self.mtime_ns, atime=self.atime_ns, ctime=self.ctime_ns)
        d.update(inode=self.inode, dev=self.dev, nlink=self.nlink)
        if self.type == FILE:
            d.update(size=self.size, content=self.content, hash=self.hash)
            if self.changed:
                d["changed"] = True
            if self.sig is not None:
                d["sig"] = self.sig.to_wire()
        elif self.type == DIR:
            d["subtree"] = self.subtree
        elif self.type == SYMLINK:
            d["target"] = self.target
        elif self.type in (CHAR, BLOCK):
            d["rdev"] = self.rdev
        if self.xattrs:
            d["xattrs"] = self.xattrs
        return d

    @classmethod
    def from_wire(cls, d: Any, derive: Callable[[bytes], bytes] | None = None) -> Node:
        """Validate one wire node; `derive` maps a hash to the id of a one-chunk file."""
        if not isinstance(d, dict):
            raise ValueError("node is not a map")
        kind = d["type"]
        if kind not in TYPES:
            raise ValueError(f"unknown node type {kind!r}")
        # the type, owner and group shared, not one string per node (a node is ~0.4 KiB)
        n = cls(name=check_name(d["name"]), type=TYPES[TYPES.index(kind)])
        for attr, key in (("mode", "mode"), ("uid", "uid"), ("gid", "gid"), ("inode", "inode")):
            setattr(n, attr, as_int(d[key]))
        if not (0 <= n.uid < _NO_ID and 0 <= n.gid < _NO_ID):  # chown raises OverflowError
            raise ValueError(f"owner {n.uid}:{n.gid} out of range")
        n.mode &= 0o7777
        n.user, n.group = sys.intern(str(d["user"])), sys.intern(str(d["group"]))
        n.mtime_ns, n.atime_ns = as_int(d["mtime"]), as_int(d["atime"])
        n.ctime_ns = as_int(d["ctime"])
        n.dev, n.nlink = as_int(d["dev"]), as_int(d["nlink"])
        if n.type == FILE:
            n.size, n.hash = as_int(d["size"]), as_bytes(d["hash"])
            n.changed = bool(d.get("changed"))
            if "sig" in d:
                n.sig = Signal.from_wire(d["sig"])
            if "content" in d:
                n.content = [as_id(c) for c in d["content"]]
            elif derive is None:
                raise ValueError("a one-chunk file needs the repository key to decode")
            elif len(n.hash) != 32 or n.size == 0:
                raise ValueError("file without content list must be one chunk with a hash")
            else:  # one chunk: its id follows from the file's hash
                n.content = [derive(n.hash)]
        elif n.type == DIR:
            n.subtree = as_id(d["subtree"])
        elif n.type == SYMLINK:
            n.target = as_bytes(d["target"])
            if not n.target or b"\0" in n.target:
                raise ValueError("bad symlink target")
        elif n.type in (CHAR, BLOCK):
            n.rdev = as_int(d["rdev"])
            if n.rdev < 0:  # mknod raises OverflowError
                raise ValueError(f"device number {n.rdev} out of range")
        xattrs = d.get("xattrs", {})
        if not isinstance(xattrs, dict):
            raise ValueError("xattrs is not a map")
        n.xattrs = {as_bytes(k): as_bytes(v) for k, v in xattrs.items()}
        return n


def mode_text(node: Node) -> str:
    """The node's type and permissions as `ls -l` shows them ('drwxr-xr-x')."""
    return _TYPE_CHAR.get(node.type, "?") + stat.filemode(node.mode)[1:]


def check_name(name: Any) -> bytes:
    """A node name is one path component: never empty, '.', '..', or with '/' or NUL."""
    if not isinstance(name, bytes) or name in (b"", b".", b"..") or b"/" in name or b"\0" in name:
        raise UnsafePath(f"unsafe name in tree: {name!r}")
    if len(name) > 255:
        raise UnsafePath(f"name too long in tree: {name[:40]!r}...")
    return name


def encode_tree(nodes: list[Node]) -> dict[str, Any]:
    return tree_doc([n.to_wire() for n in sorted(nodes, key=lambda n: n.name)])


def tree_doc(wires: list[dict[str, Any]]) -> dict[str, Any]:
    """A tree blob's document from wire nodes already sorted by name."""
    return {"v": TREE_VERSION, "nodes": wires}


def decode_tree(doc: Any, what: str, derive: Callable[[bytes], bytes] | None = None) -> list[Node]:
    """The nodes of a version-1 tree document (a split tree's parts are read by
    archive.trees, which knows the repository)."""
    try:
        if isinstance(doc, dict) and doc.get("v") == SPLIT_VERSION:
            raise ValueError("a split tree where one part was expected")
        if doc["v"] != TREE_VERSION:
            raise ValueError(f"tree version {doc['v']}")
        nodes = [Node.from_wire(d, derive) for d in doc["nodes"]]
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise CorruptObject(f"{what}: duplicate names")
    return nodes


def decode_tree_data(
    data: bytes, what: str, derive: Callable[[bytes], bytes] | None = None
) -> list[Node]:
    """The nodes of a version-1 tree blob (a split tree's part: never itself split)."""
    listing = decode_listing(data, what, derive)
    if listing.parts:
        raise CorruptObject(f"{what}: malformed (a split tree where one part was expected)")
    return listing.nodes


@dataclass(frozen=True, slots=True)
class Part:
    """A run of a split folder's entries, in name order: a version-1 tree of its own,
    listed with its first name so that a lookup reads only the part that can hold it."""

    first: bytes
    count: int
    id: bytes

    def to_wire(self) -> dict[str, Any]:
        return {"first": self.first, "count": self.count, "id": self.id}


@dataclass(slots=True)
class Listing:
    """A tree blob decoded: its nodes, or for a split tree its parts (nodes then empty)."""

    nodes: list[Node]
    parts: list[Part]


def split_doc(parts: list[Part]) -> dict[str, Any]:
    return {"v": SPLIT_VERSION, "parts": [p.to_wire() for p in parts]}


def parts_from_wire(items: Any) -> list[Part]:
    """A split tree's parts, validated: at least one, each of at least one entry, first
    names safe and strictly increasing (so parts cannot overlap or repeat)."""
    if not isinstance(items, list) or not items:
        raise ValueError("a split tree lists no parts")
    out: list[Part] = []
    for d in items:
        if not isinstance(d, dict) or set(d) != {"first", "count", "id"}:
            raise ValueError("part is not a map of first, count and id")
        part = Part(check_name(d["first"]), as_int(d["count"]), as_id(d["id"]))
        if part.count < 1:
            raise ValueError(f"part of {part.count} entries")
        if out and part.first <= out[-1].first:
            raise ValueError("parts out of name order")
        out.append(part)
    return out


def part_what(tree_id: bytes, parts: list[Part], i: int) -> str:
    """How errors name part `i` of the split tree `tree_id`."""
    return f"tree {tree_id.hex()} part {i} ({parts[i].id.hex()})"


def check_part(
    nodes: list[Node], parts: list[Part], i: int, what: str, listed: int | None = None
) -> list[Node]:
    """The nodes of a split tree's part `i`, checked to be what the tree lists: as many
    as it says (`listed`: as the part held them, when a reader skipped some), the first
    named as it says, in strict name order, and all before the next part's first name.
    So parts can neither overlap nor hide a name from a lookup."""
    part = parts[i]
    end = parts[i + 1].first if i + 1 < len(parts) else None
    count = len(nodes) if listed is None else listed
    if count != part.count:
        raise CorruptObject(f"{what}: {count} entries where the tree lists {part.count}")
    if not nodes or nodes[0].name != part.first:
        raise CorruptObject(f"{what}: its first entry is not the one the tree names")
    prev = b""
    for n in nodes:
        if n.name <= prev or (end is not None and n.name >= end):
            raise CorruptObject(f"{what}: entries out of name order")
        prev = n.name
    return nodes


def decode_listing(
    data: bytes, what: str, derive: Callable[[bytes], bytes] | None = None
) -> Listing:
    """A tree blob's bytes decoded one node at a time: the document as msgpack maps
    (~1 KiB an entry, against ~0.4 KiB a node) is never held whole beside the nodes
    built from it. A key twice is malformed: unpackb would keep the last, this the
    first, and every reader must see the same nodes."""
    check_budget(data, what)  # a key beside the nodes is decoded whole
    u = msgpack.Unpacker(  # read from a stream: fed whole, it would copy the blob
        io.BytesIO(data), raw=False, strict_map_key=False, max_buffer_size=max(1, len(data))
    )
    seen: dict[Any, Any] = {}
    nodes: list[Node] = []
    try:
        for _ in range(u.read_map_header()):
            key = u.unpack()
            if key in seen:
                raise ValueError(f"key {key!r} twice")
            if key == "nodes":  # decoded as it streams, whatever the version turns out
                nodes = [Node.from_wire(u.unpack(), derive) for _ in range(u.read_array_header())]
                seen[key] = True
            else:
                seen[key] = u.unpack()
                if key == "v" and seen[key] not in (TREE_VERSION, SPLIT_VERSION):
                    raise ValueError(f"tree version {seen[key]}")  # before the rest, as written
        if u.tell() != len(data):
            raise ValueError("data after the tree")
        listing = _listing(seen, nodes)
    except (KeyError, TypeError, ValueError, msgpack.UnpackException) as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None
    names = {n.name for n in listing.nodes}
    if len(names) != len(listing.nodes):
        raise CorruptObject(f"{what}: duplicate names")
    return listing


def _listing(seen: dict[Any, Any], nodes: list[Node]) -> Listing:
    """The listing from a tree's top-level keys: `v` first, then its one array."""
    version = seen.get("v")
    if version == SPLIT_VERSION and set(seen) == {"v", "parts"}:
        return Listing([], parts_from_wire(seen["parts"]))
    if version == TREE_VERSION and "nodes" in seen and "parts" not in seen:
        return Listing(nodes, [])
    if version not in (TREE_VERSION, SPLIT_VERSION):
        raise ValueError(f"tree version {version}" if "v" in seen else "no version")
    raise ValueError("no nodes" if version == TREE_VERSION else "a split tree needs only parts")


def tree_refs(
    doc: Any, what: str, derive: Callable[[bytes], bytes]
) -> tuple[list[bytes], list[bytes]]:
    """(content blob ids, subtree ids) of a tree document, without building its nodes:
    all a walk over every snapshot needs (prune), at a fraction of decode_tree's cost.
    A split tree's parts count as its subtrees: trees that walk reaches next."""
    content: list[bytes] = []
    subtrees: list[bytes] = []
    try:
        if isinstance(doc, dict) and doc.get("v") == SPLIT_VERSION and set(doc) == {"v", "parts"}:
            return content, [p.id for p in parts_from_wire(doc["parts"])]
        if doc["v"] != TREE_VERSION:
            raise ValueError(f"tree version {doc['v']}")
        for d in doc["nodes"]:
            kind = d["type"]
            if kind == FILE:
                if "content" in d:
                    content.extend(as_id(c) for c in d["content"])
                elif as_int(d["size"]):
                    content.append(derive(as_id(d["hash"])))
            elif kind == DIR:
                subtrees.append(as_id(d["subtree"]))
    except (KeyError, TypeError, ValueError, UnsafePath) as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None
    return content, subtrees
