"""An ETH transfer from a recipient and an amount as people write them (``--to 0x.. --value
0.01ether``): the unsigned transaction `mpc tx transfer` writes and `mpc sign`/`mpc send`
sign without a tx.json. The same parser as tx.json (:func:`mpcwallet.evm.txjson.parse_tx`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mpcwallet.errors import BadInput

if TYPE_CHECKING:
    from pathlib import Path

    from mpcwallet.evm.txjson import UnsignedTx


def transfer_tx(
    to: str,
    value: str,
    *,
    chain_id: int | None = None,
    nonce: int | None = None,
    gas: int | None = None,
    max_fee_per_gas: str | None = None,
    max_priority_fee_per_gas: str | None = None,
) -> UnsignedTx:
    """EIP-1559, on ``chain_id`` (default: the wallet's chain, MPC_CHAIN_ID or Sepolia); a
    missing nonce, gas or fee is filled at signing."""
    from mpcwallet.config import chain_id as wallet_chain
    from mpcwallet.evm.txjson import parse_tx

    obj: dict[str, Any] = {
        "type": 2,
        "chainId": wallet_chain() if chain_id is None else chain_id,
        "to": to,
        "value": value,
    }
    for name, given in (
        ("nonce", nonce),
        ("gas", gas),
        ("maxFeePerGas", max_fee_per_gas),
        ("maxPriorityFeePerGas", max_priority_fee_per_gas),
    ):
        if given is not None:
            obj[name] = given
    return parse_tx(obj)


def tx_source(tx: Path | None, to: str | None, value: str | None) -> tuple[Any, str]:
    """``(loader, source name)`` for exactly one of a tx.json (``-`` is stdin) or ``--to`` and
    ``--value``."""
    if tx is not None and (to is not None or value is not None):
        raise BadInput(
            "give --tx FILE, or --to and --value, not both (a tx.json says everything)",
            field="tx",
        )
    if tx is not None:
        from mpcwallet.evm.txjson import load_tx

        return (lambda: load_tx(tx)), str(tx)
    if to is None or value is None:
        missing = "--to ADDRESS" if to is None else '--value AMOUNT (e.g. "0.01 ETH")'
        raise BadInput(
            f"missing {missing}: give --to and --value (an ETH transfer), or --tx tx.json",
            field="to" if to is None else "value",
        )
    return (lambda: transfer_tx(to, value)), f"--to {to} --value {value}"
