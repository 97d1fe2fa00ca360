"""What a ping sends and shows: the body fits healthchecks' limit, the URL shows no secret."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ripcord.plan.hooks import mask_url, ping_body

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=120),
    lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=60,
)
summaries = st.dictionaries(st.text(max_size=10), json_values, max_size=8)


@given(summaries, st.integers(min_value=200, max_value=5000))
def test_a_body_never_exceeds_the_limit_and_says_when_it_was_cut(
    summary: dict[str, object], limit: int
) -> None:
    body, content_type = ping_body(summary, limit)
    assert len(body) <= limit
    full = json.dumps(summary, ensure_ascii=False).encode()
    if len(full) <= limit:
        assert content_type == "application/json" and json.loads(body) == summary
    elif content_type == "application/json":
        doc = json.loads(body)
        assert doc["truncated"] is True and set(doc) == {"truncated", *summary}
    else:
        assert content_type.startswith("text/plain") and b"[cut: the summary is" in body


def test_small_fields_survive_when_a_big_list_is_cut() -> None:
    summary: dict[str, object] = {"status": "failed", "plan": "office", "files": ["x" * 50] * 1000}
    body, content_type = ping_body(summary, 2000)
    doc = json.loads(body)
    assert content_type == "application/json"
    assert doc["status"] == "failed" and doc["plan"] == "office"
    assert 0 < len(doc["files"]) < 1000 and doc["files"][-1].startswith("…(cut")


def test_a_summary_made_of_one_uncuttable_part_goes_as_text() -> None:
    summary: dict[str, object] = {"n": [10**200]}
    body, content_type = ping_body(summary, 150)
    assert content_type.startswith("text/plain") and len(body) <= 150
    assert body.startswith(b'{"n": [1000') and body.endswith(b"over the 150 byte limit]")


secrets = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=20)


@given(secrets, secrets, secrets)
def test_a_masked_url_has_no_password_or_query(user: str, password: str, query: str) -> None:
    shown = mask_url(f"https://{user}:P{password}@hc-ping.com/slug?key=Q{query}")
    assert f"P{password}" not in shown and f"Q{query}" not in shown and "@" not in shown
    assert shown == "https://hc-ping.com/slug?…"


@given(st.uuids())
def test_a_uuid_in_the_path_is_masked(uuid: object) -> None:
    token = str(uuid)
    assert mask_url(f"https://hc-ping.com/{token}/fail") == f"https://hc-ping.com/{token[:4]}…/fail"


def test_ports_and_ordinary_paths_are_kept() -> None:
    assert mask_url("http://[::1]:8000/ping/nightly") == "http://[::1]:8000/ping/nightly"
