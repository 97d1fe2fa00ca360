"""Every parser of repository content, fed mutations of real objects.

Two layers (docs/GUARANTEES.md §Hostile repositories):

(a) authenticated garbage: the plaintext is mutated and sealed again with the
    repository key, as a writer holding the key (or a bug) would, so the parser
    itself is reached past authentication;
(b) raw damage: the stored bytes are mutated; a sealed object must then fail
    authentication.

The only acceptable outcomes are a value or a documented error (CLEAN), and no
more memory than a fixed bound while parsing.
"""

from __future__ import annotations

import base64
import json
import struct
import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.repository.crypto import open_sealed, seal
from ripcord.repository.keys import MasterSecrets
from ripcord.repository.pack import FRAME_AAD, MAX_FRAME, open_frame, read_trailer
from ripcord.repository.parity import PARITY_AAD
from tests.fuzz.corpus import (
    AADS,
    CLEAN,
    FUZZ,
    KINDS,
    SEALED_DOCS,
    Corpus,
    Sample,
    parse,
    reseal_trailer,
    trailer_plain,
)
from tests.fuzz.mutate import mutated, restructured

# a frame may honestly decompress to MAX_FRAME (64 MiB): the bound is that plus room,
# far below what an unbounded bomb would take
MEMORY_BOUND = MAX_FRAME + (16 << 20)


def parsed_within_bounds(run: Callable[[], object]) -> object:
    """Run a parser: a value or a CLEAN error, and a bounded peak of Python allocations."""
    tracemalloc.start()
    try:
        try:
            return run()
        except CLEAN as e:
            assert str(e), "an error with no message"
            return e
        finally:
            _, peak = tracemalloc.get_traced_memory()
            assert peak < MEMORY_BOUND, f"parsing allocated {peak >> 20} MiB"
    finally:
        tracemalloc.stop()


def pick(corpus: Corpus, kind: str, data: st.DataObject) -> Sample:
    return data.draw(st.sampled_from(corpus.of(kind)), label="sample")


def plain_variant(data: st.DataObject, plain: bytes) -> bytes:
    """Layer (a)'s plaintext: a byte-level mutation, or one value of the document swapped."""
    return data.draw(mutated(plain) | restructured(plain), label="plaintext")


# -- (a) authenticated garbage ----------------------------------------------------------


@pytest.mark.parametrize("kind", SEALED_DOCS)
@FUZZ
@given(data=st.data())
def test_resealed_document_is_parsed_or_refused_cleanly(
    corpus: Corpus, kind: str, data: st.DataObject
) -> None:
    sample = pick(corpus, kind, data)
    plain = open_sealed(corpus.key, sample.data, AADS[kind], sample.name)
    evil = seal(corpus.key, plain_variant(data, plain), AADS[kind])
    parsed_within_bounds(lambda: parse(corpus, kind, sample.name, evil))


@FUZZ
@given(data=st.data())
def test_resealed_pack_trailer_is_parsed_or_refused_cleanly(
    corpus: Corpus, data: st.DataObject
) -> None:
    sample = pick(corpus, "pack", data)
    plain = trailer_plain(corpus.key, sample.data)
    evil = reseal_trailer(corpus.key, sample.data, plain_variant(data, plain))
    parsed_within_bounds(lambda: parse(corpus, "pack", sample.name, evil))


@FUZZ
@given(data=st.data())
def test_resealed_frame_is_parsed_or_refused_cleanly(corpus: Corpus, data: st.DataObject) -> None:
    """A frame's body (a compression byte, then zstd or raw) mutated and sealed again."""
    sample = pick(corpus, "pack", data)
    frames = read_trailer(corpus.key, sample.data, sample.name)
    f = data.draw(st.sampled_from(frames), label="frame")
    body = open_sealed(corpus.key, sample.data[f.offset : f.offset + f.length], FRAME_AAD, "f")
    evil = seal(corpus.key, data.draw(mutated(body), label="body"), FRAME_AAD)
    parsed_within_bounds(lambda: open_frame(corpus.key, evil, sample.name))


@FUZZ
@given(data=st.data())
def test_tree_document_is_parsed_or_refused_cleanly(corpus: Corpus, data: st.DataObject) -> None:
    """A tree blob as it comes out of a frame (after authentication and decompression)."""
    sample = pick(corpus, "tree", data)
    evil = plain_variant(data, sample.data)
    parsed_within_bounds(lambda: parse(corpus, "tree", sample.name, evil))


