"""Snapshot paths in the dashboard's URLs and downloads: any name survives the trip,
no name reaches outside its folder, and a stream's writer stops with its reader."""

from __future__ import annotations

import threading
from typing import BinaryIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.exceptions import HTTPException

from ripcord.errors import UnsafePath
from ripcord.ui.archives import member
from ripcord.ui.paths import disposition, quote_path, unquote_path
from ripcord.ui.pipe import PIECE, pieces
from tests.strategies import node_names

paths = st.lists(node_names, max_size=6).map(lambda parts: b"/" + b"/".join(parts))


@given(paths)
def test_a_path_comes_back_from_its_url_byte_for_byte(path: bytes) -> None:
    url = quote_path(path)
    assert all(c.isalnum() or c in "-._~%/" for c in url)  # nothing a URL or HTML trips on
    assert unquote_path(url.encode()) == path


@pytest.mark.parametrize(
    "tail", [b"..", b"a/%2e%2e/b", b"%2E", b"a%00b", b"a/" + b"x" * 256, b"%2F..%2F"]
)
def test_a_component_no_name_can_have_is_not_found(tail: bytes) -> None:
    with pytest.raises(HTTPException) as e:
        unquote_path(tail)
    assert e.value.status_code == 404


@given(node_names)
def test_a_download_name_is_one_safe_header_value(name: bytes) -> None:
    header = disposition(name)
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback and fallback.isascii() and fallback.isprintable()
    assert not set(fallback) & set('"\\/;%') and not fallback.startswith(".")
    star = header.split("filename*=UTF-8''", 1)[1]
    assert all(c.isalnum() or c in "-._~%" for c in star)


@given(st.lists(node_names, min_size=1, max_size=5))
def test_archive_members_are_relative_paths_of_plain_names(parts: list[bytes]) -> None:
    path = b"/".join(parts)
    assert member(path) == path


@pytest.mark.parametrize("path", [b"/etc/passwd", b"a/../../b", b"..", b"a//b", b"./a", b"a/\0"])
def test_a_member_name_that_could_leave_its_folder_is_refused(path: bytes) -> None:
    with pytest.raises(UnsafePath):
        member(path)


def test_a_writer_that_fails_ends_the_stream_in_its_error() -> None:
    def produce(out: BinaryIO) -> None:
        out.write(b"x" * PIECE)
        raise OSError("the disk went away")

    stream = pieces(produce, "test-writer")
    assert next(stream) == b"x" * PIECE
    with pytest.raises(OSError, match="the disk went away"):
        next(stream)


def test_a_reader_that_stops_stops_the_writer() -> None:
    stopped = threading.Event()

    def produce(out: BinaryIO) -> None:
        try:
            while True:  # would fill memory if nothing pushed back
                out.write(b"y" * PIECE)
        finally:
            stopped.set()

    stream = pieces(produce, "test-writer")
    assert next(stream) == b"y" * PIECE
    stream.close()  # the client went away
    assert stopped.is_set()
