"""The co-signer's key-encryption key: derived once at unlock from its passphrase.

``MPC_HOME/cosigner/keyring.enc`` is a storage envelope (Argon2id salt + params in its clear
part) around a fixed verifier body. At first start it is created with fresh params; at every
later start the passphrase is checked against it (:class:`WrongPassphrase`) and the derived key
is kept in memory for encrypting and decrypting the co-signer's shares.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from mpcwallet.errors import TamperedFile, WrongPassphrase
from mpcwallet.storage import envelope
from mpcwallet.storage.files import write_atomic

_VERIFIER = b"mpcwallet cosigner keyring v1"
_HEADER = {"kind": "cosigner-keyring", "version": 1}


def unlock_existing(path: Path, passphrase: str) -> envelope.DerivedKey:
    """The KEK of an existing keyring; :class:`NotFound` if this home has none."""
    if not path.exists():
        from mpcwallet.errors import NotFound

        raise NotFound(
            f"no co-signer keyring at {path}: the co-signer has never started on this MPC_HOME",
            field="MPC_HOME",
        )
    return unlock(path, passphrase)


def unlock(path: Path, passphrase: str) -> envelope.DerivedKey:
    """The KEK; creates the keyring on first use. Wrong passphrase: :class:`WrongPassphrase`."""
    if not path.exists():
        key = envelope.derive_key(passphrase, envelope.KdfParams.fresh("share"))
        write_atomic(path, envelope.encrypt_share_with_key(_VERIFIER, _HEADER, key))
        return key
    data = path.read_bytes()
    key = envelope.derive_key(passphrase, envelope.read_kdf_params(data))
    try:
        header, body = envelope.decrypt_share_with_key(data, key)
    except WrongPassphrase as err:  # say which file, so a forgotten MPC_HOME shows
        raise WrongPassphrase(f"{path}: {err.message}", field=err.field) from None
    if header.get("kind") != _HEADER["kind"] or not hmac.compare_digest(body, _VERIFIER):
        raise TamperedFile(f"{path} is not a co-signer keyring")
    return key
