"""What a file's first bytes say it is: a small magic-number table, then text or data.

The change guard compares a file's kind with the one it had in the parent snapshot:
a PDF, a JPEG or a text file whose first bytes stop saying so has most likely been
encrypted, even where its compressibility says nothing (a JPEG is random-looking
before and after). So the table covers what an office or server tree holds, and a
kind name is short (at most MAX_KIND characters, docs/FORMAT.md §Trees).

`kind_of` runs once for every file a backup reads, so it looks at the first byte
to pick the few magic numbers that could match instead of trying them all.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from ripcord.archive.node import MAX_KIND

TEXT, DATA = "text", "data"

# (magic at offset 0, kind); longer magic numbers first where one starts another
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),  # docx, xlsx, pptx, odt, jar, apk, epub too
    (b"PK\x05\x06", "zip"),  # an empty zip
    (b"PK\x07\x08", "zip"),  # a spanned zip
    (b"\x1f\x8b\x08", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"MSCF\x00\x00\x00\x00", "cab"),
    (b"!<arch>\n", "ar"),  # .deb, static libraries
    (b"\xed\xab\xee\xdb", "rpm"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),  # many camera raw formats too
    (b"MM\x00*", "tiff"),
    (b"8BPS\x00\x01", "psd"),
    (b"fLaC", "flac"),
    (b"OggS\x00", "ogg"),
    (b"\x1a\x45\xdf\xa3", "mkv"),  # EBML: told apart from webm below
    (b"\x00\x00\x01\xba", "mpeg"),
    (b"\xff\xfb", "mp3"),
    (b"\xff\xf3", "mp3"),
    (b"\xff\xf2", "mp3"),
    (b"\xff\xf1", "aac"),
    (b"\xff\xf9", "aac"),
    (b"wOFF", "font"),
    (b"wOF2", "font"),
    (b"OTTO", "font"),
    (b"\x7fELF", "elf"),
    (b"\xfe\xed\xfa\xce", "macho"),
    (b"\xfe\xed\xfa\xcf", "macho"),
    (b"\xce\xfa\xed\xfe", "macho"),
    (b"\xcf\xfa\xed\xfe", "macho"),
    (b"\xca\xfe\xba\xbe", "class"),  # also a universal Mach-O binary
    (b"\x00asm", "wasm"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"),  # .doc, .xls, .ppt, .msg, .msi
    (b"!BDN", "pst"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "lnk"),
    (b"SQLite format 3\x00", "sqlite"),
    (b"\x37\x7f\x06\x82", "sqlite-wal"),
    (b"\x37\x7f\x06\x83", "sqlite-wal"),
    (b"{\\rtf", "rtf"),
    (b"-----BEGIN PGP ", "pgp"),
    (b"age-encryption.org/", "age"),
    (b"-----BEGIN AGE ENCRYPTED FILE", "age"),
    (b"\x03\xd9\xa2\x9a", "kdbx"),
    (b"LUKS\xba\xbe", "luks"),
    (b"QFI\xfb", "qcow2"),
    (b"KDMV", "vmdk"),
    (b"vhdxfile", "vhdx"),
)


def _riff(head: bytes) -> str | None:
    if not head.startswith(b"RIFF") or len(head) < 12:
        return None
    return {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}.get(head[8:12], "riff")


def _id3(head: bytes) -> str | None:
    return "mp3" if head.startswith(b"ID3") and len(head) > 3 and 2 <= head[3] <= 4 else None


def _bzip2(head: bytes) -> str | None:
    ok = head.startswith(b"BZh") and len(head) >= 10 and head[3:4].isdigit()
    return "bzip2" if ok and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90") else None


def _bmp(head: bytes) -> str | None:
    return "bmp" if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00" else None


def _pe(head: bytes) -> str | None:
    """'MZ' alone is too common a start for text: the PE header offset must be sane."""
    if not head.startswith(b"MZ") or len(head) < 64:
        return None
    at = int.from_bytes(head[0x3C:0x40], "little")
    if at >= 0x10000:
        return None
    return "pe" if at + 4 > len(head) or head[at : at + 4] == b"PE\x00\x00" else None


def _pgp_binary(head: bytes) -> str | None:
    """An OpenPGP message starts with an encrypted session key packet (tag 1 or 3)."""
    if len(head) < 4:
        return None
    b0 = head[0]
    if b0 in (0x84, 0x8C) or (b0 in (0xC1, 0xC3) and head[1] < 192):  # 1-byte length
        version = head[2]
    elif b0 in (0x85, 0x8D):  # 2-byte length
        version = head[3]
    else:
        return None
    session_key_versions = (3, 6) if b0 in (0x84, 0x85, 0xC1) else (4, 5, 6)
    return "pgp" if version in session_key_versions else None


_CHECKS: tuple[tuple[bytes, Callable[[bytes], str | None]], ...] = (
    (b"R", _riff),
    (b"I", _id3),
    (b"B", _bzip2),
    (b"B", _bmp),
    (b"M", _pe),
    *((bytes([b]), _pgp_binary) for b in (0x84, 0x85, 0x8C, 0x8D, 0xC1, 0xC3)),
)

_FTYP = {  # ISO base media brands at offset 8 of an 'ftyp' box
    b"heic": "heic", b"heix": "heic", b"hevc": "heic", b"heim": "heic", b"heis": "heic",
    b"hevm": "heic", b"hevs": "heic", b"mif1": "heic", b"msf1": "heic",
    b"avif": "avif", b"avis": "avif", b"qt  ": "mov",
}  # fmt: skip


def _starts(magic: bytes, kind: str) -> Callable[[bytes], str | None]:
    return lambda head: kind if head.startswith(magic) else None


def _by_first_byte() -> dict[int, tuple[Callable[[bytes], str | None], ...]]:
    table: dict[int, list[Callable[[bytes], str | None]]] = {}
    for magic, kind in _MAGIC:
        table.setdefault(magic[0], []).append(_starts(magic, kind))
    for first, check in _CHECKS:
        table.setdefault(first[0], []).append(check)
    return {b: tuple(checks) for b, checks in table.items()}


_FIRST = _by_first_byte()
KINDS = frozenset(
    {k for _, k in _MAGIC}
    | {"webp", "wav", "avi", "riff", "mp3", "bzip2", "bmp", "pe", "pgp", "webm", "tar", "mp4"}
    | set(_FTYP.values())
    | {TEXT, DATA}
)
assert all(0 < len(k) <= MAX_KIND for k in KINDS)

# kinds whose content is compressed or encrypted by design, so random-looking is what
# it should be (a PDF's streams are deflated, a .deb holds compressed archives)
PACKED = frozenset(
    {
        "pdf", "zip", "gzip", "bzip2", "xz", "zstd", "lz4", "7z", "rar", "cab", "ar", "rpm",
        "png", "jpeg", "gif", "webp", "tiff", "heic", "avif", "mp4", "mov", "mp3", "aac",
        "flac", "ogg", "mkv", "webm", "avi", "mpeg", "pgp", "age", "kdbx", "luks",
    }
)  # fmt: skip
assert PACKED <= KINDS

# bytes that text does not hold: C0 controls but tab, newline, vertical tab, form
# feed, carriage return and escape (terminal colours in logs), and DEL
_CONTROL = bytes([*range(0, 9), *range(14, 27), *range(28, 32), 0x7F])
_HIGH = bytes(range(128, 256))
_TEXT_PROBE = 1024  # bytes looked at to call a file text: a start that is not text is enough
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def kind_of(head: bytes) -> str:
    """What the first bytes (ideally 4 KiB) say the file is: a name from KINDS."""
    for check in _FIRST.get(head[0], ()) if head else ():
        kind = check(head)
        if kind is not None:
            return "webm" if kind == "mkv" and b"webm" in head[:64] else kind
    if head[4:8] == b"ftyp":
        return _FTYP.get(head[8:12], "mp4")
    if head[257:262] == b"ustar":
        return "tar"
    return TEXT if is_text(head) else DATA


def is_text(head: bytes | bytearray, probe_size: int = _TEXT_PROBE) -> bool:
    """Nearly all of the first KiB (or `probe_size` bytes) printable: ASCII or UTF-8 (or
    a legacy 8-bit code page with few bytes above 127), or UTF-16 with a byte order mark.
    Random bytes have about 13 % control bytes, so 1 in 64 tells them apart from text
    with a stray NUL or bell."""
    probe = head[:probe_size]
    if not probe:
        return False
    if probe.startswith(_UTF16_BOMS):
        return _utf16_text(probe)
    if len(probe) - len(probe.translate(None, _CONTROL)) > len(probe) // 64:
        return False
    if probe.isascii():
        return True
    try:
        codecs.utf_8_decode(probe, "strict", False)  # a character cut at the end is fine
        return True
    except UnicodeDecodeError:
        return len(probe.translate(None, _HIGH)) * 4 >= len(probe) * 3


def _utf16_text(probe: bytes | bytearray) -> bool:
    codec = "utf-16-le" if probe.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
    body = probe[2 : 2 + (len(probe) - 2) // 2 * 2]
    try:
        text = body.decode(codec)
    except UnicodeDecodeError:
        return False  # (a surrogate cut at the end counts as not text: rare, harmless)
    controls = sum(1 for c in text if c < " " and c not in "\t\n\v\f\r\x1b") + text.count("\x7f")
    return controls <= len(text) // 64
