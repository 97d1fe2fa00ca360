"""`ripcord serve` under a flood of wrong tokens: bcrypt (~0.25 s of CPU a check at the
default cost) runs for one request at a time, waiting on the event loop rather than in
the worker threads every request's store calls need, and a client whose token already
passed is answered without bcrypt at all."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
import httpx
import pytest

from ripcord.server import app as app_module
from ripcord.server.app import ServerOptions, create_app
from ripcord.server.users import Users, set_user


def test_bcrypt_runs_one_check_at_a_time_and_a_known_client_skips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users_file = tmp_path / "users"
    set_user(users_file, "alice", "alice-token", rounds=4)
    users = Users(users_file, decoy_rounds=4)
    running, most, calls = 0, 0, 0
    lock = threading.Lock()
    real = bcrypt.checkpw

    def slow(raw: bytes, hashed: bytes) -> bool:
        nonlocal running, most, calls
        with lock:
            running, calls = running + 1, calls + 1
            most = max(most, running)
        time.sleep(0.05)
        try:
            return real(raw, hashed)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(bcrypt, "checkpw", slow)
    app = create_app(ServerOptions(tmp_path / "repos", users_file), users)

    async def flood() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            wrong = [
                client.get(f"/user{i}/capabilities", auth=(f"user{i}", "guess")) for i in range(6)
            ]
            answers = await asyncio.gather(*wrong)
            first = await client.get("/alice/capabilities", auth=("alice", "alice-token"))
            before = calls
            again = await client.get("/alice/capabilities", auth=("alice", "alice-token"))
            assert calls == before  # remembered: no bcrypt
            return [r.status_code for r in answers] + [first.status_code, again.status_code]

    with ThreadPoolExecutor(1) as own_loop:  # another test may leave this thread's loop running
        codes = own_loop.submit(asyncio.run, flood()).result()
    assert codes[:6] == [401] * 6 and codes[6] == codes[7] != 401
    assert most == 1 == app_module.BCRYPT_AT_ONCE and calls == 7
