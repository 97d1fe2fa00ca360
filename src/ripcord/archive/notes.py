"""Does a small text file read like a ransom note?

A note tells its reader that their files were encrypted and how to pay to get them
back: a Tor address, a coin address, phrases no ordinary document strings together.
Ordinary documents do mention bitcoin, encryption, even ransomware, so one phrase
is never enough. A file is a note when it holds

- a Tor onion address (v3: 56 base32 characters; v2: 16), or
- a phrase only a note says ("your files have been encrypted", "to decrypt your
  files", "ransom", "Tor Browser", in a few languages) together with a second such
  phrase, or with a payment word (bitcoin, monero, wallet, payment, private key,
  "your personal ID", "restore your files", ...) or a coin address (Bitcoin with a
  valid checksum, bech32 or base58; Monero by its shape).

The guard takes a note as evidence alongside the other signals (a new file, in many
folders, next to encrypted ones), not as a verdict: a security memo about ransomware
can read like one.

Every file a backup reads that is small text comes here, so the first test is two
cheap searches of the first 2 KiB: for "crypt" (encrypted, decrypt, crypté), which
notes in English and French use in their opening lines, and ".onion"; where that
text is not ASCII, for the other languages' stems too. Only a hit pays for the rest.
A note that says neither in its first 2 KiB, or one in Spanish or Italian written
without accents, is missed; the guard still has its name to go by.
"""

from __future__ import annotations

import codecs
import hashlib
import re

NOTE_MAX = 64 * 1024  # larger files are not notes
_PROBE = 2048

_STEM = b"crypt"  # encrypted, decrypt, crypté, décrypter
_STEMS_OTHER = tuple(s.encode() for s in ("chiffr", "schlüssel", "шифр", "cript", "cifr", "critt"))

_ONION = re.compile(r"(?<![a-z2-7])(?:[a-z2-7]{56}|[a-z2-7]{16})\.onion\b")

_FILES = r"(?:files?|documents?|data|network|computers?|servers?|systems?|photos?|databases?)"
# each a kind of thing notes say; a file saying two different ones reads like a note
_STRONG = tuple(
    re.compile("|".join(alternatives))
    for alternatives in (
        (  # "your files have been encrypted", "all your data is stolen and encrypted!"
            rf"\byour\s+(?:\w+\s+){{0,2}}{_FILES}\s+(?:(?:have|has)\s+been|were|got)\s+"
            r"(?:\w+\s+){0,3}?(?:encrypted|locked)\b",
            rf"\byour\s+(?:\w+\s+){{0,2}}{_FILES}\s+(?:are|is)\s+(?:\w+\s+){{0,3}}?"
            r"(?:encrypted|locked)\s*(?:[!.\n]|$)",
            r"dateien[^.!?\n]{0,60}verschlüsselt",
            r"fichiers[^.!?\n]{0,60}(?:chiffr|crypt)",
            r"archivos[^.!?\n]{0,60}(?:cifrad|encriptad)",
            r"\bfile[^.!?\n]{0,60}(?:crittografat|cifrat)",
            r"arquivos[^.!?\n]{0,60}(?:criptografad|cifrad)",
            r"файл[^.!?\n]{0,60}зашифрован",
        ),
        (  # "to decrypt your files", "decryption software"
            rf"\bdecrypt(?:ion\s+of)?\s+(?:all\s+)?(?:of\s+)?your\s+(?:\w+\s+)?{_FILES}\b",
            r"\bdecrypt(?:ion|or)?\s+(?:tool|software|program|utility)\b",
            r"entschlüssel|déchiffr|décrypt|descifr|desencript|decifr|decritt|descriptograf",
            r"расшифр",
        ),
        (r"\bransom\b", r"lösegeld|rançon|rescate|riscatto|resgate|выкуп"),
        (r"\btor[\s-]+browser\b", r"torproject\.org"),
        (
            r"do\s*n[o']?t\s+(?:try\s+to\s+)?(?:rename|modify|edit|change|move)\s+(?:the\s+)?"
            r"(?:\w+\s+)?encrypted",
        ),
    )
)
_WEAK = re.compile(
    r"\b(?:bitcoins?|btc|monero|xmr|cryptocurrency|crypto\s+currency|wallet|payment"
    r"|private\s+key|(?:your\s+)?(?:personal|unique)\s+(?:id|key|identifier)"
    r"|(?:restore|recover|get\s+back)\s+(?:all\s+)?(?:of\s+)?your\s+(?:\w+\s+)?(?:files|data)"
    r"|contact\s+us|write\s+(?:to\s+)?us)\b"
)

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BTC_BASE58 = re.compile(rf"(?<![{_B58}])[13][{_B58}]{{25,34}}(?![{_B58}])")
_BECH32_CHARS = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BTC_BECH32 = re.compile(rf"\bbc1[{_BECH32_CHARS}]{{11,71}}\b")
_MONERO = re.compile(rf"(?<![{_B58}])[48][0-9AB][{_B58}]{{93}}(?![{_B58}])")


def is_note(data: bytes) -> bool:
    """Whether small text reads like a ransom note (see the module docstring)."""
    if len(data) > NOTE_MAX or not _may_be_note(data[:_PROBE]):
        return False
    text = _decode(data)
    low = text.lower()
    if ".onion" in low and _ONION.search(low):
        return True
    strong = sum(1 for p in _STRONG if p.search(low))
    if strong == 0:
        return False
    return strong >= 2 or _WEAK.search(low) is not None or _has_coin_address(text)


def _may_be_note(probe: bytes) -> bool:
    if probe.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        probe = _decode(probe).encode()
    low = probe.lower()
    if _STEM in low or b".onion" in low:
        return True
    return not probe.isascii() and any(s in low for s in _STEMS_OTHER)


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le", "replace")
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", "replace")
    return data.decode("utf-8", "replace")


def _has_coin_address(text: str) -> bool:
    if any(_base58check(m.group()) for m in _BTC_BASE58.finditer(text)):
        return True
    if any(_bech32_valid(m.group()) for m in _BTC_BECH32.finditer(text.lower())):
        return True
    return _MONERO.search(text) is not None  # Keccak, for its checksum, is not in hashlib


def _base58check(s: str) -> bool:
    """A Bitcoin base58 address: 25 bytes whose last 4 are a double SHA-256 checksum.
    Checking it keeps hashes and serial numbers in ordinary text from counting."""
    n = 0
    for c in s:
        n = n * 58 + _B58.index(c)
    leading = len(s) - len(s.lstrip("1"))
    raw = b"\x00" * leading + n.to_bytes((n.bit_length() + 7) // 8, "big")
    if len(raw) != 25:
        return False
    check = hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4]
    return raw[21:] == check


def _bech32_valid(s: str) -> bool:
    """BIP 173 / BIP 350 checksum of a bc1... address (bech32 or bech32m)."""
    hrp, data = s[:2], [_BECH32_CHARS.index(c) for c in s[3:]]
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i, g in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            chk ^= g if (top >> i) & 1 else 0
    return chk in (1, 0x2BC830A3)
