"""The chain layer end to end (issue 24): the real `mpc`, one real co-signer and key, one real
anvil node (chain id 11155111, finality two blocks behind the head with --slots-in-an-epoch 1)
for the whole module.

The home's chains.toml sets 2 confirmations, so a transfer is CONFIRMING in its own block,
CONFIRMED one block later and FINALIZED when the node's finalized block reaches it.
"""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import subprocess_env
from evm.evmasm import token_initcode
from support.anvil import DEV_KEY_0, Anvil, require_anvil
from support.cosigner import Cosigner, running_cosigner
from support.proc import json_result, mpc_cmd, run_mpc

from mpcwallet.evm.signature import raw_sender

pytestmark = pytest.mark.anvil

RECIPIENT = "0x" + "79" * 20
GWEI = 10**9


class Wallet:
    def __init__(self, cs: Cosigner, address: str, node: Anvil, tmp: Path) -> None:
        self.cs, self.address, self.node, self.tmp = cs, address, node, tmp
        self.env = dict(cs.env, MPC_RPC_URL=node.url)
        self._n = 0

    def run(self, *args: str) -> tuple[int, dict[str, Any], str]:
        cp = run_mpc(["--json", *args], self.env)
        obj = json_result(cp)
        return cp.returncode, obj["data"] if obj["ok"] else obj["error"], cp.stderr

    def ok(self, *args: str) -> dict[str, Any]:
        code, data, stderr = self.run(*args)
        assert code == 0, (data, stderr)
        return data

    def tx_file(self, **fields: Any) -> Path:
        self._n += 1
        path = self.tmp / f"tx{self._n}.json"
        path.write_text(json.dumps({"chainId": 11155111, "to": RECIPIENT, **fields}))
        return path

    def sign_events(self) -> int:
        return sum(1 for line in self.cs.log_lines() if line.get("event") == "sign_started")

    def status(self, tx_hash: str, *args: str) -> dict[str, Any]:
        return self.ok("tx", "status", tx_hash, *args)


@pytest.fixture(scope="module")
def wallet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wallet]:
    tmp = tmp_path_factory.mktemp("chain")
    env = subprocess_env(tmp / "home")
    node = Anvil(require_anvil(), extra_args=("--slots-in-an-epoch", "1")).start()
    try:
        with running_cosigner(env) as cs:
            cp = run_mpc(["--json", "keygen"], cs.env)
            assert cp.returncode == 0, cp.stderr
            address = json_result(cp)["data"]["address"]
            (tmp / "home" / "chains.toml").write_text(
                "[11155111]\nconfirmations = 2\nfinality_depth = 64\n"
            )
            node.fund(address, 10**18)
            yield Wallet(cs, address, node, tmp)
    finally:
        node.stop()


@pytest.fixture
def no_automine(wallet: Wallet) -> Iterator[None]:
    wallet.node.call("evm_setAutomine", False)
    try:
        yield
    finally:
        wallet.node.call("evm_setAutomine", True)


def to_states(data: dict[str, Any]) -> list[str]:
    return [e["to_state"] for e in data["events"] if e["from_state"] != e["to_state"]]


def test_a_transfer_survives_a_reorg_and_is_finalized_once(wallet: Wallet) -> None:
    node = wallet.node
    before, signs = node.balance(RECIPIENT), wallet.sign_events()
    sent = wallet.ok("send", "--tx", str(wallet.tx_file(value="1 gwei")), "--no-wait")
    tx_hash = sent["hash"]
    assert sent["state"] == "BROADCAST"
    first = wallet.status(tx_hash)  # automine: in a block already, 1 of 2 confirmations
    assert first["state"] == "CONFIRMING" and first["receipt"]["confirmations"] == 1
    node.call("evm_mine")
    confirmed = wallet.status(tx_hash)
    assert confirmed["state"] == "CONFIRMED"
    mined_in = confirmed["block"]
    # the block holding it (and the one above) are replaced by empty ones: the tx is gone
    node.call("anvil_reorg", 2, [])
    assert node.call("eth_getTransactionReceipt", tx_hash) is None
    back = wallet.status(tx_hash)  # sees the reorg, goes back, sends the same raw tx again
    reorg = next(e for e in back["events"] if e["from_state"] == "CONFIRMED")
    assert reorg["to_state"] == "BROADCAST" and "reorg" in reorg["detail"]
    assert any("re-broadcast" in (e["detail"] or "") for e in back["events"])
    receipt = node.call("eth_getTransactionReceipt", tx_hash)  # automine: mined again
    assert receipt is not None and int(receipt["blockNumber"], 16) > mined_in
    node.call("evm_mine")
    assert wallet.status(tx_hash)["state"] == "CONFIRMED"
    node.call("evm_mine")
    final = wallet.status(tx_hash, "--wait", "--finalized", "--receipt-timeout", "30")
    assert final["state"] == "FINALIZED"
    assert to_states(final) == [
        "BROADCAST",
        "CONFIRMING",
        "CONFIRMED",
        "BROADCAST",
        "CONFIRMED",  # mined again and one block on top when this poll looked
        "FINALIZED",
    ]
    assert node.balance(RECIPIENT) == before + GWEI  # paid once
    assert wallet.sign_events() == signs + 1  # no new signature for the re-broadcast
    again = wallet.status(tx_hash)  # FINALIZED is not polled again
    assert again["state"] == "FINALIZED" and len(again["events"]) == len(final["events"])


