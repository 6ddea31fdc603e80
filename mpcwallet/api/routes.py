"""The API's routes: for each, its request and response model and the wallet call it makes.

Each ``_name(req, ctx)`` turns a validated request into plain arguments for one function of
:mod:`mpcwallet.wallet`, and its result (a dict or typed result) into the response model's
fields. Nothing else happens here: no use case is written twice.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mpcwallet.api import models as m
from mpcwallet.api.ports import LogUi, MemoryKeyring
from mpcwallet.errors import BadInput, NotFound

KEYGEN_SESSION_TTL = 600


@dataclass
class Context:
    """What every use case of the server shares: the keyring and a Ui."""

    keyring: MemoryKeyring
    ui: LogUi = field(default_factory=LogUi)
    keygens: dict[str, tuple[float, str, str | None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    request: type[m.Request] | None
    response: type[BaseModel]
    run: Callable[[Any, Context], dict[str, Any]]
    idempotent: bool = False  # accepts Idempotency-Key
    blocking: bool = True  # runs in the worker pool


def _share(key: str | None) -> Path:
    from mpcwallet.wallet.shares import find_share

    return find_share(None, key)


def _healthz(_req: None, ctx: Context) -> dict[str, Any]:
    """ok only while the co-signer answers: without it nothing can be signed."""
    from mpcwallet.wallet.health import cosigner_state

    cosigner = cosigner_state()
    status = "ok" if cosigner["state"] == "ok" else "degraded"
    return {"status": status, "keys": len(ctx.keyring.paths), "cosigner": cosigner}


# wei amounts in a tx.json object: decimal strings in answers (JavaScript's numbers lose
# precision above 2^53 wei, 0.009 ETH)
_TX_AMOUNTS = ("value", "maxFeePerGas", "maxPriorityFeePerGas", "gasPrice")


def _amounts_as_strings(
    obj: dict[str, Any], names: tuple[str, ...] = _TX_AMOUNTS
) -> dict[str, Any]:
    return {k: str(v) if k in names and isinstance(v, int) else v for k, v in obj.items()}


def _keygen_init(req: m.KeygenInitRequest, ctx: Context) -> dict[str, Any]:
    from mpcwallet.wallet.keygen import check_keygen

    target, engine = check_keygen(name=req.name, out=None, engine=req.engine)
    session_id = secrets.token_hex(16)
    now = time.monotonic()
    with ctx.lock:
        for sid, (created, _, _) in list(ctx.keygens.items()):
            if now - created > KEYGEN_SESSION_TTL:
                del ctx.keygens[sid]
        ctx.keygens[session_id] = (now, req.name, engine)
    return {
        "session_id": session_id,
        "name": req.name,
        "engine": engine,
        "share": str(target),
        "expires_in": KEYGEN_SESSION_TTL,
    }


def _keygen_complete(req: m.KeygenCompleteRequest, ctx: Context) -> dict[str, Any]:
    from mpcwallet.wallet.keygen import keygen

    with ctx.lock:
        entry = ctx.keygens.pop(req.session_id, None)
    if entry is None or time.monotonic() - entry[0] > KEYGEN_SESSION_TTL:
        raise NotFound(
            "session_id: no such keygen session (unknown, used or expired); start again with "
            "POST /keygen/init",
            field="session_id",
        )
    _, name, engine = entry
    result = keygen(
        name=name, out=None, engine=engine, passphrase=ctx.keyring.new_share_passphrase(), ui=ctx.ui
    )
    ctx.keyring.unlock(Path(result["share"]))
    return result


def _address(req: m.AddressRequest, ctx: Context) -> dict[str, Any]:
    from mpcwallet.wallet.shares import share_summary

    return share_summary(_share(req.key), req.account)


def _accounts(req: m.AccountsRequest, ctx: Context) -> dict[str, Any]:
    from mpcwallet.wallet.shares import addresses, share_summary

    path = _share(req.key)
    end = min(req.start + req.count, m.ACCOUNT_MAX + 1)
    return {
        "key_id": share_summary(path)["key_id"],
        "addresses": addresses(path, range(req.start, end)),
    }


def _tx(req: m.TxRequest) -> Any:
    from mpcwallet.evm.txjson import parse_tx

    return parse_tx(req.tx)


def _tx_prepare(req: m.TxRequest, ctx: Context) -> dict[str, Any]:
    from mpcwallet.wallet.sign import prepare_transaction

    prepared = prepare_transaction(
        _tx(req), share=_share(req.key), account=req.account, rpc_url=req.rpc_url, ui=ctx.ui
    )
    return {
        "tx_hash": "0x" + prepared.digest.hex(),
        "from": prepared.sender,
        "account": req.account,
        "tx": _amounts_as_strings(prepared.tx.to_json()),
        "filled": _amounts_as_strings(prepared.filled),
    }


def _tx_sign(req: m.TxSignRequest, ctx: Context) -> dict[str, Any]:
    from mpcwallet.wallet.sign import sign_transaction

    result = sign_transaction(
        _tx(req),
        share=_share(req.key),
        account=req.account,
        permits=req.permits,
        rpc_url=req.rpc_url,
        yes=True,
        keys=ctx.keyring,
        ui=ctx.ui,
    )
    return {**result.signed.to_json(), "account": result.account, "preview": result.preview}


def _tx_send(req: m.TxSendRequest, ctx: Context) -> dict[str, Any]:
    from mpcwallet.wallet.send import send_transaction

    data = send_transaction(
        _tx(req),
        share=_share(req.key),
        account=req.account,
        permits=req.permits,
        rpc_url=req.rpc_url,
        wait=req.wait,
        confirmations=req.confirmations,
        receipt_timeout=req.receipt_timeout,
        yes=True,
        keys=ctx.keyring,
        ui=ctx.ui,
    )
    data["value"] = str(data["value"])
    if isinstance(data.get("receipt"), dict):
        data["receipt"] = _amounts_as_strings(data["receipt"], ("effective_gas_price",))
    return data


def _message_sign(req: m.MessageSignRequest, ctx: Context) -> dict[str, Any]:
    from mpcwallet.wallet.messages import sign_message

    if req.encoding == "hex":
        text = req.message.removeprefix("0x")
        try:
            message = bytes.fromhex(text)
        except ValueError:
            raise BadInput(
                "message: not hex bytes (give 0x followed by hex digits)", field="message"
            ) from None
    else:
        message = req.message.encode("utf-8")
    return sign_message(
        message,
        share=_share(req.key),
        account=req.account,
        permits=req.permits,
        keys=ctx.keyring,
        ui=ctx.ui,
    )


def _typed_data_sign(req: m.TypedDataSignRequest, ctx: Context) -> dict[str, Any]:
    from mpcwallet.wallet.messages import sign_typed_data

    return sign_typed_data(
        req.document,
        chain_id=req.chain_id,
        share=_share(req.key),
        account=req.account,
        permits=req.permits,
        keys=ctx.keyring,
        ui=ctx.ui,
    )


def _refresh(req: m.RefreshRequest, ctx: Context) -> dict[str, Any]:
    from mpcwallet.wallet.refresh import refresh

    return refresh(_share(req.key), keys=ctx.keyring, ui=ctx.ui)


ROUTES: tuple[Route, ...] = (
    Route(
        "GET", "/healthz", "Liveness, and whether the co-signer answers", None, m.Health, _healthz
    ),
    Route(
        "POST",
        "/keygen/init",
        "Check a new key's name and engine; a session id for /keygen/complete",
        m.KeygenInitRequest,
        m.KeygenInitResponse,
        _keygen_init,
    ),
    Route(
        "POST",
        "/keygen/complete",
        "Generate the key with the co-signer (two-party DKG)",
        m.KeygenCompleteRequest,
        m.KeygenCompleteResponse,
        _keygen_complete,
    ),
    Route(
        "POST", "/address", "An account's address", m.AddressRequest, m.AddressResponse, _address
    ),
    Route(
        "POST",
        "/accounts",
        "Addresses of a range of accounts",
        m.AccountsRequest,
        m.AccountsResponse,
        _accounts,
    ),
    Route(
        "POST",
        "/tx/prepare",
        "Complete a transaction from the node; its signing hash",
        m.TxRequest,
        m.TxPrepareResponse,
        _tx_prepare,
    ),
    Route(
        "POST",
        "/tx/sign",
        "Sign a transaction with the co-signer",
        m.TxSignRequest,
        m.TxSignResponse,
        _tx_sign,
        idempotent=True,
    ),
    Route(
        "POST",
        "/tx/send",
        "Sign and broadcast a transaction",
        m.TxSendRequest,
        m.TxSendResponse,
        _tx_send,
        idempotent=True,
    ),
    Route(
        "POST",
        "/message/sign",
        "Sign a message (EIP-191 personal_sign)",
        m.MessageSignRequest,
        m.MessageSignResponse,
        _message_sign,
        idempotent=True,
    ),
    Route(
        "POST",
        "/typed-data/sign",
        "Sign EIP-712 typed data (v4)",
        m.TypedDataSignRequest,
        m.MessageSignResponse,
        _typed_data_sign,
        idempotent=True,
    ),
    Route(
        "POST",
        "/refresh",
        "Refresh both shares of a key (same address)",
        m.RefreshRequest,
        m.RefreshResponse,
        _refresh,
    ),
)
