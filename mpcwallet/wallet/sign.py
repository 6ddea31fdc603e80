"""Prepare and sign an EVM transaction with the co-signer.

A transaction -> (fill nonce/gas/fees from the node when an endpoint is given) -> the sender
check -> the preview and its review -> the client share -> two-party signing with the co-signer
(which recomputes the digest from the transaction itself) -> low-s, recovery id, raw tx,
decode-and-recover check.

Kept light: without an RPC endpoint this path imports neither web3 nor eth-account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mpcwallet.errors import AuthFailed, BadInput, ProtocolViolation, TamperedFile

if TYPE_CHECKING:
    from mpcwallet.evm.signature import SignedTx
    from mpcwallet.evm.txjson import UnsignedTx
    from mpcwallet.storage.body import ShareBody
    from mpcwallet.wallet.ports import Keyring, Ui

T = TypeVar("T")


@dataclass(frozen=True)
class Prepared:
    """A complete transaction, its signing digest, and the account that will sign it."""

    tx: UnsignedTx
    digest: bytes
    sender: str  # EIP-55
    account: int
    filled: dict[str, Any]  # what the node filled in (name -> value)
    header: dict[str, Any]  # the share's public header, as read for this preparation
    public_key: bytes  # the account's key (SEC1 compressed)


@dataclass(frozen=True)
class TxSignature:
    tx: UnsignedTx
    signed: SignedTx
    account: int
    preview: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {**self.signed.to_json(), "account": self.account, "preview": self.preview}


def endpoint() -> str:
    """The co-signer endpoint: MPC_COSIGNER_URL, else the running daemon's state file."""
    from mpcwallet.session.client import resolve_endpoint

    return resolve_endpoint()


def check_account_key(
    header: dict[str, Any], body: ShareBody, path: Path, account: int, expected: bytes
) -> None:
    """The account key derived from the (authenticated) key blob is the one the header gave."""
    from mpcwallet.engine import get_engine

    engine = get_engine(str(header.get("engine")))
    if engine.account_public_key(body.key_blob, account) != expected:
        raise TamperedFile(
            f"{path}: the header's public key or chain code does not match the key share"
        )


def quarantine_on_violation(path: Path, header: dict[str, Any], run: Callable[[], T]) -> T:
    """``run()``; a protocol violation quarantines the key (Lindell 2017 §1.2/§4: never retry)."""
    from mpcwallet.lifecycle.quarantine import ensure_can_quarantine, quarantine_violation
    from mpcwallet.lifecycle.refresh import check_not_stale

    key_id = header.get("key_id") if isinstance(header.get("key_id"), str) else None
    ensure_can_quarantine(path, key_id)  # no session unless a violation can be recorded
    try:
        return run()
    except ProtocolViolation as err:
        session_id = getattr(err, "session_id", None)
        # Same class, so the code the user sees is the one recorded in the quarantine file.
        raise quarantine_violation(
            path, err, key_id=key_id, session_id=session_id if isinstance(session_id, str) else None
        ) from None
    except AuthFailed:
        check_not_stale(path, header, endpoint())  # a refresh elsewhere explains it
        raise


def complete(
    tx: UnsignedTx,
    *,
    sender: bytes,
    rpc_url: str | None,
    retry_seconds: float | None,
    ui: Ui,
    source: str,
) -> tuple[UnsignedTx, dict[str, Any]]:
    """``tx`` completed from the node (what was filled is told through ``ui.info``), or, without
    an endpoint, ``tx`` itself if nothing is missing."""
    from mpcwallet.evm.endpoint import resolve_rpc_url
    from mpcwallet.evm.txjson import missing_fields
    from mpcwallet.wallet.rpc import rpc_client

    url = resolve_rpc_url(rpc_url)
    if url is None:
        missing = missing_fields(tx)
        if missing:
            raise BadInput(
                f"{source}: missing {', '.join(missing)}; set them in tx.json, or give an RPC "
                "endpoint (--rpc-url, MPC_RPC_URL or ETH_RPC_URL) to fill them",
                field=missing[0],
            )
        return tx, {}
    client = rpc_client(url, retry_seconds, ui)
    with ui.step(f"asking {client.display_url} for what tx.json leaves out"):
        tx, filled = client.fill(tx, sender)
    for name, value in filled.items():
        ui.info(f"filled from {client.display_url}: {name} = {value}")
    return tx, filled


