"""A real local Ethereum node (anvil from the npm package @foundry-rs/anvil) for tests.

Found via ``ANVIL_BIN``, then ``PATH``, then ``<repo>/.tools/node_modules/.bin/anvil``. Missing:
a test failure in CI (``CI=true``), a skip elsewhere, both saying how to install it.
Readiness is polled (``eth_chainId``) with a deadline, never slept for.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SEPOLIA = 11155111

# anvil's first dev account: a well-known key printed by every anvil/hardhat node (public test
# data, never a secret).
DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_ADDR_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
DEV_KEY_1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
DEV_ADDR_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

INSTALL_HINT = (
    "anvil is required: run `npm install --prefix .tools @foundry-rs/anvil@1.7.1` in the repo "
    "(the README's test command does this), or set ANVIL_BIN"
)


def find_anvil() -> str | None:
    env = os.environ.get("ANVIL_BIN")
    if env:
        return env if Path(env).exists() else None
    found = shutil.which("anvil")
    if found:
        return found
    local = REPO / ".tools" / "node_modules" / ".bin" / "anvil"
    return str(local) if local.exists() else None


def require_anvil() -> str:
    path = find_anvil()
    if path is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rpc(url: str, method: str, *params: Any, timeout: float = 5.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    req = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        obj = json.loads(resp.read())
    if "error" in obj:
        raise RuntimeError(f"{method}: {obj['error']}")
    return obj["result"]


class Anvil:
    def __init__(
        self,
        binary: str,
        *,
        chain_id: int = SEPOLIA,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.binary = binary
        self.extra_args = extra_args
        self.chain_id = chain_id
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, ready_timeout: float = 30.0) -> Anvil:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--chain-id",
                str(self.chain_id),
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
                "--quiet",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + ready_timeout
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"anvil exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                if int(rpc(self.url, "eth_chainId", timeout=1.0), 16) == self.chain_id:
                    return self
            except (OSError, urllib.error.URLError, RuntimeError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"anvil did not answer on {self.url} within {ready_timeout} s")
            time.sleep(0.05)  # poll interval, not synchronisation

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()

    # -- helpers for tests -------------------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        return rpc(self.url, method, *params)

    def balance(self, address: str) -> int:
        return int(self.call("eth_getBalance", address, "latest"), 16)

    def nonce(self, address: str) -> int:
        return int(self.call("eth_getTransactionCount", address, "pending"), 16)

    def send_signed(self, key: str, tx: dict[str, Any]) -> dict[str, Any]:
        """Sign ``tx`` with a dev key (eth-account), broadcast it, return the mined receipt."""
        from eth_account import Account

        acct = Account.from_key(key)
        full = {
            "chainId": self.chain_id,
            "nonce": self.nonce(acct.address),
            "gas": 1_000_000,
            "maxFeePerGas": 10 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "value": 0,
            "data": "0x",
            **tx,
        }
        if full.get("to"):
            from eth_utils import to_checksum_address

            full["to"] = to_checksum_address(full["to"])
        signed = acct.sign_transaction(full)
        tx_hash = self.call("eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())
        return self.receipt(tx_hash)

    def receipt(self, tx_hash: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                assert isinstance(receipt, dict)
                return receipt
            if time.monotonic() > deadline:
                raise AssertionError(f"no receipt for {tx_hash} within {timeout} s")
            time.sleep(0.05)  # poll interval

    def fund(self, address: str, wei: int) -> dict[str, Any]:
        receipt = self.send_signed(DEV_KEY_0, {"to": address, "value": wei, "gas": 21000})
        assert int(receipt["status"], 16) == 1
        return receipt


@contextmanager
def running_anvil(chain_id: int = SEPOLIA) -> Iterator[Anvil]:
    node = Anvil(require_anvil(), chain_id=chain_id).start()
    try:
        yield node
    finally:
        node.stop()
