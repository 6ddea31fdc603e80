"""Sign a message (EIP-191 personal_sign) or typed data (EIP-712 v4) with the co-signer.

Both send what is signed (the message, the typed-data document) to the co-signer, which hashes
it itself and refuses a digest other than its own; both return
``{signature (r||s||v, 65 bytes), r, s, v (27/28), hash, address, account}``.
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
    request: Request,
    keys: Keyring,
    ui: Ui,
) -> dict[str, Any]:
    """The steps every signed message shares: account key from the header, digest, share,
    two-party signature (a violation quarantines the key), 65-byte signature."""
    from mpcwallet.accounts import account_key
    from mpcwallet.evm.signature import message_signature
    from mpcwallet.lifecycle.quarantine import ensure_not_quarantined
    from mpcwallet.storage.store import load_header
    from mpcwallet.wallet.sign import check_account_key, endpoint, quarantine_on_violation

    ensure_not_quarantined(share)
    header = load_header(share)
    public_key, _ = account_key(header, share, account)
    digest = digest_of()
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
    return {**message_signature(digest, der, public_key), "account": account}


def sign_message(
    message: bytes,
    *,
    share: Path,
    account: int = 0,
    permits: list[dict[str, Any]] | None = None,
    keys: Keyring,
    ui: Ui,
) -> dict[str, Any]:
    """Sign ``message`` as personal_sign does (EIP-191 version 0x45)."""
    from mpcwallet.evm.eip191 import check_message, message_digest
    from mpcwallet.session.client import run_sign_message

    raw = check_message(message)

    return _sign_digest(
        share=share,
        account=account,
        digest_of=lambda: message_digest(raw),
        request=partial(run_sign_message, message=raw, permits=permits or []),
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
    keys: Keyring,
    ui: Ui,
) -> dict[str, Any]:
    """Sign EIP-712 typed data as eth_signTypedData_v4 does. ``chain_id``: refuse the document
    unless its domain has this chainId."""
    from mpcwallet.evm import eip712
    from mpcwallet.session.client import run_sign_typed_data

    td = (
        document
        if isinstance(document, eip712.TypedData)
        else eip712.parse(document, expected_chain_id=chain_id)
    )

    return _sign_digest(
        share=share,
        account=account,
        digest_of=lambda: eip712.digest(td),
        request=partial(
            run_sign_typed_data, typed_data=td.document, chain_id=chain_id, permits=permits or []
        ),
        keys=keys,
        ui=ui,
    )
