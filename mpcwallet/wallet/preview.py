"""See what you sign: the preview, the balance and token checks, and the review.

Runs after the transaction is complete and before the passphrase is asked or the co-signer is
used:

1. build the preview (:mod:`mpcwallet.evm.preview`); with an RPC endpoint, ask the node for the
   token's code, ``decimals()`` and ``symbol()`` and for the sender's balance, and refuse early
   (``not_a_contract``, ``insufficient_funds``);
2. hand it to the front end's ``Ui.review`` (the CLI shows it and, at a terminal, asks; the HTTP
   API returns it in the response).

Then :func:`mpcwallet.wallet.sign.sign_transaction` checks that the co-signer answers when a
passphrase may be asked, so nobody types one for a session that cannot run.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from mpcwallet.errors import InsufficientFunds, NotAContract

if TYPE_CHECKING:
    from mpcwallet.evm.preview import TokenFacts
    from mpcwallet.evm.rpc import RpcClient
    from mpcwallet.evm.txjson import UnsignedTx
    from mpcwallet.wallet.ports import Ui

DECIMALS_CALL = "0x313ce567"  # decimals()
SYMBOL_CALL = "0x95d89b41"  # symbol()


def token_facts(client: RpcClient, token: str) -> TokenFacts:
    """The token must have code; decimals and symbol are best effort (optional in ERC-20)."""
    from mpcwallet.evm.preview import TokenFacts
    from mpcwallet.evm.rpc import RpcCallError

    code = client.call("eth_getCode", token, "latest")
    if not isinstance(code, str) or code in ("0x", "0x0", ""):
        raise NotAContract(
            f"to: {token} has no contract code on this chain, so a token transfer to it would "
            "be mined and move nothing; check the token address and the chain (--rpc-url)",
            field="to",
        )
    decimals: int | None = None
    symbol: str | None = None
    try:
        raw = client.call("eth_call", {"to": token, "data": DECIMALS_CALL}, "latest")
        if isinstance(raw, str) and len(raw) == 66:
            value = int(raw, 16)
            decimals = value if value <= 77 else None
    except (RpcCallError, ValueError):
        pass
    try:
        raw = client.call("eth_call", {"to": token, "data": SYMBOL_CALL}, "latest")
        symbol = _abi_string(raw)
    except (RpcCallError, ValueError):
        pass
    return TokenFacts(decimals=decimals, symbol=symbol)


def _abi_string(raw: object) -> str | None:
    """An ABI ``string`` (or a legacy ``bytes32``) return value, printable, else None."""
    if not isinstance(raw, str) or not raw.startswith("0x") or len(raw) < 66:
        return None
    data = bytes.fromhex(raw[2:])
    text: str | None
    if len(data) == 32:
        text = data.rstrip(b"\0").decode("utf-8", "replace")
    else:
        from eth_abi.abi import decode

        try:
            (text,) = decode(["string"], data)
        except Exception:  # noqa: BLE001 - a token answering garbage gets no symbol
            return None
    if not text or len(text) > 16 or not text.isprintable():
        return None
    return str(text)


def build_preview(
    tx: UnsignedTx,
    *,
    sender: str,
    key_name: str | None,
    account: int,
    client: RpcClient | None,
) -> dict[str, Any]:
    """The preview; with a node, also the token and balance checks (raising before signing)."""
    from mpcwallet.evm.address import to_checksum
    from mpcwallet.evm.preview import build, erc20_transfer, max_cost

    facts = None
    if client is not None and erc20_transfer(tx) is not None and tx.to is not None:
        facts = token_facts(client, to_checksum(tx.to))
    preview = build(tx, sender=sender, key_name=key_name, account=account, token=facts)
    cost = max_cost(tx)
    if client is not None and cost is not None:
        from mpcwallet.evm.units import format_ether

        balance = client.balance(sender)
        preview["balance_wei"] = str(balance)
        if balance < cost:
            raise InsufficientFunds(
                f"{sender} holds {format_ether(balance)} ETH but this transaction may cost up "
                f"to {format_ether(cost)} ETH (value + gas x fee); nothing was signed. Fund the "
                "wallet (README.md#fund-the-wallet) or lower value or fees."
            )
    return preview


def preflight(
    tx: UnsignedTx,
    *,
    sender: str,
    key_name: str | None,
    account: int,
    client: RpcClient | None,
    yes: bool,
    ui: Ui,
) -> dict[str, Any]:
    """Preview, checks and review; returns the preview."""
    checking = ui.step("checking the balance and the recipient with the node")
    with checking if client is not None else contextlib.nullcontext():
        preview = build_preview(
            tx, sender=sender, key_name=key_name, account=account, client=client
        )
    preview["confirmed"] = ui.review(preview, yes=yes)
    return preview
