"""What a signed message or typed-data document says, in the words a person checks before
signing (pure; no I/O). The counterpart of :mod:`mpcwallet.evm.preview` for transactions; the
front end shows both through the same review (``Ui.review``), told apart by ``kind``.
"""

from __future__ import annotations

import json
from typing import Any

from mpcwallet.evm.eip712 import TypedData
from mpcwallet.evm.preview import chain_name

__all__ = ["MAX_FIELDS", "lines", "message_preview", "typed_data_preview"]

MAX_FIELDS = 12  # top-level message fields listed one by one; the rest are counted


def _signer(sender: str, key_name: str | None, account: int) -> dict[str, Any]:
    return {"from": sender, "key": key_name, "account": account}


def message_preview(
    message: bytes, *, sender: str, key_name: str | None, account: int
) -> dict[str, Any]:
    """An EIP-191 message: its text when it is printable UTF-8, else its hex."""
    try:
        text: str | None = message.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and not all(c.isprintable() or c in "\n\t" for c in text):
        text = None
    return {
        "kind": "message",
        **_signer(sender, key_name, account),
        "bytes": len(message),
        "text": text,
        "hex": None if text is not None else "0x" + message.hex(),
    }


def _value(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def typed_data_preview(
    td: TypedData, *, sender: str, key_name: str | None, account: int, chain_id: int | None
) -> dict[str, Any]:
    """EIP-712: the domain, the primary type and the message's top-level fields.

    ``chain_id`` is the domain's chainId as a number (None when the domain has none)."""
    domain = {k: _value(v) for k, v in td.domain.items()}
    return {
        "kind": "typed_data",
        **_signer(sender, key_name, account),
        "chain_id": chain_id,
        "chain": None if chain_id is None else chain_name(chain_id),
        "domain": domain,
        "primary_type": td.primary_type,
        "fields": {k: _value(v) for k, v in td.message.items()},
    }


def lines(p: dict[str, Any]) -> list[tuple[str, str]]:
    """The preview as (label, text) rows, in the order a person reads them."""
    key = f" (key {p['key']}, account {p.get('account', 0)})" if p.get("key") else ""
    rows: list[tuple[str, str]] = []
    if p["kind"] == "message":
        rows.append(("chain", "any: a personal_sign message is not bound to a chain"))
        rows.append(("from", f"{p['from']}{key}"))
        if p["text"] is not None:
            body = p["text"].splitlines() or [""]
            rows.append(("message", body[0]))
            rows += [("", line) for line in body[1:]]
        else:
            rows.append(("message", f"{p['bytes']} bytes, not text: {p['hex']}"))
        return rows
    chain = (
        "none in the domain: valid on any chain"
        if p["chain_id"] is None
        else f"{p['chain']} (chain id {p['chain_id']})"
    )
    rows += [("chain", chain), ("from", f"{p['from']}{key}")]
    domain = p["domain"]
    for name in ("name", "version", "verifyingContract", "salt"):
        if name in domain:
            rows.append(
                (f"domain {name}" if name != "verifyingContract" else "contract", domain[name])
            )
    rows.append(("type", p["primary_type"]))
    fields = list(p["fields"].items())
    for name, value in fields[:MAX_FIELDS]:
        rows.append((f"  {name}", value))
    if len(fields) > MAX_FIELDS:
        rows.append(("", f"(and {len(fields) - MAX_FIELDS} more fields)"))
    return rows