@FUZZ
@given(data=st.data())
def test_resealed_parity_header_is_parsed_or_refused_cleanly(
    corpus: Corpus, data: st.DataObject
) -> None:
    sample = pick(corpus, "parity", data)
    obj = sample.data
    (n,) = struct.unpack("<I", obj[4:8])
    plain = open_sealed(corpus.key, obj[8 : 8 + n], PARITY_AAD, sample.name)
    header = seal(corpus.key, plain_variant(data, plain), PARITY_AAD)
    framed = struct.pack("<I", len(header))
    evil = obj[:4] + framed + header + obj[8 + n : -8 - n] + header + framed + obj[-4:]
    parsed_within_bounds(lambda: parse(corpus, "parity", sample.name, evil))


@FUZZ
@given(data=st.data())
def test_master_secrets_are_parsed_or_refused_cleanly(corpus: Corpus, data: st.DataObject) -> None:
    """What a key file's password unseals: a writer of key files must not crash a reader."""
    plain = MasterSecrets(b"e" * 32, b"i" * 32, 12345).pack()
    evil = plain_variant(data, plain)
    parsed_within_bounds(lambda: MasterSecrets.unpack(evil))


@pytest.mark.parametrize("kind", ["key", "config"])
@FUZZ
@given(data=st.data())
def test_json_object_is_parsed_or_refused_cleanly(
    corpus: Corpus, kind: str, data: st.DataObject
) -> None:
    sample = pick(corpus, kind, data)
    doc = json.loads(sample.data)
    field = data.draw(st.sampled_from(sorted(doc)), label="field")
    deep = "[" * 5000 + "]" * 5000  # past the recursion limit of json.loads
    values: list[object] = [None, -1, 2**70, 1e999, "", "!!", [], {}, deep, "A" * 10_000]
    value = data.draw(
        st.sampled_from(values),
        label="value",
    )
    text = json.dumps({**doc, field: value})
    if value is deep:
        text = text.replace(json.dumps(deep), deep)
    evil = data.draw(st.just(text.encode()) | mutated(sample.data), label="json")
    parsed_within_bounds(lambda: parse(corpus, kind, sample.name, evil))


# -- (b) raw damage ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*SEALED_DOCS, "pack"])
@FUZZ
@given(data=st.data())
def test_damaged_sealed_object_fails_authentication(
    corpus: Corpus, kind: str, data: st.DataObject
) -> None:
    sample = pick(corpus, kind, data)
    evil = data.draw(mutated(sample.data), label="stored")
    outcome = parsed_within_bounds(lambda: parse(corpus, kind, sample.name, evil))
    if kind == "lock":
        assert outcome == [], "a damaged lock must never be honoured"
    elif kind == "pack" and not isinstance(outcome, CLEAN):
        # bytes added between the last frame and the trailer are read past: every
        # frame is still authenticated, so what is read is exactly what was written
        assert outcome == parse(corpus, kind, sample.name, sample.data)
    else:
        assert isinstance(outcome, CLEAN), f"damaged {kind} was accepted"


@pytest.mark.parametrize("kind", ["parity", "key", "config"])
@FUZZ
@given(data=st.data())
def test_damaged_framed_object_is_parsed_or_refused_cleanly(
    corpus: Corpus, kind: str, data: st.DataObject
) -> None:
    """A parity object has two header copies and a key file's JSON has fields no seal
    covers, so some damage is survivable; the rest must be refused cleanly."""
    sample = pick(corpus, kind, data)
    evil = data.draw(mutated(sample.data), label="stored")
    outcome = parsed_within_bounds(lambda: parse(corpus, kind, sample.name, evil))
    if kind == "key" and not isinstance(outcome, CLEAN) and outcome is not None:
        # opened: then the sealed secrets were untouched, whatever else changed
        assert base64.b64decode(json.loads(evil)["data"]) == base64.b64decode(
            json.loads(sample.data)["data"]
        )


def test_every_kind_is_fuzzed(corpus: Corpus) -> None:
    """A kind of object with no sample in the corpus would be fuzzed by nothing."""
    assert {s.kind for s in corpus.samples} == set(KINDS)
