"""The config's optional `object_lock` field: parsed, checked, covered by the MAC."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ripcord.errors import CorruptObject
from ripcord.repository.config import ChunkerParams, Config, ObjectLock, check_mac, parse_config

ID_KEY = b"k" * 32
LOCKED = Config("0" * 32, ChunkerParams(), object_lock=ObjectLock("compliance", 86400))


def test_the_object_lock_field_round_trips() -> None:
    back, mac = parse_config(LOCKED.dump(ID_KEY))
    assert back == LOCKED
    check_mac(back, mac, ID_KEY)
    assert json.loads(LOCKED.dump(ID_KEY))["object_lock"] == {
        "mode": "compliance",
        "retention_seconds": 86400,
    }


def test_a_config_without_object_lock_keeps_the_mac_it_always_had() -> None:
    plain = Config("0" * 32, ChunkerParams())
    assert "object_lock" not in json.loads(plain.dump(ID_KEY))
    assert plain.mac(ID_KEY) != LOCKED.mac(ID_KEY)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda doc: doc["object_lock"].update(retention_seconds=60),
        lambda doc: doc["object_lock"].update(mode="governance"),
        lambda doc: doc.pop("object_lock"),  # strip it, so new objects go unlocked
    ],
    ids=["shorter", "weaker mode", "stripped"],
)
def test_a_tampered_object_lock_fails_the_mac(tamper: Any) -> None:
    doc = json.loads(LOCKED.dump(ID_KEY))
    tamper(doc)
    back, mac = parse_config(json.dumps(doc).encode())
    with pytest.raises(CorruptObject, match="MAC mismatch"):
        check_mac(back, mac, ID_KEY)


@pytest.mark.parametrize(
    "lock",
    [
        {"mode": "legal-hold", "retention_seconds": 60},
        {"mode": "compliance", "retention_seconds": 0},
        {"mode": "compliance", "retention_seconds": 1.5},
        {"mode": "compliance", "retention_seconds": 10**12},
        {"mode": "compliance"},
        "compliance",
    ],
    ids=str,
)
def test_a_malformed_object_lock_is_corrupt(lock: object) -> None:
    doc = json.loads(LOCKED.dump(ID_KEY))
    doc["object_lock"] = lock
    with pytest.raises(CorruptObject, match="malformed"):
        parse_config(json.dumps(doc).encode())
