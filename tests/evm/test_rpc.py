"""mpcwallet.evm.rpc against a real anvil node: fill, chain id, broadcast errors, retries."""

from __future__ import annotations

import http.server
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from evm.evmasm import token_initcode
from support.anvil import DEV_ADDR_0, DEV_ADDR_1, DEV_KEY_0, Anvil, free_port, require_anvil

from mpcwallet.errors import (
    ChainIdMismatch,
    InsufficientFunds,
    NonceTooLow,
    PeerTimeout,
    RpcUnavailable,
    TxReverted,
    Underpriced,
)
from mpcwallet.evm.erc20 import transfer_calldata
from mpcwallet.evm.rpc import RpcClient
from mpcwallet.evm.txjson import parse_tx

pytestmark = pytest.mark.anvil


def dev_raw(node: Anvil, key: str = DEV_KEY_0, **fields: Any) -> bytes:
    acct = Account.from_key(key)
    tx = {
        "chainId": node.chain_id,
        "nonce": node.nonce(acct.address),
        "to": DEV_ADDR_1,
        "value": 1000,
        "gas": 21000,
        "maxFeePerGas": 10 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        **fields,
    }
    return bytes(acct.sign_transaction(tx).raw_transaction)


def test_fill_from_node(anvil: Anvil) -> None:
    client = RpcClient(anvil.url)
    tx = parse_tx({"chainId": anvil.chain_id, "to": DEV_ADDR_1, "value": 5})
    filled_tx, filled = client.fill(tx, bytes.fromhex(DEV_ADDR_0[2:]))
    assert set(filled) == {"nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas"}
    assert filled["nonce"] == anvil.nonce(DEV_ADDR_0) and filled["gas"] == 21000
    base = int(anvil.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    assert filled["maxFeePerGas"] == 2 * base + filled["maxPriorityFeePerGas"]
    assert filled_tx.nonce == filled["nonce"] and filled_tx.gas == 21000
    legacy, lf = client.fill(
        parse_tx({"chainId": anvil.chain_id, "to": DEV_ADDR_1, "type": 0, "nonce": 4}),
        bytes.fromhex(DEV_ADDR_0[2:]),
    )
    assert set(lf) == {"gasPrice", "gas"} and legacy.nonce == 4
    assert lf["gasPrice"] == int(anvil.call("eth_gasPrice"), 16)


def test_chain_id_mismatch(anvil: Anvil) -> None:
    client = RpcClient(anvil.url)
    with pytest.raises(ChainIdMismatch) as info:
        client.fill(parse_tx({"chainId": 1, "to": DEV_ADDR_1}), bytes(20))
    assert "11155111" in info.value.message and "chainId 1" in info.value.message


def test_send_then_resend_is_success_and_reused_nonce_is_refused(anvil: Anvil) -> None:
    client = RpcClient(anvil.url)
    raw = dev_raw(anvil)
    tx_hash = client.send_raw(raw)
    receipt = client.wait_receipt(tx_hash, confirmations=1, timeout=30)
    assert receipt["status"] == 1 and receipt["gas_used"] == 21000
    assert client.send_raw(raw) == tx_hash  # already known / already mined: success
    other = dev_raw(anvil, nonce=0, value=999)  # same nonce, different tx
    with pytest.raises(NonceTooLow) as info:
        client.send_raw(other)
    assert "nonce" in info.value.message and info.value.exit_code == 8


def test_insufficient_funds_and_underpriced(anvil: Anvil) -> None:
    client = RpcClient(anvil.url)
    poor = "0x" + "5a" * 32
    with pytest.raises(InsufficientFunds) as info:
        client.send_raw(dev_raw(anvil, key=poor))
    assert "Fund the wallet" in info.value.message
    with pytest.raises(Underpriced):
        client.send_raw(dev_raw(anvil, maxFeePerGas=1, maxPriorityFeePerGas=1))


def test_reverted_receipt_is_an_error(anvil: Anvil) -> None:
    deploy = anvil.send_signed(DEV_KEY_0, {"data": "0x" + token_initcode(1000).hex()})
    token = deploy["contractAddress"]
    client = RpcClient(anvil.url)
    overdraw = transfer_calldata(bytes.fromhex(DEV_ADDR_1[2:]), 1001)
    from eth_utils import to_checksum_address

    bad = dev_raw(
        anvil, to=to_checksum_address(token), value=0, gas=100000, data="0x" + overdraw.hex()
    )
    tx_hash = client.send_raw(bad)
    with pytest.raises(TxReverted) as info:
        client.wait_receipt(tx_hash)
    assert info.value.exit_code == 8 and "reverted" in info.value.message


def test_refused_connection_fails_in_about_half_a_second() -> None:
    """Nothing listens: a few quick attempts, then a clear error (issue 24: ~35 s before)."""
    events: list[str] = []
    client = RpcClient(f"http://127.0.0.1:{free_port()}", retry_seconds=30, on_event=events.append)
    client._provider()  # web3's import is not what is measured
    start = time.monotonic()
    with pytest.raises(RpcUnavailable) as info:
        client.chain_id()
    elapsed = time.monotonic() - start
    assert 0.4 <= elapsed < 1.0
    assert info.value.kind == "transient" and info.value.exit_code == 10
    assert "refused the connection" in info.value.message and len(events) >= 2
    assert all("giving up after 0.5 s" in e for e in events)


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Answers the first ``failures`` POSTs with ``status``, then proxies to the real node."""

    failures = 0
    status = 503
    slow_first = 0.0  # seconds the first failing answer takes (a slow, overloaded node)
    upstream = ""
    seen: list[int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        if cls.failures > 0:
            if cls.slow_first and not cls.seen:
                time.sleep(cls.slow_first)  # the node's behaviour, not synchronisation
            cls.failures -= 1
            cls.seen.append(cls.status)
            if cls.status == 200:  # a JSON-RPC "limit exceeded" error (EIP-1474 -32005)
                payload = b'{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"slow down"}}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            self.send_response(cls.status)
            self.end_headers()
            return
        req = urllib.request.Request(
            cls.upstream, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            payload = resp.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def flaky(anvil: Anvil) -> Iterator[type[_Flaky]]:
    handler = type("Flaky", (_Flaky,), {"upstream": anvil.url, "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_slow_first_failure_does_not_use_up_the_retry_window(
    flaky: type[_Flaky], anvil: Anvil
) -> None:
    """The window bounds retries: it opens at the first failure, however long that took."""
    flaky.failures, flaky.status, flaky.slow_first = 1, 503, 1.0
    events: list[str] = []
    client = RpcClient(flaky.url, retry_seconds=0.5, on_event=events.append)  # type: ignore[attr-defined]
    assert client.chain_id() == anvil.chain_id
    assert flaky.seen == [503] and any("retry 1" in e for e in events)


@pytest.mark.parametrize("status", [503, 429, 502, 200])
def test_http_5xx_429_and_rate_limit_are_retried(
    flaky: type[_Flaky], anvil: Anvil, status: int
) -> None:
    flaky.failures, flaky.status = 2, status
    client = RpcClient(flaky.url, retry_seconds=10)  # type: ignore[attr-defined]
    tx_hash = client.send_raw(dev_raw(anvil))
    assert flaky.seen == [status, status]
    assert client.wait_receipt(tx_hash)["status"] == 1


def test_already_known_pending_tx_is_success() -> None:
    node = Anvil(require_anvil(), extra_args=("--no-mining",)).start()
    try:
        events: list[str] = []
        client = RpcClient(node.url, on_event=events.append)
        raw = dev_raw(node)
        first = client.send_raw(raw)
        assert client.send_raw(raw) == first  # the node answers "already imported"
        assert any("already knows" in e for e in events)
    finally:
        node.stop()


def test_confirmations(anvil: Anvil) -> None:
    client = RpcClient(anvil.url)
    tx_hash = client.send_raw(dev_raw(anvil))
    assert client.wait_receipt(tx_hash, confirmations=1)["confirmations"] == 1
    with pytest.raises(PeerTimeout):
        client.wait_receipt(tx_hash, confirmations=2, timeout=0.3)
    anvil.call("evm_mine")
    assert client.wait_receipt(tx_hash, confirmations=2)["confirmations"] == 2


def test_a_node_failing_for_good_is_retried_for_the_whole_window(flaky: type[_Flaky]) -> None:
    """5xx: retried with backoff, each retry said with its bound, then given up on, saying how
    long it tried."""
    flaky.failures, flaky.status = 10_000, 503
    events: list[str] = []
    client = RpcClient(flaky.url, retry_seconds=1.5, on_event=events.append)  # type: ignore[attr-defined]
    start = time.monotonic()
    with pytest.raises(RpcUnavailable) as info:
        client.chain_id()
    assert 1.5 <= time.monotonic() - start < 4
    assert "HTTP 503" in info.value.message and "over 1.5 s" in info.value.message
    assert len(events) >= 3 and all("giving up after 1.5 s" in e for e in events)
    waits = [float(e.split(" in ")[1].split(" s ")[0]) for e in events]
    assert waits[:3] == [0.1, 0.2, 0.4]  # exponential backoff


def test_a_timeout_is_retried(flaky: type[_Flaky], anvil: Anvil) -> None:
    """The first answer takes longer than the request timeout; the retry gets through."""
    flaky.failures, flaky.status, flaky.slow_first = 1, 503, 1.0
    events: list[str] = []
    client = RpcClient(flaky.url, retry_seconds=10, request_timeout=0.3, on_event=events.append)  # type: ignore[attr-defined]
    assert client.chain_id() == anvil.chain_id
    assert events and "timeout; retry 1" in events[0]
