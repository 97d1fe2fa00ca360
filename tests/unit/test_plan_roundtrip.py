"""Plans through TOML and back: a valid plan written out reads as the same Plan, and
no TOML document, however wrong, makes the loader fail other than with PlanError."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from ripcord.guard.verdict import GuardSettings
from ripcord.plan.dump import plan_dict
from ripcord.plan.load import PlanError, parse_plan
from ripcord.plan.model import (
    MEDIA,
    MODES,
    CheckPlan,
    Credentials,
    DrillPlan,
    Hooks,
    Plan,
    RepositorySpec,
    Source,
)
from ripcord.retention.policy import GROUP_FIELDS, Policy

PATH = Path("/etc/ripcord/office.toml")

words = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12).filter(
    lambda s: s.strip() != ""
)
segment = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_ .-]{0,6}", fullmatch=True)
absolute = st.lists(segment, max_size=4).map(lambda parts: "/" + "/".join(parts))
durations = st.integers(1, 10**6).map(lambda m: timedelta(minutes=m))
host = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5})?", fullmatch=True)
urls = st.one_of(
    absolute,
    st.builds(
        lambda b, p: f"s3://{b}/{p}", st.from_regex(r"[a-z0-9-]{3,12}", fullmatch=True), segment
    ),
    st.builds(lambda h, p: f"sftp://backup@{h}{p}", host, absolute.filter(lambda p: p != "/")),
    st.builds(lambda h: f"rest+https://{h}:8000/office", host),
)
http_urls = st.builds(lambda h, p: f"https://{h}/{p}", host, segment)
positive_float = st.floats(min_value=0, max_value=1, exclude_min=True)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    counts = {
        f.name: draw(st.integers(0, 50))
        for f in dataclasses.fields(Policy)
        if isinstance(f.default, int)
    }
    policy = Policy(
        keep_within=draw(st.none() | durations),
        keep_tags=frozenset(draw(st.lists(words, max_size=3))),
        group_by=tuple(draw(st.lists(st.sampled_from(GROUP_FIELDS), max_size=3))),
        **counts,
    )
    if not any(counts.values()) and policy.keep_within is None and not policy.keep_tags:
        policy = dataclasses.replace(policy, keep_last=1)
    return policy


@st.composite
def sources(draw: st.DrawFn, name: str) -> Source:
    return Source(
        name=name,
        paths=tuple(draw(st.lists(absolute, min_size=1, max_size=3))),
        excludes=tuple(draw(st.lists(words, max_size=3))),
        exclude_caches=draw(st.booleans()),
        one_file_system=draw(st.booleans()),
        tags=tuple(draw(st.lists(words, max_size=2))),
        canaries=tuple(draw(st.lists(absolute, max_size=2, unique=True))),
    )


@st.composite
def repositories(draw: st.DrawFn, name: str) -> RepositorySpec:
    credentials = draw(
        st.sampled_from(
            [
                Credentials(),
                Credentials(password_file=draw(absolute)),
                Credentials(password_command=draw(words)),
            ]
        )
    )
    return RepositorySpec(
        name=name,
        url=draw(urls),
        media=draw(st.sampled_from(MEDIA)),
        offsite=draw(st.booleans()),
        immutable=draw(st.booleans()),
        offline=draw(st.booleans()),
        credentials=credentials,
        retention=draw(st.none() | policies()),
    )


@st.composite
def guards(draw: st.DrawFn) -> GuardSettings:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(GuardSettings):
        if isinstance(f.default, int):
            values[f.name] = draw(st.integers(1 if f.name == "window" else 0, 1000))
        elif "share" in f.name or "growth" in f.name:
            values[f.name] = draw(positive_float)
        else:
            values[f.name] = draw(st.floats(min_value=0.001, max_value=100))
    return GuardSettings(**values)


commands = st.lists(words, max_size=2).map(tuple)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    source_names = draw(st.lists(words, min_size=1, max_size=3, unique=True))
    repo_names = draw(
        st.lists(
            st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    return Plan(
        path=PATH,
        sources=tuple(draw(sources(n)) for n in source_names),
        repositories=tuple(draw(repositories(n)) for n in repo_names),
        mode=draw(st.sampled_from(MODES)),
        host=draw(st.none() | words),
        retention=draw(st.none() | policies()),
        prune=draw(st.booleans()),
        drill=draw(
            st.none()
            | st.builds(
                DrillPlan,
                every=durations,
                sample=st.integers(1, 10**4),
                max_bytes=st.none() | st.integers(1, 1 << 50),
            )
        ),
        check=draw(
            st.none()
            | st.builds(
                CheckPlan,
                every=durations,
                read_data_subset=st.sampled_from([None, "5%", "0.5%", "100%", "2/7"]),
            )
        ),
        rpo=draw(durations),
        guard=draw(guards()),
        hooks=draw(
            st.builds(
                Hooks,
                on_start=commands,
                on_success=commands,
                on_failure=commands,
                on_alarm=commands,
                ping_url=st.none() | http_urls,
                start_url=st.none() | http_urls,
                success_url=st.none() | http_urls,
                failure_url=st.none() | http_urls,
                timeout=st.floats(min_value=0.001, max_value=3600),
            )
        ),
    )


def _no_prune_without_retention(plan: Plan) -> Plan:
    """`prune` is written inside [retention]: without one, the default (true) comes back."""
    return plan if plan.retention is not None else dataclasses.replace(plan, prune=True)


@settings(max_examples=200, deadline=None)
@given(plans())
def test_a_plan_written_as_toml_reads_back_equal(plan: Plan) -> None:
    text = tomli_w.dumps(plan_dict(plan))
    assert parse_plan(text, PATH) == _no_prune_without_retention(plan)


KEYS = [
    "mode", "host", "source", "repository", "retention", "check", "drill", "rpo", "guard",
    "hooks", "paths", "name", "exclude", "canary", "tags", "url", "media", "offsite",
    "password_file", "password_command", "keep_daily", "keep_within", "group_by", "prune",
    "every", "sample", "max_bytes", "read_data_subset", "max_age", "window", "deleted_share",
    "on_start", "ping_url", "timeout", "usb", "x",
]  # fmt: skip
scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=10),
    st.sampled_from(["/srv", "7d", "1G", "disk", "copy", "5%", "s3://b", "https://h/x"]),
    st.dates(),
    st.datetimes(),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), documents, max_size=8))
def test_any_document_is_a_plan_or_a_plan_error(doc: dict[str, Any]) -> None:
    text = tomli_w.dumps(doc)
    try:
        plan = parse_plan(text, PATH)
    except PlanError as e:
        assert e.problems
        assert all(p.line is None or 1 <= p.line <= text.count("\n") + 1 for p in e.problems)
    else:
        assert plan.sources and plan.repositories
