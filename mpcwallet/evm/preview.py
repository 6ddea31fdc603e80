"""What a transaction does, in the words a person checks before signing (pure; no I/O).

:func:`build` turns an :class:`UnsignedTx` (plus facts the node gave: token decimals and symbol)
into a flat dict: chain, from, to, value in ETH, for an ERC-20 ``transfer`` the token, recipient
and amount, nonce, gas limit, fee per gas and the worst-case total cost
``value + gas x maxFeePerGas`` (or ``gasPrice``), the most the account can lose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mpcwallet.evm.address import to_checksum
from mpcwallet.evm.erc20 import TRANSFER_SELECTOR
from mpcwallet.evm.txjson import UnsignedTx
from mpcwallet.evm.units import format_ether, format_gwei, format_units

__all__ = ["CHAIN_NAMES", "TokenFacts", "build", "erc20_transfer", "lines", "max_cost"]

# Chain ids of the chains people are most likely to meet (https://chainlist.org).
CHAIN_NAMES: dict[int, str] = {
    1: "Ethereum mainnet",
    10: "OP Mainnet",
    56: "BNB Smart Chain",
    137: "Polygon PoS",
    8453: "Base",
    17000: "Holesky testnet",
    31337: "local dev chain (anvil/hardhat)",
    42161: "Arbitrum One",
    560048: "Hoodi testnet",
    11155111: "Sepolia testnet",
}


@dataclass(frozen=True)
class TokenFacts:
    decimals: int | None = None
    symbol: str | None = None


def chain_name(chain_id: int) -> str:
    return CHAIN_NAMES.get(chain_id, "unknown chain")


def erc20_transfer(tx: UnsignedTx) -> tuple[bytes, int] | None:
    """``(recipient, amount)`` when the call data is ``transfer(address,uint256)``."""
    data = tx.data
    if tx.to is None or len(data) != 68 or data[:4] != TRANSFER_SELECTOR:
        return None
    if any(data[4:16]):  # an ABI address word is left-padded with zeros
        return None
    return data[16:36], int.from_bytes(data[36:68], "big")


def max_cost(tx: UnsignedTx) -> int | None:
    """Worst case in wei: value + gas x (maxFeePerGas, or gasPrice); None if not all known."""
    fee = tx.max_fee_per_gas if tx.type == 2 else tx.gas_price
    if tx.gas is None or fee is None:
        return None
    return tx.value + tx.gas * fee


def _token_amount(amount: int, facts: TokenFacts) -> str:
    if facts.decimals is None:
        return f"{amount} base units (decimals unknown)"
    text = format_units(amount, facts.decimals)
    return f"{text} {facts.symbol}" if facts.symbol else text


def build(
    tx: UnsignedTx,
    *,
    sender: str,
    key_name: str | None,
    account: int = 0,
    token: TokenFacts | None = None,
) -> dict[str, Any]:
    fee_name = "max_fee_per_gas" if tx.type == 2 else "gas_price"
    fee = tx.max_fee_per_gas if tx.type == 2 else tx.gas_price
    cost = max_cost(tx)
    out: dict[str, Any] = {
        "chain_id": tx.chain_id,
        "chain": chain_name(tx.chain_id),
        "from": sender,
        "key": key_name,
        "account": account,
        "to": to_checksum(tx.to) if tx.to is not None else None,
        "value_wei": str(tx.value),
        "value_eth": format_ether(tx.value),
        "nonce": tx.nonce,
        "gas": tx.gas,
        fee_name: None if fee is None else str(fee),
        "max_cost_wei": None if cost is None else str(cost),
        "max_cost_eth": None if cost is None else format_ether(cost),
    }
    transfer = erc20_transfer(tx)
    if transfer is not None:
        recipient, amount = transfer
        facts = token or TokenFacts()
        out["erc20"] = {
            "token": out["to"],
            "recipient": to_checksum(recipient),
            "amount_units": str(amount),
            "amount": _token_amount(amount, facts),
            "decimals": facts.decimals,
            "symbol": facts.symbol,
        }
    return out


def lines(p: dict[str, Any]) -> list[tuple[str, str]]:
    """The preview as (label, text) rows, in the order a person reads them."""
    key = f" (key {p['key']}, account {p.get('account', 0)})" if p.get("key") else ""
    rows = [
        ("chain", f"{p['chain']} (chain id {p['chain_id']})"),
        ("from", f"{p['from']}{key}"),
        ("to", p["to"] or "(new contract)"),
        ("value", f"{p['value_eth']} ETH"),
    ]
    erc20 = p.get("erc20")
    if erc20:
        rows += [
            ("token", erc20["token"]),
            ("recipient", erc20["recipient"]),
            ("amount", erc20["amount"]),
        ]
    unknown = "filled by the node at signing"
    rows.append(("nonce", unknown if p["nonce"] is None else str(p["nonce"])))
    rows.append(("gas limit", unknown if p["gas"] is None else str(p["gas"])))
    if "max_fee_per_gas" in p:
        fee, label = p["max_fee_per_gas"], "max fee/gas"
    else:
        fee, label = p["gas_price"], "gas price"
    rows.append((label, unknown if fee is None else f"{format_gwei(int(fee))} gwei"))
    cost = p["max_cost_eth"]
    rows.append(("max total", "unknown" if cost is None else f"{cost} ETH (value + gas x fee)"))
    return rows
