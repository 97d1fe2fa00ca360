"""The change guard's per-file signals: kinds from first bytes, compressibility, where
the samples sit, streaming against whole content, encryption as ransomware does it,
and ransom notes against ordinary texts that use the same words."""

from __future__ import annotations

import codecs
import itertools
import random
import sys
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.archive.kinds import _MAGIC, KINDS, PACKED, kind_of
from ripcord.archive.node import MAX_KIND, SIG_SCALE, Signal
from ripcord.archive.notes import NOTE_MAX, is_note
from ripcord.archive.signals import (
    HEAD,
    MAX_SAMPLES,
    MIN_CONTENT,
    MIN_MEASURED,
    MIN_SAMPLES,
    SAMPLE,
    SKIP,
    Sampler,
    compressibility,
    sample_starts,
    signal_of,
)
from tests.samples import NOTES, ORDINARY, encrypt, formats, png, prose

MIB = 1024 * 1024


def random_bytes(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def streamed(data: bytes, piece: int, size: int | None = None, notes: bool = True) -> Signal | None:
    """The signal of `data` fed in pieces, as chunks stream past during a backup."""
    sampler = Sampler(len(data) if size is None else size, notes)
    for i in range(0, len(data), piece):
        sampler.feed(data[i : i + piece])
    return sampler.signal()


def sig(data: bytes) -> Signal:
    s = signal_of(data)
    assert s is not None
    return s


# -- kinds -----------------------------------------------------------------------------


@given(st.binary(max_size=5000))
def test_kind_of_any_bytes_is_a_known_short_name(head: bytes) -> None:
    kind = kind_of(head)
    assert kind in KINDS
    assert 0 < len(kind) <= MAX_KIND


@given(st.sampled_from([m for m, _ in _MAGIC]), st.binary(max_size=600))
def test_kind_of_magic_with_anything_after_is_a_known_name(magic: bytes, rest: bytes) -> None:
    assert kind_of(magic + rest) in KINDS


@pytest.mark.parametrize("kind", sorted(formats()))
def test_real_files_are_recognised(kind: str) -> None:
    data = formats()[kind]
    assert kind_of(data[:HEAD]) == kind
    assert sig(data).kind == kind


def test_an_executable_is_elf() -> None:
    with open(sys.executable, "rb") as f:
        assert kind_of(f.read(HEAD)) == "elf"


@pytest.mark.parametrize(
    "text",
    [
        "plain ASCII, with\ttabs and\r\nCRLF line ends\n" * 40,
        "Grüße aus Köln, ça va? Привет! 東京 " * 60,  # UTF-8, cut mid-character at 1 KiB
        "\x1b[32mgreen\x1b[0m log line with colours\n" * 40,
        "a text with one stray NUL\0 in it" + " and otherwise ordinary words\n" * 40,
    ],
)
def test_text_is_text(text: str) -> None:
    assert kind_of(text.encode()[:HEAD]) == "text"


def test_legacy_and_utf16_text_is_text() -> None:
    assert kind_of(("Café crème, déjà vu, naïve Straße\n" * 40).encode("latin-1")) == "text"
    assert kind_of(codecs.BOM_UTF16_LE + ("Hello world\n" * 40).encode("utf-16-le")) == "text"


def test_random_bytes_are_data() -> None:
    """(Seeded: 1 in ~10,000 random starts happens to spell a two-byte magic number.)"""
    assert {kind_of(random_bytes(HEAD, seed)) for seed in range(200)} == {"data"}
    assert kind_of(bytes(range(256)) * 4) == "data"


def test_text_starting_like_a_format_stays_text() -> None:
    """Two-letter magic numbers are checked further: 'MZ', 'BM', 'ID3' start words too."""
    for start in ("MZ", "BM", "ID3", "BZh"):
        assert kind_of((start + " quarterly figures for the board\n" * 30).encode()) == "text"


def test_packed_kinds_are_kinds() -> None:
    assert PACKED <= KINDS
    assert {"zip", "jpeg", "png", "gzip", "pdf"} <= PACKED
    assert not {"text", "data", "sqlite", "ole2"} & PACKED


# -- compressibility -------------------------------------------------------------------


def test_compressibility_scale() -> None:
    assert compressibility(random_bytes(HEAD)) == SIG_SCALE
    assert compressibility(random_bytes(MIN_CONTENT)) == SIG_SCALE
    assert compressibility(bytes(HEAD)) <= 3
    text = compressibility(prose(HEAD))
    assert 60 < text < 160  # office text: 2-3x
    # base64 is compressible (6 bits a byte): entropy coding tells it from random
    assert compressibility(codecs.encode(random_bytes(3 * HEAD // 4), "base64")) < 220


# -- where samples sit -----------------------------------------------------------------


def body_spots(size: int) -> list[tuple[int, int]]:
    """The [start, end) of each sample."""
    return [(a, a + SAMPLE) for a in sample_starts(size)]


@given(st.integers(min_value=0, max_value=2**42))
def test_body_spots_are_bounded_ordered_and_inside(size: int) -> None:
    spots = body_spots(size)
    assert len(spots) <= MAX_SAMPLES
    assert sum(b - a for a, b in spots) <= max(MAX_SAMPLES * SAMPLE, 4 * SAMPLE)
    assert all(0 <= a < b <= size for a, b in spots)
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spots))
    if size > SKIP + 4 * SAMPLE:
        assert spots[0][0] == SKIP and spots[-1][1] == size  # from the first 4 KiB on, to the end
    else:
        assert spots == []  # body = head


@given(st.integers(min_value=0, max_value=2**42))
def test_samples_sit_where_format_md_says(size: int) -> None:
    """Evenly spaced from offset 4096 to the end (docs/FORMAT.md §Trees), the shortcut
    for four samples included: signals are only comparable when taken the same way."""
    starts = sample_starts(size)
    if starts:
        n = min(MAX_SAMPLES, max(MIN_SAMPLES, size // (256 * 1024)))
        step = (size - SKIP - SAMPLE) / (n - 1)
        assert starts == [SKIP + round(i * step) for i in range(n)]


def test_small_content_has_no_signal() -> None:
    assert MIN_CONTENT == 16
    assert signal_of(b"") is None
    assert signal_of(b"x" * (MIN_CONTENT - 1)) is None
    assert streamed(b"", 10) is None
    assert signal_of(b"x" * MIN_CONTENT) is not None


def test_tiny_content_tells_its_kind_and_is_not_compressed() -> None:
    """From 16 to 127 bytes: text is text, anything else reads as incompressible (zstd
    cannot compress so little), so encrypting a tiny text shows as text turned random."""
    assert MIN_MEASURED == 128
    line = b"backup_dir = /srv/backup\n"
    assert sig(line) == Signal(0, 0, "text")
    assert sig(bytes(100)) == Signal(255, 255, "data")  # even zeros: zstd is not asked
    assert sig(b"\x1f\x8b\x08" + bytes(20)).kind == "gzip"
    for seed in range(200):  # (seeded: 1 in ~10,000 random 24 bytes read as text)
        assert sig(encrypt(line, seed=seed)) == Signal(255, 255, "data")
    assert sig(random_bytes(MIN_MEASURED)).head == SIG_SCALE  # from 128 bytes, measured


def test_text_is_not_compressed_and_anything_else_is() -> None:
    """Text cannot look random: its head and body are written as 0. A body that is not
    text, behind a text head, is measured."""
    assert compressibility(prose(HEAD)) > 0  # what is saved
    for size in (MIN_MEASURED, 3000, 200_000, 3 * MIB):
        assert sig(prose(size)) == Signal(0, 0, "text")
    rtf = b"{\\rtf1\\ansi " + prose(3000)
    assert sig(rtf) == Signal(0, 0, "rtf")  # text after a magic number
    plain = prose(200_000)
    half = sig(encrypt(plain, SKIP))  # all but the first 4 KiB
    assert (half.kind, half.head, half.body) == ("text", 0, 255)
    zeros = compressibility(bytes(HEAD))
    assert sig(bytes(HEAD)) == Signal(zeros, zeros, "data")
    assert sig(random_bytes(3000)) == Signal(255, 255, "data")


def test_notes_are_looked_for_only_when_asked() -> None:
    note = NOTES["english"].encode()
    assert sig(note).note
    assert signal_of(note, notes=False) == Signal(0, 0, "text", False)
    sampler = Sampler(len(note), notes=False)
    for i in range(0, len(note), 100):
        sampler.feed(note[i : i + 100])
    assert sampler.signal() == Signal(0, 0, "text", False)


def test_content_of_at_most_5_kib_has_body_equal_to_head() -> None:
    for size in (MIN_CONTENT, HEAD, SKIP + 4 * SAMPLE):
        s = sig(prose(size))
        assert s.head == s.body


@given(
    st.lists(
        st.sampled_from([prose(3000), random_bytes(3000), bytes(3000), NOTES["english"].encode()]),
        min_size=0,
        max_size=30,
    ),
    st.integers(min_value=1, max_value=70_000),
)
def test_streaming_in_any_pieces_gives_the_whole_content_signal(
    parts: list[bytes], piece: int
) -> None:
    data = b"".join(parts)
    assert streamed(data, piece) == signal_of(data)
    assert streamed(data, piece, notes=False) == signal_of(data, notes=False)


def test_streaming_holds_the_samples_not_the_content() -> None:
    """64 MiB streamed in 1 MiB pieces: memory stays near one piece, as in a backup."""
    sampler = Sampler(64 * MIB)
    tracemalloc.start()
    try:
        for i in range(64):
            sampler.feed(random_bytes(MIB, i))
        s = sampler.signal()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert s is not None and s.body == SIG_SCALE
    assert peak < 4 * MIB


def test_a_file_that_grew_while_read_still_gets_a_signal() -> None:
    data = prose(3 * MIB)
    s = streamed(data, MIB, size=MIB)  # samples placed for 1 MiB, 3 MiB arrived
    assert s is not None and s.kind == "text" and s.body < 160


# -- encryption as ransomware does it --------------------------------------------------


@pytest.mark.parametrize("size", [2000, 6000, 200_000, 3 * MIB])
def test_whole_file_encryption_turns_text_random(size: int) -> None:
    plain = prose(size)
    before, after = sig(plain), streamed(encrypt(plain), MIB)
    assert before.kind == "text" and before.head < 160 and before.body < 160
    assert after is not None
    assert after.kind == "data" and after.head >= 250 and after.body >= 250


@pytest.mark.parametrize("size", [6000, 200_000, 3 * MIB])
def test_encrypting_the_first_4_kib_shows_in_head_and_kind_not_body(size: int) -> None:
    plain = prose(size)
    before, after = sig(plain), streamed(encrypt(plain, 0, 4096), MIB)
    assert after is not None
    assert after.kind == "data" and after.head >= 250
    assert after.body == before.body


@pytest.mark.parametrize("kind", ["png", "pdf", "zip", "jpeg"])
def test_encrypting_a_format_loses_its_kind(kind: str) -> None:
    data = formats()[kind]
    assert sig(encrypt(data)).kind in {"data", "pgp"}
    assert sig(encrypt(data, 0, 4096)).kind in {"data", "pgp"}


def test_a_jpeg_is_random_looking_before_and_after_but_its_kind_tells() -> None:
    photo = png(256, 256)  # noisy pixels: incompressible like a photo
    before, after = sig(photo), sig(encrypt(photo))
    assert before.body >= 240 and after.body >= 240
    assert (before.kind, after.kind) == ("png", "data")


# -- ransom notes ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NOTES))
def test_notes_are_notes(name: str) -> None:
    data = NOTES[name].encode()
    assert is_note(data)
    assert sig(data).note


@pytest.mark.parametrize("name", sorted(ORDINARY))
def test_ordinary_texts_are_not_notes(name: str) -> None:
    data = ORDINARY[name].encode()
    assert not is_note(data)
    assert not sig(data).note


def test_a_note_in_utf16_is_a_note() -> None:
    data = codecs.BOM_UTF16_LE + NOTES["english"].encode("utf-16-le")
    assert sig(data).kind == "text" and sig(data).note


def test_a_note_inside_a_large_file_or_a_binary_is_not() -> None:
    note = NOTES["english"].encode()
    assert not sig(note + prose(NOTE_MAX)).note  # larger than notes are
    assert not sig(bytes(range(32)) * 4 + note).note  # not text
    s = streamed(note + prose(NOTE_MAX), 8192)
    assert s is not None and not s.note


def test_one_phrase_or_one_address_is_not_enough() -> None:
    assert not is_note(b"Note: all your files have been encrypted by the new disk policy.\n")
    assert not is_note(b"The decryption tool for our archive format is in tools/.\n")


# -- decoding --------------------------------------------------------------------------


def test_decoded_signals_are_shared_and_still_validated() -> None:
    """Decoding reuses the Signal of a wire form met before (most files share one),
    but a look-alike of another type is still rejected after its twin was decoded."""
    first = Signal.from_wire([1, 2, "text", False])
    assert Signal.from_wire([1, 2, "text", False]) is first
    assert Signal.from_wire([1, 2, "text", 0]) is first  # the flag is read as a bool
    for bad in ([True, 2, "text", False], [1.0, 2, "text", False], [1, 2, b"text", False]):
        with pytest.raises(ValueError):
            Signal.from_wire(bad)
    with pytest.raises(ValueError):
        Signal.from_wire([1, SIG_SCALE + 1, "text", False])
