"""Repository locations: what reads as a URL ripcord does not know is refused by name,
never taken as a local folder (a typo like s3:/bucket used to make a folder "s3:")."""

from __future__ import annotations

from pathlib import Path

import pytest

from ripcord.cli.location import open_store
from ripcord.errors import RipcordError
from ripcord.storage import LocalStore


@pytest.mark.parametrize(
    "location",
    ["s3:/bucket/p", "sftp:/host/p", "b2://bucket", "http://host/repo", "rest://host/r",
     "s3:/t1/office/laptop?endpoint=http:/127.0.0.1:1"],
)  # fmt: skip
def test_a_location_that_reads_as_an_unknown_url_is_refused(
    location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RipcordError, match="not a repository location ripcord knows"):
        open_store(location, create=True)
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_a_local_folder_with_a_colon_is_written_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert isinstance(open_store("local:s3:/repo", create=True), LocalStore)
    assert (tmp_path / "s3:" / "repo").is_dir()
    assert isinstance(open_store("plain:name", create=True), LocalStore)  # no slash: a path
