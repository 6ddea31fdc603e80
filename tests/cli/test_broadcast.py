"""`mpc broadcast` through the real entry point against anvil: inputs, retries, node refusals."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from evm.evmasm import token_initcode
from support.anvil import DEV_ADDR_1, DEV_KEY_0, Anvil, free_port
from support.proc import json_result, run_mpc

pytestmark = pytest.mark.anvil


def dev_raw(chain_id: int = 11155111, nonce: int = 0, **fields: Any) -> str:
    tx = {
        "chainId": chain_id,
        "nonce": nonce,
        "to": DEV_ADDR_1,
        "value": 4242,
        "gas": 21000,
        "maxFeePerGas": 10 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        **fields,
    }
    return "0x" + bytes(Account.from_key(DEV_KEY_0).sign_transaction(tx).raw_transaction).hex()


def result(cp: subprocess.CompletedProcess[str], code: int) -> dict[str, Any]:
    assert cp.returncode == code, (cp.stdout, cp.stderr)
    obj = json_result(cp)
    out = obj["data"] if code == 0 else obj["error"]
    assert isinstance(out, dict)
    return out


def test_broadcast_raw_hex_file_and_sig(anvil: Anvil, mpc_env: dict[str, str], tmp_path: Path):
    before = anvil.balance(DEV_ADDR_1)
    data = result(
        run_mpc(["--json", "broadcast", "--raw", dev_raw(), "--wait", "--rpc-url", anvil.url],
                mpc_env),
        0,
    )  # fmt: skip
    assert data["receipt"]["status"] == 1 and data["receipt"]["gas_used"] == 21000
    assert anvil.balance(DEV_ADDR_1) == before + 4242
    raw_file = tmp_path / "raw.txt"
    raw_file.write_text(dev_raw(nonce=1) + "\n")
    env = dict(mpc_env, MPC_RPC_URL=anvil.url)
    data = result(run_mpc(["--json", "broadcast", "--raw", f"@{raw_file}", "--wait"], env), 0)
    assert data["nonce"] == 1 and data["receipt"]["status"] == 1
    # the same transaction again is fine (the node already has it)
    again = result(run_mpc(["--json", "broadcast", "--raw", f"@{raw_file}"], env), 0)
    assert again["hash"] == data["hash"]
    sig = tmp_path / "sig.json"
    sig.write_text(json.dumps({"raw_tx": dev_raw(nonce=2)}))
    human = run_mpc(["broadcast", "--sig", str(sig), "--wait"], env)
    assert human.returncode == 0 and "status 1" in human.stdout


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ([], "raw"),
        (["--raw", "0x02", "--sig", "x.json"], "raw"),
        (["--raw", "0xnothex"], "raw"),
        (["--raw", "0x02c0"], "raw"),
        (["--raw", "@/nonexistent/raw.txt"], "path"),
    ],
)
def test_bad_input(mpc_env: dict[str, str], args: list[str], field: str) -> None:
    error = result(run_mpc(["--json", "broadcast", *args, "--rpc-url", "http://x:1"], mpc_env),
                   5 if field == "path" else 2)  # fmt: skip
    assert error["field"] == field


def test_sig_without_raw_tx_and_no_endpoint(mpc_env: dict[str, str], tmp_path: Path) -> None:
    sig = tmp_path / "sig.json"
    sig.write_text(json.dumps({"hash": "0x00"}))
    error = result(run_mpc(["--json", "broadcast", "--sig", str(sig)], mpc_env), 2)
    assert error["code"] == "bad_file" and str(sig) in error["message"]
    env = {k: v for k, v in mpc_env.items() if k not in ("ETH_RPC_URL", "MPC_RPC_URL")}
    error = result(run_mpc(["--json", "broadcast", "--raw", dev_raw()], env), 2)
    assert error["field"] == "rpc_url"


def test_wrong_chain_and_revert(anvil: Anvil, mpc_env: dict[str, str]) -> None:
    env = dict(mpc_env, MPC_RPC_URL=anvil.url)
    error = result(run_mpc(["--json", "broadcast", "--raw", dev_raw(chain_id=1)], env), 8)
    assert error["code"] == "chain_id_mismatch"
    token = anvil.send_signed(DEV_KEY_0, {"data": "0x" + token_initcode(10).hex()})
    overdraw = "0xa9059cbb" + "00" * 12 + DEV_ADDR_1[2:].lower() + f"{11:064x}"
    raw = dev_raw(
        nonce=anvil.nonce(Account.from_key(DEV_KEY_0).address),
        to=to_checksum_address(token["contractAddress"]),
        value=0,
        gas=100_000,
        data=overdraw,
    )
    error = result(run_mpc(["--json", "broadcast", "--raw", raw, "--wait"], env), 8)
    assert error["code"] == "tx_reverted"


def test_a_node_refusing_connections_fails_the_command_in_about_a_second(
    mpc_env: dict[str, str],
) -> None:
    """Issue 24: it took ~35 s of retries; a refused connection means nothing listens there."""
    start = time.monotonic()
    cp = run_mpc(
        ["--json", "broadcast", "--raw", dev_raw(), "--rpc-url", f"http://127.0.0.1:{free_port()}"],
        mpc_env,
    )
    elapsed = time.monotonic() - start
    error = result(cp, 10)
    assert error["code"] == "rpc_unavailable" and error["kind"] == "transient"
    assert "refused the connection" in error["message"] and "MPC_RPC_URL" in error["message"]
    assert elapsed < 2.5, elapsed  # process start and imports included
    assert "retry" in cp.stderr


class _Always503(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_failing_node_is_retried_with_backoff_and_the_bound_is_printed(
    mpc_env: dict[str, str],
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Always503)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start = time.monotonic()
        cp = run_mpc(
            ["--json", "broadcast", "--raw", dev_raw(), "--rpc-url",
             f"http://127.0.0.1:{server.server_address[1]}"],
            dict(mpc_env, MPC_RPC_RETRY_SECONDS="2"),
        )  # fmt: skip
        elapsed = time.monotonic() - start
    finally:
        server.shutdown()
        server.server_close()
    error = result(cp, 10)
    assert error["code"] == "rpc_unavailable" and "HTTP 503" in error["message"]
    assert "over 2.0 s" in error["message"] and 2 <= elapsed < 6
    retries = [line for line in cp.stderr.splitlines() if "retry" in line]
    assert len(retries) >= 3 and all("giving up after 2 s" in line for line in retries)
