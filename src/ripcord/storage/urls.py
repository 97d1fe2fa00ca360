"""The SFTP and S3 locations parsed, without connecting: opening a store needs them,
and so does checking a plan file that names them (paramiko and boto3 are slow to
import, and a check must not dial out)."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from ripcord.errors import UsageError


@dataclass(frozen=True)
class SftpLocation:
    host: str
    port: int
    user: str
    path: str
    key_filename: str | None = None
    known_hosts: str | None = None
    accept_new_host: bool = False


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str
    endpoint: str | None = None
    region: str | None = None


def shown(url: str) -> str:
    """`url` fit for a message: no password, and option names without their values
    (a location can carry a secret a user put there by mistake)."""
    u = urlsplit(url)
    host = u.netloc.rpartition("@")[2]
    user = (u.username is not None and u.password is None and f"{u.username}@") or ""
    names = [k for k, _ in parse_qsl(u.query, keep_blank_values=True)]
    query = "&".join(f"{k}=..." for k in names)
    return u._replace(netloc=user + host, query=query).geturl()


def parse_sftp_url(url: str) -> SftpLocation:
    """`sftp://[user@]host[:port]/path[?key=F&known_hosts=F&accept_new_host=1]`."""
    u = urlsplit(url)
    options = dict(parse_qsl(u.query, keep_blank_values=True))
    unknown = set(options) - {"key", "known_hosts", "accept_new_host"}
    try:
        port = u.port or 22
    except ValueError:
        port = -1
    if u.scheme != "sftp" or not u.hostname or not u.path or unknown or port < 0:
        raise UsageError(
            f"invalid SFTP location {shown(url)!r}: expected"
            " sftp://[user@]host[:port]/path[?key=FILE&known_hosts=FILE&accept_new_host=1]"
        )
    return SftpLocation(
        u.hostname,
        port,
        unquote(u.username or "") or getpass.getuser(),
        unquote(u.path),
        key_filename=os.path.expanduser(options["key"]) if "key" in options else None,
        known_hosts=options.get("known_hosts"),
        accept_new_host=options.get("accept_new_host", "0").lower() in ("1", "yes", "true"),
    )


def parse_s3_url(url: str) -> S3Location:
    """`s3://bucket[/prefix][?endpoint=URL&region=R]` (AWS when no endpoint)."""
    u = urlsplit(url)
    options = dict(parse_qsl(u.query, keep_blank_values=True))
    if "@" in u.netloc or "@" in urlsplit(options.get("endpoint", "")).netloc:
        raise UsageError(
            f"invalid S3 location {shown(url)!r}: credentials do not go in the location;"
            " set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile)"
        )
    if u.scheme != "s3" or not u.netloc or set(options) - {"endpoint", "region"}:
        raise UsageError(
            f"invalid S3 location {shown(url)!r}:"
            " expected s3://bucket[/prefix][?endpoint=URL&region=R]"
        )
    return S3Location(
        u.netloc,
        unquote(u.path),
        endpoint=options.get("endpoint") or None,
        region=options.get("region") or None,
    )
