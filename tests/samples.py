"""Content for tests of the change guard's signals: small files of real formats made
with the standard library, English-like prose, encryption as ransomware does it,
ransom notes written in the style of public ones, and ordinary texts that mention
the same words.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import io
import lzma
import random
import sqlite3
import struct
import tarfile
import tempfile
import wave
import zipfile
import zlib
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_WORDS = (
    "the", "of", "and", "to", "in", "is", "for", "that", "on", "with", "as", "by", "this",
    "be", "are", "from", "at", "or", "it", "an", "was", "have", "not", "report", "quarter",
    "budget", "meeting", "customer", "invoice", "project", "schedule", "review", "office",
    "team", "please", "attached", "draft", "final", "version", "update", "numbers", "sales",
    "north", "south", "regional", "plan", "contract", "supplier", "delivery", "order",
    "payment", "account", "minutes", "agenda", "action", "item", "owner", "deadline", "server",
    "backup", "network", "printer", "license", "renewal", "training", "policy", "holiday",
)  # fmt: skip


def prose(size: int, seed: int = 0) -> bytes:
    """English-like text of exactly `size` bytes (compresses about 2-3x, like office text)."""
    rng = random.Random(seed)
    out: list[str] = []
    n = 0
    while n < size:
        words = rng.choices(_WORDS, k=rng.randint(6, 16))
        line = " ".join(words).capitalize() + ".\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def encrypt(data: bytes, start: int = 0, end: int | None = None, seed: int = 1) -> bytes:
    """`data` with [start, end) encrypted in place by AES-256-CTR, as ransomware does."""
    key = hashlib.sha256(b"key%d" % seed).digest()
    enc = Cipher(algorithms.AES(key), modes.CTR(b"\0" * 16)).encryptor()
    stop = len(data) if end is None else min(end, len(data))
    return data[:start] + enc.update(data[start:stop]) + enc.finalize() + data[stop:]


# -- real formats, built with the standard library -------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int = 64, height: int = 64, seed: int = 0) -> bytes:
    """An 8-bit RGB PNG of noisy pixels."""
    rng = random.Random(seed)
    rows = b"".join(b"\0" + rng.randbytes(width * 3) for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def jpeg() -> bytes:
    """A baseline JFIF JPEG of one flat grey 8x8 block: one-symbol Huffman tables, so
    the scan is the DC code and the end-of-block code, one bit each."""
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + bytes([1] * 64)
    sof = b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"
    one_code = bytes([1] + [0] * 15)  # one code of length 1
    dht = b"\x00" + one_code + b"\x00" + b"\x10" + one_code + b"\x00"
    sos = b"\x01\x01\x00\x00\x3f\x00"
    return (
        b"\xff\xd8"
        + _jpeg_segment(0xE0, jfif)
        + _jpeg_segment(0xDB, dqt)
        + _jpeg_segment(0xC0, sof)
        + _jpeg_segment(0xC4, dht)
        + _jpeg_segment(0xDA, sos)
        + b"\x3f"  # DC: 0, AC: end of block, padded with ones
        + b"\xff\xd9"
    )


def pdf(text: str = "Quarterly report") -> bytes:
    """A one-page PDF with a compressed content stream and a correct xref table."""
    stream = zlib.compress(f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode())
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def docx() -> bytes:
    """The shape of a Word document: a zip of XML parts."""
    return zip_of(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
            "word/document.xml": b"<w:document><w:body>" + prose(3000) + b"</w:body></w:document>",
        }
    )


def gif() -> bytes:
    """A 1x1 GIF89a with a comment, as image editors leave them."""
    comment = b"Created for the signal tests; a comment block as image editors write them " * 2
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
        + b"!\xfe"
        + bytes([len(comment)])
        + comment
        + b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(random.Random(0).randbytes(2000))
    return buf.getvalue()


def sqlite_db() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.db"
        con = sqlite3.connect(path)
        con.execute("create table t (a text)")
        con.executemany("insert into t values (?)", [(f"row {i}",) for i in range(100)])
        con.commit()
        con.close()
        return path.read_bytes()


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def formats() -> dict[str, bytes]:
    """kind -> content of that kind."""
    text = prose(20_000)
    return {
        "png": png(),
        "jpeg": jpeg(),
        "pdf": pdf(),
        "zip": docx(),
        "gzip": gzip.compress(text),
        "bzip2": bz2.compress(text),
        "xz": lzma.compress(text),
        "gif": gif(),
        "wav": wav(),
        "sqlite": sqlite_db(),
        "tar": tar_of({"a.txt": text}),
        "text": text,
    }


# -- ransom notes (written for these tests, in the style of public ones) --------------

# a v3 address: base32 of a 32-byte key, a 2-byte checksum and the version 3
ONION_V3 = base64.b32encode(hashlib.sha256(b"k").digest() + b"\x12\x34\x03").decode().lower()
BECH32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP 173's test vector


def base58check(payload: bytes) -> str:
    """A base58 address with its double SHA-256 checksum (version byte included)."""
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = int.from_bytes(raw, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = alphabet[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


BTC = base58check(b"\x00" + hashlib.sha256(b"a test wallet").digest()[:20])

NOTES = {
    "onion": f"""
