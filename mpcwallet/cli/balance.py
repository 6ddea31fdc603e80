"""`mpc balance [--token T]`: what the wallet holds, in ETH or in a token's own units."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mpcwallet.cli import options
from mpcwallet.errors import BadInput


def register(app: typer.Typer) -> None:
    @app.command("balance")
    def balance(
        share: options.Share = None,
        key: options.Key = None,
        token: Annotated[
            str | None, typer.Option("--token", help="An ERC-20 token address (else ETH).")
        ] = None,
        rpc_url: options.RpcUrl = None,
        timeout: options.RpcTimeout = None,
        account: options.Account = 0,
    ) -> None:
        """The wallet's balance, from the node (ETH, or with --token an ERC-20 token)."""
        from mpcwallet.accounts import account_key
        from mpcwallet.cli.output import out
        from mpcwallet.cli.sign import rpc_client
        from mpcwallet.evm.endpoint import resolve_rpc_url
        from mpcwallet.evm.units import format_ether
        from mpcwallet.storage.store import load_header
        from mpcwallet.wallet.shares import find_share

        path = find_share(share, key)
        _, address = account_key(load_header(path), path, account)
        url = resolve_rpc_url(rpc_url)
        if url is None:
            raise BadInput(
                "no RPC endpoint: pass --rpc-url or set MPC_RPC_URL (or ETH_RPC_URL)",
                field="rpc_url",
            )
        client = rpc_client(url, timeout)
        data: dict[str, Any] = {
            "address": address,
            "account": account,
            "chain_id": client.chain_id(),
        }
        if token is None:
            wei = client.balance(address)
            data.update(balance_wei=str(wei), balance_eth=format_ether(wei))
            out().success(data, f"{format_ether(wei)} ETH  ({address})")
            return
        token_balance(client, token, address, data)
        shown = data["balance"] + (f" {data['symbol']}" if data["symbol"] else "")
        out().success(data, f"{shown}  (token {data['token']}, holder {address})")


def token_balance(client: Any, token: str, holder: str, data: dict[str, Any]) -> None:
    from mpcwallet.cli.preview import token_facts
    from mpcwallet.evm.address import parse_address, to_checksum
    from mpcwallet.evm.units import format_units

    token_hex = to_checksum(parse_address(token, "token"))
    facts = token_facts(client, token_hex)  # not_a_contract if the address has no code
    call = "0x70a08231" + "00" * 12 + parse_address(holder, "address").hex()  # balanceOf
    raw = client.call("eth_call", {"to": token_hex, "data": call}, "latest")
    if not isinstance(raw, str) or len(raw) != 66:
        from mpcwallet.errors import ChainError

        raise ChainError(f"token {token_hex}: balanceOf answered {str(raw)[:80]!r}")
    units = int(raw, 16)
    data.update(
        token=token_hex,
        balance_units=str(units),
        balance=str(units) if facts.decimals is None else format_units(units, facts.decimals),
        decimals=facts.decimals,
        symbol=facts.symbol,
    )
