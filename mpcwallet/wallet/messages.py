"""Sign a message (EIP-191 personal_sign) or typed data (EIP-712 v4) with the co-signer.

Both show what is about to be signed through ``Ui.review`` first (the message text, or the
typed data's domain, primary type and fields, and the chain: the same review as a transaction,
with the same ``yes``), then send it to the co-signer, which hashes it itself and refuses a
digest other than its own; both return
``{signature (r||s||v, 65 bytes), r, s, v (27/28), hash, address, account, preview}``.

Typed data whose domain names a chain other than the wallet's (:func:`mpcwallet.config.chain_id`)
is refused (``chain_id_mismatch``) unless the caller names that chain on purpose (``chain_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpcwallet.evm.eip712 import TypedData
    from mpcwallet.wallet.ports import Keyring, Ui

# the co-signer request: request(endpoint, share_header=, body=, digest=, account=) -> DER
Request = Callable[..., bytes]


def _sign_digest(
    *,
    share: Path,
    account: int,
    digest_of: Callable[[], bytes],
    preview_of: Callable[[str, str | None], dict[str, Any]],
    request: Request,
    yes: bool,
    keys: Keyring,
    ui: Ui,
) -> dict[str, Any]:
    """The steps every signed message shares: account key from the header, digest, the review
    (``preview_of(address, key name)``), share, two-party signature (a violation quarantines
    the key), 65-byte signature."""
    from mpcwallet.accounts import account_key
    from mpcwallet.evm.signature import message_signature
    from mpcwallet.lifecycle.quarantine import ensure_not_quarantined
    from mpcwallet.storage.store import load_header
    from mpcwallet.wallet.sign import check_account_key, endpoint, quarantine_on_violation

    ensure_not_quarantined(share)
    header = load_header(share)
    public_key, address = account_key(header, share, account)
    digest = digest_of()
    name = header.get("name")
    preview = preview_of(address, name if isinstance(name, str) else None)
    preview["confirmed"] = ui.review(preview, yes=yes)
    passphrase = keys.passphrase(share)
    header, body = keys.open(share, passphrase)
    del passphrase
    check_account_key(header, body, share, account, public_key)

    def run() -> bytes:
        with ui.step("signing with the co-signer"):
            return request(
                endpoint(), share_header=header, body=body, digest=digest, account=account
            )

    der = quarantine_on_violation(share, header, run)
    return {**message_signature(digest, der, public_key), "account": account, "preview": preview}


def sign_message(
    message: bytes,
    *,
    share: Path,
    account: int = 0,
    permits: list[dict[str, Any]] | None = None,
    yes: bool = False,
    keys: Keyring,
    ui: Ui,
) -> dict[str, Any]:
    """Sign ``message`` as personal_sign does (EIP-191 version 0x45)."""
    from mpcwallet.evm.eip191 import check_message, message_digest
    from mpcwallet.evm.message_preview import message_preview
    from mpcwallet.session.client import run_sign_message

    raw = check_message(message)

    return _sign_digest(
        share=share,
        account=account,
        digest_of=lambda: message_digest(raw),
        preview_of=lambda sender, name: message_preview(
            raw, sender=sender, key_name=name, account=account
        ),
        request=partial(run_sign_message, message=raw, permits=permits or []),
        yes=yes,
        keys=keys,
        ui=ui,
    )


def sign_typed_data(
    document: dict[str, Any] | TypedData,
    *,
    chain_id: int | None = None,
    share: Path,
    account: int = 0,
    permits: list[dict[str, Any]] | None = None,
    yes: bool = False,
    keys: Keyring,
    ui: Ui,
) -> dict[str, Any]:
    """Sign EIP-712 typed data as eth_signTypedData_v4 does. ``chain_id``: refuse the document
    unless its domain has this chainId (and accept that chain on purpose when it is not the
    wallet's)."""
    from mpcwallet.evm import eip712
    from mpcwallet.evm.message_preview import typed_data_preview
    from mpcwallet.session.client import run_sign_typed_data

    td = eip712.parse(
        document.document if isinstance(document, eip712.TypedData) else document,
        expected_chain_id=chain_id,
    )
    domain_chain = check_typed_data_chain(td, chain_id)

    return _sign_digest(
        share=share,
        account=account,
        digest_of=lambda: eip712.digest(td),
        preview_of=lambda sender, name: typed_data_preview(
            td, sender=sender, key_name=name, account=account, chain_id=domain_chain
        ),
        request=partial(
            run_sign_typed_data, typed_data=td.document, chain_id=chain_id, permits=permits or []
        ),
        yes=yes,
        keys=keys,
        ui=ui,
    )


def check_typed_data_chain(td: TypedData, chain_id: int | None) -> int | None:
    """The domain's chainId (None if it has none); refused when it is not the wallet's chain
    and ``chain_id`` (already checked equal to it by ``eip712.parse``) does not name it."""
    from mpcwallet.config import chain_id as wallet_chain
    from mpcwallet.errors import ChainIdMismatch
    from mpcwallet.evm.eip712 import domain_chain_id
    from mpcwallet.evm.preview import chain_name

    got = domain_chain_id(td)
    if got is None or chain_id is not None:
        return got
    ours = wallet_chain()
    if got != ours:
        raise ChainIdMismatch(
            f"typed data: domain.chainId is {got} ({chain_name(got)}) but this wallet is set up "
            f"for chain {ours} ({chain_name(ours)}, MPC_CHAIN_ID); nothing was signed. To sign "
            f"for chain {got} on purpose, pass --chain-id {got}",
            field="domain.chainId",
        )
    return got