def test_ctrl_c_while_waiting_says_sent_and_a_second_send_does_not_pay_twice(
    wallet: Wallet, no_automine: None
) -> None:
    node = wallet.node
    tx = wallet.tx_file(value="2 gwei")
    before, nonce, signs = node.balance(RECIPIENT), node.nonce(wallet.address), wallet.sign_events()
    proc = subprocess.Popen(
        [*mpc_cmd(), "send", "--tx", str(tx)],
        env=wallet.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    waiting = threading.Event()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("sent 0x") and "; waiting" in line:
                waiting.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert waiting.wait(timeout=120), "".join(lines)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = "".join(lines)
    assert proc.returncode == 130, stderr
    assert "sent, not yet confirmed: 0x" in stderr and "sent_not_confirmed" in stderr
    assert "nothing was signed" not in stderr
    tx_hash = stderr.split("sent, not yet confirmed: ")[1][:66]
    assert node.call("eth_getTransactionByHash", tx_hash) is not None  # in the node's pool
    # the same tx.json again: shown, not signed again
    code, data, err = wallet.run("send", "--tx", str(tx), "--no-wait")
    assert code == 0, (data, err)
    assert data["already_pending"] is True and data["hash"] == tx_hash
    assert "still BROADCAST" in err and wallet.sign_events() == signs + 1
    node.call("evm_mine")
    node.call("evm_mine")
    done = wallet.status(tx_hash, "--wait", "--receipt-timeout", "30")
    assert done["state"] == "CONFIRMED"
    assert node.balance(RECIPIENT) == before + 2 * GWEI  # exactly one transfer
    assert node.nonce(wallet.address) == nonce + 1


class _Relay(http.server.BaseHTTPRequestHandler):
    """Forwards JSON-RPC to the node; shut down, it refuses connections (a lost node)."""

    upstream = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        fwd = urllib.request.Request(
            type(self).upstream, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(fwd, timeout=5) as resp:
            payload = resp.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


def test_the_node_lost_while_waiting_says_sent_with_the_hash(
    wallet: Wallet, no_automine: None
) -> None:
    node = wallet.node
    relay = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Relay", (_Relay,), {"upstream": node.url})
    )
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    tx = wallet.tx_file(value="5 gwei")
    proc = subprocess.Popen(
        [*mpc_cmd(), "--json", "send", "--tx", str(tx)],
        env=dict(wallet.env, MPC_RPC_URL=f"http://127.0.0.1:{relay.server_address[1]}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("sent 0x") and "; waiting" in line:
                break
        relay.shutdown()
        relay.server_close()  # from now on: connection refused
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 10
    error = json.loads(stdout)["error"]
    assert error["code"] == "not_yet_mined" and "sent, not yet confirmed" in error["message"]
    tx_hash = error["hash"]
    assert node.call("eth_getTransactionByHash", tx_hash) is not None
    again = wallet.ok("send", "--tx", str(tx), "--no-wait")  # the real node again
    assert again["already_pending"] is True and again["hash"] == tx_hash
    # --again: a second payment on purpose, at the next nonce
    second = wallet.ok("send", "--tx", str(tx), "--no-wait", "--again")
    assert second["hash"] != tx_hash and second["nonce"] == again["nonce"] + 1
    before = node.balance(RECIPIENT)
    node.call("evm_mine")
    node.call("evm_mine")
    assert wallet.status(tx_hash)["state"] == "CONFIRMED"
    assert wallet.status(second["hash"])["state"] == "CONFIRMED"
    assert node.balance(RECIPIENT) == before + 2 * 5 * GWEI


def test_nonce_guard_speed_up_and_cancel_leave_one_tx_per_nonce(
    wallet: Wallet, no_automine: None
) -> None:
    node = wallet.node
    before, signs = node.balance(RECIPIENT), wallet.sign_events()
    stuck = wallet.ok("send", "--tx", str(wallet.tx_file(value="3 gwei")), "--no-wait")
    nonce = stuck["nonce"]
    # a second signature at its nonce, or one skipping nonces, is refused before signing
    code, err, _ = wallet.run("sign", "--tx", str(wallet.tx_file(value=1, nonce=nonce)))
    assert code == 8 and err["code"] == "nonce_in_use" and stuck["hash"] in err["message"]
    code, err, _ = wallet.run("send", "--tx", str(wallet.tx_file(value=1, nonce=nonce + 3)))
    assert code == 8 and err["code"] == "nonce_gap", err
    assert wallet.sign_events() == signs + 1
    # speed-up: a new signature through the co-signer, same nonce, fees up >= 10 %
    fast = wallet.ok("tx", "speed-up", stuck["hash"], "--no-wait")
    assert fast["nonce"] == nonce and fast["replaces"] == stuck["hash"]
    assert wallet.sign_events() == signs + 2
    assert node.call("eth_getTransactionByHash", stuck["hash"]) is None  # the node replaced it
    old, _ = raw_sender(bytes.fromhex(stuck["raw_tx"][2:]))
    new, _ = raw_sender(bytes.fromhex(fast["raw_tx"][2:]))
    assert new.with_fields(max_fee_per_gas=0, max_priority_fee_per_gas=0) == old.with_fields(
        max_fee_per_gas=0, max_priority_fee_per_gas=0
    )  # the same transaction but for the fees
    assert new.max_fee_per_gas * 10 >= old.max_fee_per_gas * 11
    assert new.max_priority_fee_per_gas * 10 >= old.max_priority_fee_per_gas * 11
    node.call("evm_mine")
    block = node.call("eth_getBlockByNumber", "latest", False)
    assert block["transactions"] == [fast["hash"]]  # exactly one tx at that nonce
    assert wallet.status(fast["hash"])["state"] == "CONFIRMING"
    replaced = wallet.status(stuck["hash"])
    assert replaced["state"] == "REPLACED" and fast["hash"] in replaced["detail"]
    assert node.balance(RECIPIENT) == before + 3 * GWEI
    # cancel: a zero-value transfer to ourselves at the stuck nonce
    stuck = wallet.ok("send", "--tx", str(wallet.tx_file(value="4 gwei")), "--no-wait")
    cancel = wallet.ok("tx", "cancel", stuck["hash"], "--no-wait")
    assert cancel["to"] == wallet.address and cancel["value"] == 0
    assert cancel["nonce"] == stuck["nonce"] and wallet.sign_events() == signs + 4
    node.call("evm_mine")
    block = node.call("eth_getBlockByNumber", "latest", False)
    assert block["transactions"] == [cancel["hash"]]
    assert wallet.status(stuck["hash"])["state"] == "REPLACED"
    assert node.balance(RECIPIENT) == before + 3 * GWEI  # the 4 gwei never left
    assert node.nonce(wallet.address) == stuck["nonce"] + 1
    code, err, _ = wallet.run("tx", "cancel", stuck["hash"])
    assert code == 8 and err["code"] == "not_pending"


def test_deposit_listener_eth_and_erc20_restart_and_reorg(wallet: Wallet) -> None:
    node = wallet.node
    token = node.send_signed(DEV_KEY_0, {"data": "0x" + token_initcode(10**24).hex()})
    token_address = token["contractAddress"]
    start = wallet.ok("watch", "--once")  # first run: from the head on
    assert start["new"] == [] and start["watching"][0]["address"] == wallet.address
    eth = node.send_signed(DEV_KEY_0, {"to": wallet.address, "value": 7 * GWEI, "gas": 21000})
    calldata = "0xa9059cbb" + "00" * 12 + wallet.address[2:].lower() + f"{1234:064x}"
    erc20 = node.send_signed(DEV_KEY_0, {"to": token_address, "data": calldata, "gas": 100_000})
    found = wallet.ok("watch", "--once", "--window", "1")  # one block per step
    got = {(d["token"], d["amount"], d["tx_hash"]) for d in found["new"]}
    assert got == {
        (None, str(7 * GWEI), eth["transactionHash"]),
        (_checksum(token_address), "1234", erc20["transactionHash"]),
    }
    # a restart: nothing new, nothing twice; then a deposit made while it was stopped
    assert wallet.ok("watch", "--once")["new"] == []
    late = node.send_signed(DEV_KEY_0, {"to": wallet.address, "value": 8 * GWEI, "gas": 21000})
    resumed = wallet.ok("watch", "--once")
    assert [d["tx_hash"] for d in resumed["new"]] == [late["transactionHash"]]
    assert len(wallet.ok("deposits")["deposits"]) == 3
    # a reorg removes the late deposit's block
    node.call("anvil_reorg", 1, [])
    after = wallet.ok("watch", "--once")
    assert [d["tx_hash"] for d in after["dropped"]] == [late["transactionHash"]]
    listed = wallet.ok("deposits")["deposits"]
    assert late["transactionHash"] not in {d["tx_hash"] for d in listed} and len(listed) == 2
    everything = wallet.ok("deposits", "--all")["deposits"]
    assert {d["state"] for d in everything if d["tx_hash"] == late["transactionHash"]} == {
        "DROPPED"
    }
    # finality for deposits by the same rule
    for _ in range(3):
        node.call("evm_mine")
    final = wallet.ok("watch", "--once")
    assert {d["state"] for d in final["deposits"]} == {"FINALIZED"}


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


def test_a_second_concurrent_send_from_the_address_is_busy(
    wallet: Wallet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one process signs from an address (nonce check to committed record), another
    send from it signs nothing: two signatures can never take one nonce."""
    from mpcwallet.wallet.send import sender_lock

    monkeypatch.setenv("MPC_HOME", wallet.env["MPC_HOME"])
    signs = wallet.sign_events()
    with sender_lock(11155111, wallet.address):
        code, err, _ = wallet.run("send", "--tx", str(wallet.tx_file(value=1)))
    assert code == 10 and err["code"] == "busy" and wallet.address in err["message"]
    assert wallet.sign_events() == signs
