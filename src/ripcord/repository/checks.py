"""Check records: the kept proof of what `check` read and what it found.

`ripcord check` (verify/checked.py) writes one after every run, errors or
not, as a write-once object under checks/, like a drill record: the result
travels with the backups it is about, is dated, and cannot be rewritten, so
`status` can say when each copy was last checked and whether it was whole
(docs/FORMAT.md §Checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import msgpack

from ripcord.errors import CorruptObject
from ripcord.repository.crypto import open_msgpack, seal
from ripcord.repository.records import check_result, common_doc, read_common, result_of
from ripcord.repository.wire import as_count, as_list, as_str

CHECK_AAD = b"ripcord v1 check"
CHECK_VERSION = 1
MAX_CHECK = 1 << 20  # 50 problem lines of at most 1,000 characters fit with room
MAX_PROBLEMS = 50  # problem lines kept: enough to say what is wrong, bounded
MAX_LINE = 1000  # characters kept of each
PATHS = "surrogateescape"  # problem lines name paths, which need not be UTF-8
# what was read: the structure only, every pack, or a subset as `--read-data-subset` takes it
READS = re.compile(r"metadata|all|subset:\S{1,100}")


@dataclass(frozen=True)
class CheckRecord:
    time: datetime  # when the check started
    host: str
    user: str
    repository: str  # config id of the repository checked
    read: str  # "metadata", "all" or "subset:<spec>"
    snapshots: int  # snapshots checked
    packs: int  # packs whose trailer was checked against the index
    packs_read: int  # of which read back whole
    bytes_read: int
    errors: int  # problems that are damage
    warnings: int  # problems worth knowing that are not damage (unused data)
    duration: float  # seconds
    problems: tuple[str, ...] = ()  # the first MAX_PROBLEMS problem lines, errors first
    id: str = ""  # storage name; not part of the stored document

    @property
    def result(self) -> str:
        return result_of(self.errors > 0)


def problem_lines(errors: list[str], warnings: list[str]) -> tuple[str, ...]:
    """The lines a record keeps: errors first, each cut to MAX_LINE characters."""
    return tuple(line[:MAX_LINE] for line in (errors + warnings)[:MAX_PROBLEMS])


def encode_check(key: bytes, rec: CheckRecord) -> bytes:
    doc = {
        "v": CHECK_VERSION,
        **common_doc(rec),
        "read": rec.read,
        "snapshots": rec.snapshots,
        "packs": rec.packs,
        "packs_read": rec.packs_read,
        "bytes_read": rec.bytes_read,
        "errors": rec.errors,
        "warnings": rec.warnings,
        "result": rec.result,
        "problems": list(rec.problems),
    }
    return seal(key, bytes(msgpack.packb(doc, unicode_errors=PATHS)), CHECK_AAD)


def decode_check(key: bytes, data: bytes, check_id: str) -> CheckRecord:
    what = f"check {check_id}"
    d = open_msgpack(key, data, CHECK_AAD, what, MAX_CHECK, unicode_errors=PATHS)
    try:
        if d["v"] != CHECK_VERSION:
            raise ValueError(f"check version {d['v']!r}")
        read = as_str(d["read"])
        if not READS.fullmatch(read):
            raise ValueError(f"read {read!r}")
        errors, warnings = as_count(d["errors"]), as_count(d["warnings"])
        check_result(d["result"], errors > 0, f"{errors} errors")
        problems = tuple(as_str(p) for p in as_list(d["problems"]))
        if len(problems) > min(MAX_PROBLEMS, errors + warnings):
            raise ValueError(f"{len(problems)} problem lines for {errors + warnings} problems")
        packs, packs_read = as_count(d["packs"]), as_count(d["packs_read"])
        return CheckRecord(
            **read_common(d),
            read=read,
            snapshots=as_count(d["snapshots"]),
            packs=packs,
            packs_read=packs_read,
            bytes_read=as_count(d["bytes_read"]),
            errors=errors,
            warnings=warnings,
            problems=problems,
            id=check_id,
        )
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None
