"""`mpc watch`: the deposit listener over this home's addresses; `mpc deposits`: what it found.

Watched: for every key in ``MPC_HOME/shares`` (or the one named), the accounts given (default
account 0), derived from each share's public header; no passphrase, no co-signer.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mpcwallet.errors import BadInput, NotFound

if TYPE_CHECKING:
    from mpcwallet.chain.deposits import StepResult
    from mpcwallet.chain.store import Deposit
    from mpcwallet.wallet.ports import Ui


def watched_addresses(key: str | None, accounts: range) -> list[dict[str, Any]]:
    """``[{key, account, address}]`` for the accounts of each key in the home (or ``key``)."""
    from mpcwallet.lifecycle.names import key_name, list_shares
    from mpcwallet.wallet.shares import addresses, find_share

    paths = [find_share(None, key)] if key is not None else list_shares()
    if not paths:
        from mpcwallet.config import mpc_home

        raise NotFound(f"no key in {mpc_home()}: nothing to watch (run `mpc keygen`)")
    return [{"key": key_name(path), **row} for path in paths for row in addresses(path, accounts)]


def _deposit_json(d: Deposit) -> dict[str, Any]:
    return d.to_json()


def watch(
    *,
    key: str | None,
    accounts: range,
    rpc_url: str | None,
    retry_seconds: float | None,
    confirmations: int | None,
    from_block: int | None,
    window: int,
    interval: float,
    once: bool,
    ui: Ui,
) -> dict[str, Any]:
    """Follow the chain and record deposits; ``once``: catch up to the head and stop. Ctrl-C
    stops a long-running watch cleanly (everything processed so far is committed)."""
    from mpcwallet.chain.deposits import Listener
    from mpcwallet.chain.node import Node
    from mpcwallet.chain.rules import rules_for
    from mpcwallet.chain.store import open_store
    from mpcwallet.wallet.rpc import required_rpc_url, rpc_client

    if window < 1 or interval <= 0:
        raise BadInput("--window must be at least 1 and --interval above 0", field="window")
    watched = watched_addresses(key, accounts)
    client = rpc_client(required_rpc_url(rpc_url), retry_seconds, ui)
    chain_id = client.chain_id()
    store = open_store()
    listener = Listener(
        Node(client),
        store,
        chain_id=chain_id,
        addresses=[w["address"] for w in watched],
        rules=rules_for(chain_id).with_confirmations(confirmations),
        window=window,
        on_event=ui.info,
    )
    ui.info(
        f"watching {len(watched)} address(es) on chain {chain_id}: "
        + ", ".join(f"{w['key']}#{w['account']} {w['address']}" for w in watched)
    )
    resumed = store.cursor(chain_id)
    if from_block is not None and resumed is None:
        listener.start_at(max(from_block - 1, 0))
    elif resumed is not None:
        ui.info(f"resuming after block {resumed[0]}")
    new: list[Deposit] = []
    dropped: list[Deposit] = []
    result: StepResult | None = None
    try:
        while True:
            result = listener.catch_up()
            new += result.new
            dropped += result.dropped
            if once:
                break
            time.sleep(interval)  # poll interval
    except KeyboardInterrupt:
        ui.info("stopped")
    cursor = store.cursor(chain_id)
    return {
        "chain_id": chain_id,
        "watching": watched,
        "head": result.head if result else None,
        "processed_to": cursor[0] if cursor else None,
        "new": [_deposit_json(d) for d in new],
        "dropped": [_deposit_json(d) for d in dropped],
        "deposits": [_deposit_json(d) for d in store.deposits(chain_id)],
    }


def deposits(*, include_dropped: bool) -> list[dict[str, Any]]:
    from mpcwallet.chain.store import open_store, store_path

    if not store_path().exists():
        return []
    return [_deposit_json(d) for d in open_store().deposits(live_only=not include_dropped)]
