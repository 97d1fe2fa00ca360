"""Coverage-guided fuzzing of every repository parser with atheris (not run in CI).

The hypothesis suite (tests/fuzz) runs a bounded, seeded set of mutations in CI;
this harness lets libFuzzer's coverage feedback find its own way into the same
parsers for as long as it is given. Each input picks a kind of object and is
its plaintext, sealed with the corpus repository's key (layer (a) of
tests/fuzz/test_fuzz_objects.py). Anything but a value or a documented error
is a crash libFuzzer reports and saves.

    pip install atheris   # a manylinux wheel exists for CPython 3.11
    python bench/fuzz_atheris.py -atheris_runs=200000
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any

# imported by name: atheris is not a dependency, and CI's mypy must pass without it
atheris: Any = importlib.import_module("atheris")

with atheris.instrument_imports():
    from tests.fuzz.corpus import AADS, CLEAN, KINDS, build_corpus, parse

    from ripcord.repository.crypto import seal

CORPUS = build_corpus(Path(tempfile.mkdtemp(prefix="ripcord-fuzz-")))
SEALED = sorted(AADS)


def one_input(raw: bytes) -> None:
    if not raw:
        return
    kinds = [*SEALED, "tree", "key", "config"]
    kind = kinds[raw[0] % len(kinds)]
    body = raw[1:]
    name = CORPUS.of(kind)[0].name
    data = seal(CORPUS.key, body, AADS[kind]) if kind in AADS else body
    with contextlib.suppress(*CLEAN):  # a documented error is a right answer
        parse(CORPUS, kind, name, data)


def main() -> None:
    assert set(KINDS) >= {*SEALED, "tree", "key", "config"}
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
