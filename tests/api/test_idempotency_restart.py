"""Idempotency-Keys outlive `mpc serve`: real `mpc serve` processes stopped with real signals
(SIGTERM, SIGKILL) and started again on the same MPC_HOME, a real co-signer daemon, and the real
SQLite file MPC_HOME/api-idempotency.db.

A retry after a clean stop gets the stored answer (no second signature); a retry of a request
that was cut off mid-sign (held at the co-signer by the pause hook, then SIGKILL) is refused with
409 ``idempotency_unknown`` and signs nothing.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSPHRASE, subprocess_env
from support.api import start_api
from support.cosigner import Cosigner, assert_no_secrets, running_cosigner, wait_for
from support.proc import ok_data, run_mpc

STEP = "guard_after_decision"


def offline_tx(nonce: int) -> dict[str, Any]:
    return {
        "type": 2,
        "chainId": 11155111,
        "nonce": nonce,
        "to": "0x" + "66" * 20,
        "value": 1000,
        "gas": 21000,
        "maxFeePerGas": 30 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }


def cosigner_sessions(cs: Cosigner) -> list[dict[str, Any]]:
    sessions = ok_data(run_mpc(["--json", "cosigner", "sessions", "--limit", "1000"], cs.env))
    assert isinstance(sessions["sessions"], list)
    return sessions["sessions"]


def _rows(home: Path) -> dict[str, str]:
    db = sqlite3.connect(home / "api-idempotency.db")
    try:
        return dict(db.execute("SELECT key, state FROM entries").fetchall())
    finally:
        db.close()


def _keygen(cs: Cosigner) -> None:
    ok_data(run_mpc(["--json", "keygen"], cs.env))


def test_a_key_signed_before_a_restart_is_replayed_after_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    request = {"tx": offline_tx(7)}
    key = {"Idempotency-Key": "order-7"}
    with running_cosigner(subprocess_env(home)) as cs:
        _keygen(cs)
        api = start_api(cs.env)
        try:
            status, first, headers = api.call("POST", "/tx/sign", request, headers=key)
            assert status == 200 and "idempotency-replayed" not in headers
            signed = len(cosigner_sessions(cs))
        finally:
            assert api.stop() == 0  # SIGTERM: a clean stop
        assert _rows(home) == {"order-7": "done"}
        api = start_api(cs.env)
        try:
            status, again, headers = api.call("POST", "/tx/sign", request, headers=key)
            status_other, conflict, _ = api.call(
                "POST", "/tx/sign", {"tx": offline_tx(8)}, headers=key
            )
            token = api.token
        finally:
            api.stop()
        assert status == 200 and again == first
        assert headers.get("idempotency-replayed") == "true"
        assert status_other == 409 and conflict["error"]["code"] == "idempotency_conflict"
        assert len(cosigner_sessions(cs)) == signed  # no second signature
    stored = [home / "api-idempotency.db", home / "api-idempotency.db-wal"]
    assert stored[0].stat().st_mode & 0o777 == 0o600
    assert json.dumps(first["raw_tx"]).strip('"').encode() in b"".join(
        p.read_bytes() for p in stored if p.exists()
    )  # the answer is in the file, so the scan below scans the right bytes
    assert_no_secrets(stored, {"passphrase": TEST_PASSPHRASE.encode(), "token": token.encode()})


def test_a_key_cut_off_by_a_crash_mid_sign_is_refused_and_signs_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pause = tmp_path / "pause"
    pause.mkdir()
    env = dict(subprocess_env(home), MPC_TEST_PAUSE_AT=STEP, MPC_TEST_PAUSE_DIR=str(pause))
    request = {"tx": offline_tx(9)}
    key = {"Idempotency-Key": "order-9"}
    with running_cosigner(env) as cs:
        _keygen(cs)
        api = start_api(cs.env)
        with ThreadPoolExecutor(1) as pool:
            try:
                held = pool.submit(api.call, "POST", "/tx/sign", request, key, 60)
                wait_for(lambda: (pause / f"{STEP}.reached").exists(), 60, "the co-signer's pause")
                assert _rows(home) == {"order-9": "running"}  # committed before signing
                api.proc.send_signal(signal.SIGKILL)
                api.proc.wait(timeout=30)
            finally:
                (pause / f"{STEP}.release").touch()
                api.stop()
            with pytest.raises(OSError):  # the connection died with the server
                held.result(timeout=60)
        cut = [s for s in cosigner_sessions(cs) if s["op"] == "sign"]
        assert len(cut) == 1

        def settled() -> list[dict[str, Any]] | None:
            rows = [s for s in cosigner_sessions(cs) if s["op"] == "sign"]
            return rows if rows[0]["status"] not in ("started", "signing") else None

        wait_for(settled, 60, "the cut-off session to end at the co-signer")
        before = len(cosigner_sessions(cs))
        api = start_api(cs.env)
        try:
            assert _rows(home) == {"order-9": "unknown"}
            status, refused, headers = api.call("POST", "/tx/sign", request, headers=key)
            _, refused2, _ = api.call("POST", "/tx/sign", request, headers=key)
        finally:
            api.stop()
        assert status == 409 and refused["error"]["code"] == "idempotency_unknown"
        assert refused2 == refused and "idempotency-replayed" not in headers
        message = refused["error"]["message"]
        assert "restart" in message and "mpc cosigner sessions" in message
        assert "new key" in message
        assert refused["error"]["field"] == "Idempotency-Key"
        assert len(cosigner_sessions(cs)) == before  # nothing signed
        cut_off = [r for r in api.log_lines() if r.get("event") == "idempotency_cut_off"]
        assert [r["keys"] for r in cut_off] == [1]
