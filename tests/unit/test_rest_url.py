"""Parsing rest+http(s):// locations: what goes where, and what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.errors import UsageError
from ripcord.storage.rest import TOKEN_ENV, RestLocation, parse_rest_url

NAME = st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)
TOKEN = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)  # what `serve user add` makes
HOST = st.sampled_from(["backup.lan", "127.0.0.1", "[::1]", "nas"])


def test_a_full_location() -> None:
    loc = parse_rest_url("rest+https://laptop:s3cret@backup.lan:8443/laptop?cacert=/etc/ca.pem")
    assert loc == RestLocation(
        "https://backup.lan:8443", "laptop", "laptop", "s3cret", "/etc/ca.pem"
    )
    assert loc.where == "rest+https://backup.lan:8443/laptop"  # what messages show: no token


def test_the_user_defaults_to_the_repository_and_the_token_to_the_environment() -> None:
    loc = parse_rest_url("rest+http://127.0.0.1:8000/laptop", {TOKEN_ENV: "from-env"})
    assert (loc.user, loc.token, loc.base) == ("laptop", "from-env", "http://127.0.0.1:8000")


def test_a_token_in_the_location_wins_over_the_environment() -> None:
    loc = parse_rest_url("rest+http://laptop:in-url@h/laptop", {TOKEN_ENV: "from-env"})
    assert loc.token == "in-url"


def test_a_path_before_the_repository_is_the_servers_base() -> None:
    loc = parse_rest_url("rest+https://u:t@proxy.lan/ripcord/laptop/", {})
    assert (loc.base, loc.repository) == ("https://proxy.lan/ripcord", "laptop")


def test_ipv6_hosts_keep_their_brackets() -> None:
    assert parse_rest_url("rest+http://u:t@[::1]:8000/u", {}).base == "http://[::1]:8000"


@pytest.mark.parametrize(
    "url",
    [
        "rest://u:t@h/u",
        "rest+ftp://u:t@h/u",
        "rest+https://u:t@/u",
        "rest+https://u:t@h",
        "rest+https://u:t@h/",
        "rest+https://u:t@h/Laptop",
        "rest+https://u:t@h/lap.top",
        "rest+https://u:t@h:port/u",
        "rest+https://u:t@h:99999/u",
        "rest+https://u:t@h/u?ca=x",
        "rest+https://u:t@h/u#frag",
    ],
)
def test_a_malformed_location_is_a_usage_error_without_the_token(url: str) -> None:
    with pytest.raises(UsageError, match="expected rest") as refused:
        parse_rest_url(url, {})
    assert ":t@" not in str(refused.value)


def test_no_token_anywhere_is_a_usage_error_that_says_where_to_put_one() -> None:
    with pytest.raises(UsageError, match=TOKEN_ENV):
        parse_rest_url("rest+https://laptop@backup.lan/laptop", {})


@given(
    st.sampled_from(["http", "https"]), NAME, TOKEN, HOST, st.none() | st.integers(1, 65535), NAME
)
def test_any_well_formed_location_parses_to_its_parts(
    scheme: str, user: str, token: str, host: str, port: int | None, repo: str
) -> None:
    netloc = host if port is None else f"{host}:{port}"
    loc = parse_rest_url(f"rest+{scheme}://{user}:{token}@{netloc}/{repo}", {})
    assert loc == RestLocation(f"{scheme}://{netloc}", repo, user, token)
    assert "@" not in loc.where  # no credentials in what messages show
