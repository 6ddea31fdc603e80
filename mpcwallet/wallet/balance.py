"""What an account holds, from the node: ETH, or an ERC-20 token in its own units."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpcwallet.evm.rpc import RpcClient
    from mpcwallet.wallet.ports import Ui

BALANCE_OF = "0x70a08231"  # balanceOf(address)


def balance(
    *,
    share: Path | None,
    address: str | None = None,
    account: int = 0,
    token: str | None = None,
    rpc_url: str | None = None,
    retry_seconds: float | None = None,
    ui: Ui,
) -> dict[str, Any]:
    """``{address, account, chain_id}`` and ``balance_wei``/``balance_eth``, or with ``token``
    ``{token, balance_units, balance, decimals, symbol}``.

    ``address``: any address instead of the wallet's (then ``share`` is not read)."""
    from mpcwallet.accounts import account_key
    from mpcwallet.evm.address import parse_address, to_checksum
    from mpcwallet.evm.units import format_ether
    from mpcwallet.storage.store import load_header
    from mpcwallet.wallet.rpc import required_rpc_url, rpc_client

    if address is not None:
        address = to_checksum(parse_address(address, "address"))
    elif share is not None:
        _, address = account_key(load_header(share), share, account)
    else:
        raise ValueError("balance: give share or address")
    client = rpc_client(required_rpc_url(rpc_url), retry_seconds, ui)
    data: dict[str, Any] = {
        "address": address,
        "account": account,
        "chain_id": client.chain_id(),
    }
    if token is None:
        wei = client.balance(address)
        data.update(balance_wei=str(wei), balance_eth=format_ether(wei))
    else:
        data.update(token_balance(client, token, address))
    return data


def token_balance(client: RpcClient, token: str, holder: str) -> dict[str, Any]:
    from mpcwallet.errors import ChainError
    from mpcwallet.evm.address import parse_address, to_checksum
    from mpcwallet.evm.units import format_units
    from mpcwallet.wallet.preview import token_facts

    token_hex = to_checksum(parse_address(token, "token"))
    facts = token_facts(client, token_hex)  # not_a_contract if the address has no code
    call = BALANCE_OF + "00" * 12 + parse_address(holder, "address").hex()
    raw = client.call("eth_call", {"to": token_hex, "data": call}, "latest")
    if not isinstance(raw, str) or len(raw) != 66:
        raise ChainError(f"token {token_hex}: balanceOf answered {str(raw)[:80]!r}")
    units = int(raw, 16)
    return {
        "token": token_hex,
        "balance_units": str(units),
        "balance": str(units) if facts.decimals is None else format_units(units, facts.decimals),
        "decimals": facts.decimals,
        "symbol": facts.symbol,
    }
