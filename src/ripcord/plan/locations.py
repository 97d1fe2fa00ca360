"""Whether a plan's repository url is a location ripcord can open, found without
connecting (a plan is checked on machines that cannot reach every copy)."""

from __future__ import annotations

import os

from ripcord.errors import UsageError
from ripcord.storage.urls import parse_s3_url, parse_sftp_url

_SCHEMES = ("sftp://", "s3://", "rest+http://", "rest+https://", "local:")


def check_location(url: str) -> str:
    """`url` as opened (a local path with ~ expanded), or a UsageError saying what is wrong."""
    if url.startswith("sftp://"):
        parse_sftp_url(url)
    elif url.startswith("s3://"):
        parse_s3_url(url)
    elif url.startswith(("rest+http://", "rest+https://")):
        from ripcord.storage.rest import TOKEN_ENV, parse_rest_url  # httpx: only when used

        # the token may be set only where `run` runs: the form is what is checked here
        parse_rest_url(url, environ={TOKEN_ENV: "checked-when-opened"})
    elif "://" in url:
        raise UsageError(
            f"{url!r} is not a location ripcord opens (a path, or {', '.join(_SCHEMES[:4])})"
        )
    else:
        path = os.path.expanduser(url.removeprefix("local:"))
        if not os.path.isabs(path):
            raise UsageError(f"{url!r} is not an absolute path (write it from /, or from ~)")
        return os.path.normpath(path)
    return url
