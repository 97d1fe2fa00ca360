"""File contents for bench/guard.py that bench/gen.py does not make.

Office files (zip-based .docx/.xlsx, deflated, so mostly random-looking to a
compressor), camera JPEGs (Exif header, random-looking body), ELF objects
(partly random, like compiled code), ransom notes, and the AES-CTR encryption
of the attacks. All seeded: the same ``Random`` gives the same bytes.
"""

from __future__ import annotations

import random
import re
import struct
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import gen
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KIB = gen.KIB
HEAD = 4 * KIB  # what the "first 4 KiB only" attack encrypts

# --------------------------------------------------------------------------- office files

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="jpeg" ContentType="image/jpeg"/>'
    '<Override PartName="/{main}" ContentType="{mime}"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="{main}"/></Relationships>'
)
_CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    'core-properties" xmlns:dcterms="http://purl.org/dc/terms/"><dc:creator>{who}</dc:creator>'
    "<dcterms:modified>{when}</dcterms:modified></cp:coreProperties>"
)
_DOCX_MAIN = "word/document.xml"
_XLSX_MAIN = "xl/worksheets/sheet1.xml"
_MIME = {
    _DOCX_MAIN: "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    _XLSX_MAIN: "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
}
_PARA = re.compile(rb"<w:p>.*?</w:p>|<row>.*?</row>", re.S)


def _escape(line: bytes) -> bytes:
    return line.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")


def _paragraph(line: bytes) -> bytes:
    return b"<w:p><w:r><w:t>" + _escape(line) + b"</w:t></w:r></w:p>"


def _row(line: bytes) -> bytes:
    cells = b"".join(b"<c><v>" + _escape(v) + b"</v></c>" for v in line.split(b","))
    return b"<row>" + cells + b"</row>"


def _units(rng: random.Random, corpus: gen.Corpus, main: str, n: int) -> list[bytes]:
    """``n`` paragraphs (a .docx) or rows (a .xlsx) of seeded text."""
    if main == _DOCX_MAIN:
        return [_paragraph(x) for x in rng.choices(corpus.prose.lines, k=n)]
    return [_row(x) for x in rng.choices(corpus.csv.lines, k=n)]


def _wrap(main: str, units: list[bytes]) -> bytes:
    if main == _DOCX_MAIN:
        head = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/'
        return head + b'main"><w:body>' + b"".join(units) + b"</w:body></w:document>"
    head = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    return head + b"<sheetData>" + b"".join(units) + b"</sheetData></worksheet>"


def _zip(entries: Mapping[str, bytes], mtime: int) -> bytes:
    stamp = datetime.fromtimestamp(mtime, UTC).timetuple()[:6]
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            kind = zipfile.ZIP_STORED if name.endswith(".jpeg") else zipfile.ZIP_DEFLATED
            z.writestr(zipfile.ZipInfo(name, stamp), data, compress_type=kind)
    return buf.getvalue()


def _core(rng: random.Random, mtime: int) -> bytes:
    when = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _CORE.format(who=rng.choice(("anna", "bert", "chen", "dana")), when=when).encode()


