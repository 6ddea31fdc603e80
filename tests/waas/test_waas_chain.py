"""SIGN_PENDING -> BROADCAST -> CONFIRM -> FINALIZED: `mpc waas serve --rpc-url` (a real process,
signing in-process with cb-mpc: ``--local-cluster``) against a real anvil, on SQLite and on
PostgreSQL (the chain record lives in the same store). Once per backend."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from mpcwallet import _cbmpc  # noqa: F401
except ImportError:
    pytest.skip(
        "WaaS wallets are t-of-n keys on cb-mpc only (mpcwallet._cbmpc missing); see README",
        allow_module_level=True,
    )

from support.anvil import Anvil, running_anvil
from support.waas import call

pytestmark = pytest.mark.cbmpc
TO = "0x" + "44" * 20


def _mpc(*args: str) -> dict[str, Any]:
    cp = subprocess.run(
        [sys.executable, "-P", "-m", "mpcwallet", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(cp.stdout)["data"])


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    with running_anvil() as node:
        yield node


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_signed_request_is_broadcast_and_followed_to_finalized(
    backend: str, anvil: Anvil, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    d = tmp_path / "waas"
    d.mkdir()
    (d / "permit.key").write_text(secrets.token_hex(32))
    store = str(d / "store.sqlite")
    if backend == "postgres":
        store = request.getfixturevalue("postgres_server").new_database()
    admin = _mpc(
        "waas",
        "principal-add",
        "--dir",
        str(d),
        "--store",
        store,
        "--tenant",
        "t",
        "--name",
        "ops",
        "--role",
        "admin,requester",
    )["api_key"]
    log = open(d / "waas.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-P",
            "-m",
            "mpcwallet",
            "waas",
            "serve",
            "--dir",
            str(d),
            "--store",
            store,
            "--local-cluster",
            "--rpc-url",
            anvil.url,
        ],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (d / "waas.json").exists():
            assert proc.poll() is None, (d / "waas.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        url = json.loads((d / "waas.json").read_text())["url"]
        status, wallet = call(url, admin, "POST", "/v1/wallets", {"name": "hot"})
        assert status == 201, wallet
        anvil.fund(wallet["address"], 10**18)
        before = anvil.balance(TO)
        sent = []
        for i in range(2):
            status, tx = call(
                url,
                admin,
                "POST",
                "/v1/tx-requests",
                {
                    "wallet_id": wallet["wallet_id"],
                    "request_id": f"r{i}",
                    "to": TO,
                    "value": "1000",
                },
            )
            assert (status, tx["state"], tx["nonce"]) == (201, "BROADCAST", str(i)), tx
            sent.append(tx["tx_request_id"])

        def wait_for(state: str) -> None:
            deadline = time.monotonic() + 60
            states: list[str] = []
            while time.monotonic() < deadline:
                states = [call(url, admin, "GET", f"/v1/tx-requests/{t}")[1]["state"] for t in sent]
                if states == [state, state]:
                    return
                time.sleep(0.2)  # poll interval
            raise AssertionError((states, (d / "waas.log").read_text()[-2000:]))

        wait_for("CONFIRM")  # anvil mined them at once; not final yet
        anvil.call("anvil_mine", hex(70))  # past the finality depth (64) and the finalized tag
        wait_for("FINALIZED")
        _, tx = call(url, admin, "GET", f"/v1/tx-requests/{sent[0]}")
        seen = [h["state"] for h in tx["history"]]
        assert (
            seen[:4] == ["KYT", "POLICY", "SIGN_PENDING", "BROADCAST"] and seen[-1] == "FINALIZED"
        )
        assert seen == ["KYT", "POLICY", "SIGN_PENDING", "BROADCAST", "CONFIRM", "FINALIZED"]
        assert anvil.balance(TO) - before == 2000
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
