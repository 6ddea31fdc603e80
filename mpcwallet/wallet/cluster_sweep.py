"""Sweep a key set whose shares are exposed (issue 25): when t shares of one generation may be
in an attacker's hands, a refresh does not help (they can sign with that generation's shares
among themselves), so the funds move to a new key set, in one transaction.

There is no WaaS pipeline on main yet: the sweep is signed through the cluster's own sign path
(the coordinator, every node checking a signing permit; in the demo the permit comes from the
demo permit key) and broadcast over JSON-RPC. The transaction sends the whole ETH balance
minus the worst-case fee (21000 gas at ``maxFeePerGas``) to the new key set's address; the
old key set is then retired in the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mpcwallet.errors import BadInput

__all__ = ["sweep"]

GAS = 21_000


def sweep(
    directory: Path,
    keyset_id: str,
    rpc_url: str,
    *,
    chain_id: int,
    wallet_id: str = "swept",
    store: str | None = None,
) -> dict[str, Any]:
    from mpcwallet.evm.rpc import RpcClient
    from mpcwallet.store.repo import Store
    from mpcwallet.wallet.cluster_demo import call, demo_permit

    st = Store.open(store or str(Path(directory) / "store.sqlite"))
    try:
        old = st.get_keyset(keyset_id)
    finally:
        st.close()
    if old.status != "active" or old.address is None:
        raise BadInput(f"key set {keyset_id} is {old.status}; nothing to sweep", field="keyset")
    rpc = RpcClient(rpc_url)
    rpc.check_chain_id(chain_id)
    new = call(directory, "POST", "/v1/keysets", {"wallet_id": wallet_id, "tenant": "sweep"})
    balance = rpc.balance(old.address)
    tip = 10**9
    base = int(rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    max_fee = 2 * base + tip
    value = balance - GAS * max_fee
    if value <= 0:
        raise BadInput(f"{old.address} holds {balance} wei: less than the fee", field="balance")
    tx = {
        "chainId": chain_id,
        "nonce": rpc.pending_nonce(old.address),
        "to": new["address"],
        "value": value,
        "gas": GAS,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
        "type": 2,
    }
    permit = demo_permit(directory, keyset_id, tx, request_id=f"sweep-{keyset_id}")
    signed = call(
        directory,
        "POST",
        f"/v1/keysets/{keyset_id}/sign",
        {"tx": tx, "permit": permit, "request_id": f"sweep-{keyset_id}"},
    )
    tx_hash = rpc.send_raw(bytes.fromhex(signed["raw_tx"][2:]))
    st = Store.open(store or str(Path(directory) / "store.sqlite"))
    try:
        st.set_keyset_status(keyset_id, "retired", expect="active")
    finally:
        st.close()
    return {
        "from": old.address,
        "to": new["address"],
        "new_keyset_id": new["keyset_id"],
        "value": value,
        "tx_hash": "0x" + tx_hash.hex(),
        "quorum": signed["quorum"],
    }
