"""Client sessions that sign: a transaction, an EIP-191 message, EIP-712 typed data (P1 gets the
DER signature)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpcwallet.engine import Role
from mpcwallet.errors import (
    BadInput,
    ProtocolViolation,
)
from mpcwallet.session.channel import Channel

if TYPE_CHECKING:
    from mpcwallet.storage.body import ShareBody
from mpcwallet.session.client_core import (
    _expect,
    _run_key_session,
    _share_engine_and_key,
)

# --- sign ------------------------------------------------------------------------------------


def run_sign(
    endpoint: str | None,
    *,
    share_header: Mapping[str, Any],
    body: ShareBody,
    tx_json: Mapping[str, Any],
    digest: bytes,
    account: int = 0,
    timeout: float | None = None,
    permits: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """Sign ``digest`` (the signing digest of ``tx_json``) with the co-signer; DER on return.

    The co-signer recomputes the digest from ``tx_json`` and refuses a mismatch, and refuses a
    ``from`` that is not the address of ``account`` (:class:`PolicyRefused`). A
    :class:`ProtocolViolation` is raised unchanged.
    """
    request: dict[str, Any] = {"op": "sign", "tx": dict(tx_json)}
    if permits:
        request["permits"] = [dict(p) for p in permits]
    return run_sign_request(endpoint, share_header, body, request, digest, account, timeout)


def run_sign_message(
    endpoint: str | None,
    *,
    share_header: Mapping[str, Any],
    body: ShareBody,
    message: bytes,
    digest: bytes,
    account: int = 0,
    timeout: float | None = None,
    permits: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """Sign an EIP-191 personal_sign message; the co-signer gets the message and hashes it."""
    request: dict[str, Any] = {"op": "sign_message", "message": message.hex()}
    if permits:
        request["permits"] = [dict(p) for p in permits]
    return run_sign_request(endpoint, share_header, body, request, digest, account, timeout)


def run_sign_typed_data(
    endpoint: str | None,
    *,
    share_header: Mapping[str, Any],
    body: ShareBody,
    typed_data: Mapping[str, Any],
    digest: bytes,
    chain_id: int | None = None,
    account: int = 0,
    timeout: float | None = None,
    permits: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """Sign EIP-712 typed data; the co-signer gets the document and hashes it (and refuses a
    domain chainId other than ``chain_id`` when given)."""
    request: dict[str, Any] = {"op": "sign_typed_data", "typed_data": dict(typed_data)}
    if permits:
        request["permits"] = [dict(p) for p in permits]
    if chain_id is not None:
        request["chain_id"] = chain_id
    return run_sign_request(endpoint, share_header, body, request, digest, account, timeout)


def run_sign_request(
    endpoint: str | None,
    share_header: Mapping[str, Any],
    body: ShareBody,
    request: Mapping[str, Any],
    digest: bytes,
    account: int,
    timeout: float | None,
) -> bytes:
    """One two-party signature of ``digest`` under ``request`` (a sign op with the content the
    co-signer hashes itself); DER on return."""
    from mpcwallet.engine.base import check_account

    engine, key_id = _share_engine_and_key(share_header)
    check_account(account)
    if len(digest) != 32:
        raise BadInput("the digest must be 32 bytes", field="digest")
    doc = {**request, "key_id": key_id, "account": account, "digest": digest.hex()}

    async def run(ch: Channel) -> bytes:
        await ch.send_control(doc)
        _expect(await ch.recv_control(), "accepted")
        der = await ch.run_engine(
            Role.P1, ch.party_names, lambda job: engine.sign(job, body.key_blob, digest, account)
        )
        if der is None:
            raise ProtocolViolation("the engine returned no signature on P1")
        _expect(await ch.recv_control(), "done")
        return der

    return _run_key_session(endpoint, body, engine, key_id, timeout, run)