~~~ Your network was compromised ~~~

What happened?
All the servers and workstations of your company have been processed by our software.
Nothing is lost. To get the files back, you need our tool.

Open the Tor Browser and visit http://{ONION_V3}.onion/chat
Log in with your personal ID: 7F3A-99C2-DD01
""",
    "english": f"""
!!! ALL YOUR FILES HAVE BEEN ENCRYPTED !!!

Your documents, photos, databases and other important files have been encrypted
with strong encryption and a unique key generated for this computer.

The only way to decrypt your files is to buy the decryption software and your
private key from us. The price is 0.35 BTC. Send it to this address:

    {BTC}

Do not rename encrypted files. Do not try to decrypt your data with third-party
software, it may cause permanent data loss.
You have 72 hours. After that the price will be doubled.
""",
    "bech32": f"""Hello,
your files are encrypted.
To restore your files send 500 USD in bitcoin to {BECH32} and write to us.
""",
    "short": """YOUR FILES ARE ENCRYPTED!
Contact us to decrypt your files: recover.files@example.com
Your ID: 5521-AF09-33C1. Do not rename them.
""",
    "german": """ACHTUNG!
Alle Ihre Dateien wurden verschlüsselt.
Um Ihre Dateien zu entschlüsseln, kaufen Sie das Programm bei uns.
Schreiben Sie an: hilfe@example.com und nennen Sie Ihre ID.
""",
    "french": """ATTENTION !
Tous vos fichiers importants ont été chiffrés.
Pour déchiffrer vos fichiers, vous devez payer une rançon en bitcoins.
""",
    "spanish": """¡ATENCIÓN!
Todos sus archivos han sido cifrados con un algoritmo fuerte.
Para descifrar sus archivos escríbanos a rescate@example.com con su ID personal.
""",
}

ORDINARY = {
    "readme": """# vaultkeeper

vaultkeeper backs up your files to S3 or SFTP. Everything it stores is encrypted
with AES-256-GCM before it leaves your machine, and only your password can decrypt
it. If ransomware strikes, restore your files from any snapshot:

    vaultkeeper restore latest --target /srv/restore

## Keys

Your private key is kept in ~/.config/vaultkeeper. Lose it and nobody can decrypt
your backups, not even us. Questions? Contact us at support@example.com.
""",
    "letter": """Dear Anna,

thank you for the photos from the garden, they arrived safely. The contract is
attached as an encrypted PDF; I will tell you the password on the phone.
My nephew keeps telling me to put our savings into bitcoin. I told him we will
think about it after the holidays.

Warm regards,
Peter
""",
    "privacy": """Privacy policy

We take the security of your data seriously. Your data is encrypted in transit
(TLS 1.3) and at rest (AES-256). Payment details are handled by our payment
provider; we never see your card number. You may ask us to delete your personal
data at any time: contact us at privacy@example.com.
""",
    "wallet": f"""Cold wallet notes

The wallet file is encrypted with the passphrase in the safe. Never type the
private key on a computer connected to the network.
Donations address (bitcoin): {BTC}
""",
    "checksums": "\n".join(
        f"{hashlib.md5(b'%d' % i).hexdigest()}  release-{i}.tar.gz" for i in range(200)
    )
    + "\n",
    "code": '''"""Helpers to encrypt and decrypt configuration secrets."""

from cryptography.fernet import Fernet


def decrypt(token: bytes, key: bytes) -> bytes:
    """Decrypt a token made by encrypt(); raises if it was tampered with."""
    return Fernet(key).decrypt(token)


def encrypt(data: bytes, key: bytes) -> bytes:
    return Fernet(key).encrypt(data)
''',
}
