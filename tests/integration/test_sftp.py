"""The SFTP store against a real OpenSSH sshd: host keys, log-in, and the CLI over sftp://.

The Store contract itself runs against SFTP in tests/contract/.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from ripcord.errors import StoreError
from ripcord.storage.sftp import STALE_TEMP
from tests.conftest import UrlCli
from tests.sshserver import SshServer, sftp_store, sshd_fixture  # noqa: F401 (the fixture)
from tests.trees import assert_round_trip


def _new_key(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def test_unknown_host_key_is_refused_with_how_to_accept_it(sshd: SshServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    with pytest.raises(StoreError) as refused:
        sftp_store(tmp_path, known_hosts=known)
    message = str(refused.value)
    assert f"unknown host key for 127.0.0.1:{sshd.port}" in message
    assert "ssh-keyscan" in message
    assert "accept_new_host=1" in message
    assert not known.exists()
    assert not (tmp_path / "sftp-store").exists()


def test_a_new_host_key_is_accepted_when_asked_and_remembered(
    sshd: SshServer, tmp_path: Path
) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    store = sftp_store(tmp_path, known_hosts=known, accept_new_host=True)
    store.put("config", b"x")
    store.close()
    assert sshd.host_public_key in known.read_text()
    again = sftp_store(tmp_path, known_hosts=known)  # no flag needed the second time
    assert again.get("config") == b"x"
    again.close()


def test_a_changed_host_key_is_refused_even_when_accepting_new_hosts(
    sshd: SshServer, tmp_path: Path
) -> None:
    other = _new_key(tmp_path / "other").with_suffix(".pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {other[0]} {other[1]}\n")
    with pytest.raises(StoreError, match="has changed"):
        sftp_store(tmp_path, known_hosts=known, accept_new_host=True)


def test_a_key_the_server_does_not_know_cannot_log_in(sshd: SshServer, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot log in"):
        sftp_store(tmp_path, key_filename=str(_new_key(tmp_path / "stranger")))


def test_init_backup_restore_and_check_over_sftp(
    sshd: SshServer, tmp_path: Path, cli_env: dict[str, str], src: Path
) -> None:
    remote = tmp_path / "remote repo"
    url = (
        f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{quote(str(remote))}"
        f"?key={sshd.client_key}&known_hosts={sshd.known_hosts()}"
    )
    cli = UrlCli(url, cli_env)
    cli.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1")
    assert (remote / "config").is_file()
    assert_round_trip(cli, src, tmp_path / "out")
    cli.ok("check", "--read-data")
    refused = cli("snapshots", env={"RIPCORD_PASSWORD": "wrong"})
    assert refused.code == 12


@pytest.mark.parametrize(
    "url", ["sftp://host", "sftp://host:port/srv", "sftp://host/srv?keyfile=k"], ids=str
)
def test_an_invalid_sftp_location_is_a_usage_error(cli_env: dict[str, str], url: str) -> None:
    refused = UrlCli(url, cli_env)("snapshots")
    assert refused.code == 2
    assert "invalid SFTP location" in refused.err


def test_temporary_files_a_dead_writer_left_are_swept_when_a_store_opens(
    sshd: SshServer, tmp_path: Path
) -> None:
    tmp = tmp_path / "sftp-store" / ".tmp"
    tmp.mkdir(parents=True)
    stale, fresh = tmp / "0badc0ffee", tmp / "0ngoing"
    for f in (stale, fresh):
        f.write_bytes(b"half a pack")
    day_and_more = time.time() - STALE_TEMP - 60
    os.utime(stale, (day_and_more, day_and_more))
    sftp_store(tmp_path).close()
    assert not stale.exists()
    assert fresh.exists()  # perhaps a writer on another host, uploading now