def office_file(rng: random.Random, corpus: gen.Corpus, ext: str, size: int, mtime: int) -> bytes:
    """A .docx or .xlsx of about ``size`` bytes of XML; a third of the .docx carry photos."""
    main = _DOCX_MAIN if ext == ".docx" else _XLSX_MAIN
    entries = {
        "[Content_Types].xml": _CONTENT_TYPES.format(main=main, mime=_MIME[main]).encode(),
        "_rels/.rels": _RELS.format(main=main).encode(),
        "docProps/core.xml": _core(rng, mtime),
        main: _wrap(main, _units(rng, corpus, main, max(4, size // 90))),
    }
    if main == _DOCX_MAIN and rng.random() < 0.33:
        for i in range(rng.randint(1, 3)):
            entries[f"word/media/image{i + 1}.jpeg"] = photo(rng, rng.randint(20 * KIB, 200 * KIB))
    return _zip(entries, mtime)


def edit_office(rng: random.Random, corpus: gen.Corpus, data: bytes, mtime: int) -> bytes | None:
    """The file as an office program saves it after an edit; None if it is not an office zip.

    Rewrites every entry, as Word and Excel do: a few paragraphs or rows replaced,
    a few inserted, the modification date in docProps/core.xml updated.
    """
    try:
        with zipfile.ZipFile(BytesIO(data)) as z:
            entries = {i.filename: z.read(i) for i in z.infolist()}
    except (zipfile.BadZipFile, EOFError):
        return None
    main = next((m for m in (_DOCX_MAIN, _XLSX_MAIN) if m in entries), None)
    if main is None:
        return None
    units = _PARA.findall(entries[main])
    for _ in range(rng.randint(1, 6)):
        new = _units(rng, corpus, main, rng.randint(1, 4))
        pos = rng.randrange(len(units) + 1)
        units[pos : pos + rng.randint(0, 2)] = new
    entries[main] = _wrap(main, units)
    entries["docProps/core.xml"] = _core(rng, mtime)
    return _zip(entries, mtime)


# --------------------------------------------------------------------------- photos and binaries


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def photo(rng: random.Random, size: int) -> bytes:
    """A camera JPEG: SOI, Exif APP1 with the camera's name, tables, then scan data.

    The scan data of a real photo is entropy-coded: to a compressor it is random.
    """
    camera = rng.choice((b"Canon EOS R6", b"NIKON Z 6_2", b"iPhone 14 Pro", b"Pixel 8"))
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08" + camera + bytes(64) + rng.randbytes(32)
    head = (
        b"\xff\xd8"
        + _segment(0xFFE1, exif)
        + _segment(0xFFDB, b"\x00" + bytes(rng.randint(1, 40) for _ in range(64)))
        + _segment(0xFFC0, b"\x08" + struct.pack(">HH", 3000, 4000) + b"\x03\x01\x22\x00")
        + _segment(0xFFC4, b"\x00" + bytes(16) + bytes(range(12)))
        + _segment(0xFFDA, b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00")
    )
    body = max(0, size - len(head) - 2)
    return head + rng.randbytes(body) + b"\xff\xd9"


def _code_table() -> bytes:
    """A byte map that turns random bytes into machine-code-like ones: x86-64's common
    opcode, prefix and ModRM bytes over-represented, ~5.9 bits of entropy a byte
    (zstd: ~197/255 on 2 KiB, never random-looking)."""
    common = {0x00: 40, 0x48: 14, 0x89: 10, 0x8B: 10, 0xFF: 8, 0xE8: 6, 0x0F: 6, 0x24: 5,
              0x44: 5, 0x85: 4, 0xC0: 4, 0x83: 4, 0x01: 4, 0x74: 3, 0x75: 3, 0xC3: 3,
              0x4C: 3, 0x8D: 3, 0x31: 2, 0xEB: 2}  # fmt: skip
    table = [b for b, n in common.items() for _ in range(n)]
    return bytes(table + random.Random("code").choices(range(256), k=256 - len(table)))


CODE = _code_table()


def elf(rng: random.Random, corpus: gen.Corpus, size: int, packed: float = 0.0) -> bytes:
    """Compiled output: an ELF header, then machine code, symbol names and tables, and
    (``packed`` > 0, for binaries) that share of compressed resources at the end.

    Interleaved in pieces of at most 1 KiB, so that every 4 KiB is a mix, as in a
    real object file: ~2x compressible, head and body alike, build after build.
    (gen.structured_blob's random runs of up to 16 KiB would make some small
    objects wholly random-looking and their next build not.)
    """
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 1, 62, 1) + bytes(40)
    resources = rng.randbytes(int(size * packed))
    parts = [header]
    total = len(header) + len(resources)
    while total < size:
        n = rng.randint(64, 1024)
        kind = rng.random()
        if kind < 0.45:
            part = rng.randbytes(n).translate(CODE)
        elif kind < 0.70:  # symbol and string tables
            part = b"\x00".join(rng.choices(corpus.code.lines, k=n // 30 + 1))[:n]
        elif kind < 0.90:  # relocations and symbols: fixed-size records
            part = (rng.randbytes(8) + bytes(8)) * (n // 16)
        else:  # alignment padding
            part = bytes(n)
        parts.append(part)
        total += len(part)
    return b"".join(parts)[: size - len(resources)] + resources


# --------------------------------------------------------------------------- the attacker

NOTE_NAME = "README_RESTORE.txt"


def ransom_note(rng: random.Random) -> bytes:
    onion = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz234567", k=56)) + ".onion"
    victim = rng.randbytes(8).hex()
    return (
        "!!! ALL YOUR FILES HAVE BEEN ENCRYPTED !!!\n\n"
        "Your documents, photos, databases and other important files are encrypted\n"
        "with a strong algorithm. You cannot decrypt them without our private key.\n\n"
        "To restore your files:\n"
        f"1. Install Tor Browser and open http://{onion}/\n"
        f"2. Enter your personal ID: {victim}\n"
        "3. Pay 0.5 BTC and receive the decryptor.\n\n"
        "Do not rename or modify encrypted files. Do not use third-party software.\n"
        "If you do not contact us within 72 hours, your key will be destroyed.\n"
    ).encode()


def encrypt(rng: random.Random, path: Path, head_only: bool = False) -> None:
    """AES-256-CTR in place under a fresh random key: same size, random-looking bytes.

    ``head_only`` encrypts the first 4 KiB only (the rest stays as it was), as the
    fast "intermittent" ransomware families do.
    """
    key, nonce = rng.randbytes(32), rng.randbytes(16)
    enc = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
    with path.open("r+b") as f:
        data = f.read(HEAD) if head_only else f.read()
        f.seek(0)
        f.write(enc.update(data) + enc.finalize())