def prepare_transaction(
    tx: UnsignedTx | Callable[[], UnsignedTx],
    *,
    share: Path,
    account: int = 0,
    rpc_url: str | None = None,
    retry_seconds: float | None = None,
    ui: Ui,
    source: str = "tx",
) -> Prepared:
    """The transaction ready to sign: completed, its sender checked, its digest computed.

    ``tx`` may be a loader (the CLI reads tx.json only after the key and account are known to
    be usable); ``source`` names where it came from in messages (the tx.json path, or "tx")."""
    from mpcwallet.accounts import account_key
    from mpcwallet.evm.address import parse_address, to_checksum
    from mpcwallet.evm.txjson import signing_digest
    from mpcwallet.lifecycle.quarantine import ensure_not_quarantined
    from mpcwallet.storage.store import load_header

    ensure_not_quarantined(share)
    header = load_header(share)
    public_key, address = account_key(header, share, account)
    sender = parse_address(address, "address")
    if callable(tx):
        tx = tx()
    tx, filled = complete(
        tx, sender=sender, rpc_url=rpc_url, retry_seconds=retry_seconds, ui=ui, source=source
    )
    if tx.sender is not None and tx.sender != sender:
        raise BadInput(
            f"{source}: from is {to_checksum(tx.sender)}, but account {account} of {share} is "
            f"{to_checksum(sender)}; use the matching --share or --account, or remove 'from'",
            field="from",
        )
    return Prepared(
        tx, signing_digest(tx), to_checksum(sender), account, filled, header, public_key
    )


def sign_transaction(
    tx: UnsignedTx | Callable[[], UnsignedTx],
    *,
    share: Path,
    account: int = 0,
    permits: list[dict[str, Any]] | None = None,
    rpc_url: str | None = None,
    retry_seconds: float | None = None,
    yes: bool = False,
    source: str = "tx",
    keys: Keyring,
    ui: Ui,
    guard: Callable[[UnsignedTx, str], None] | None = None,
) -> TxSignature:
    """Prepare ``tx``, show it for review, and sign it with the co-signer.

    ``guard`` sees the complete transaction and its sender before anything is shown or signed
    (``send`` checks the nonce against the chain; by default a nonce that belongs to a pending
    transaction of this home is refused, see :func:`mpcwallet.wallet.send.guard_pending_nonce`).
    """
    from mpcwallet.evm.signature import assemble
    from mpcwallet.lifecycle.refresh import settle_for_use
    from mpcwallet.session.client import run_sign

    prepared = prepare_transaction(
        tx,
        share=share,
        account=account,
        rpc_url=rpc_url,
        retry_seconds=retry_seconds,
        ui=ui,
        source=source,
    )
    if guard is None:
        from mpcwallet.wallet.send import guard_pending_nonce

        guard = guard_pending_nonce
    guard(prepared.tx, prepared.sender)
    public_key = prepared.public_key
    shown = _preflight(prepared, rpc_url, retry_seconds, yes, ui)
    if keys.prompts():
        from mpcwallet.session.endpoint import fetch_healthz

        fetch_healthz(endpoint())  # PeerUnreachable now, before a passphrase is typed
    passphrase = keys.passphrase(share, verify=True)
    settled = settle_for_use(share, endpoint(), passphrase)
    if settled is not None:
        ui.warn(settled.message)
    header, body = keys.open(share, passphrase)
    del passphrase
    check_account_key(header, body, share, account, public_key)

    def run() -> SignedTx:
        with ui.step("signing with the co-signer"):
            der = run_sign(
                endpoint(),
                share_header=header,
                body=body,
                tx_json=prepared.tx.to_json(),
                digest=prepared.digest,
                account=account,
                permits=permits or [],
            )
        return assemble(prepared.tx, der, public_key)

    signed = quarantine_on_violation(share, header, run)
    return TxSignature(prepared.tx, signed, account, shown)


def _preflight(
    prepared: Prepared,
    rpc_url: str | None,
    retry_seconds: float | None,
    yes: bool,
    ui: Ui,
) -> dict[str, Any]:
    """See what you sign (wallet/preview.py): preview, early checks, review."""
    from mpcwallet.evm.endpoint import resolve_rpc_url
    from mpcwallet.wallet.preview import preflight
    from mpcwallet.wallet.rpc import rpc_client

    url = resolve_rpc_url(rpc_url)
    name = prepared.header.get("name")
    return preflight(
        prepared.tx,
        sender=prepared.sender,
        key_name=name if isinstance(name, str) else None,
        account=prepared.account,
        client=rpc_client(url, retry_seconds, ui) if url is not None else None,
        yes=yes,
        ui=ui,
    )
