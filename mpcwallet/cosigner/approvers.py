"""Approver keys (Ed25519) and the co-signer's registry of them.

An approver's private key lives in a storage envelope like a share (Argon2id +
ChaCha20-Poly1305, ``MPC_HOME/approvers/<name>.enc``, header ``{"kind": "approver", "name",
"public_key"}``); the co-signer knows only public keys, registered in its guard database.
Registry changes are audited.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mpcwallet.cosigner import logs
from mpcwallet.cosigner.audit import AuditTrail, attach
from mpcwallet.cosigner.ledger import Ledger
from mpcwallet.cosigner.permits import check_public_key, new_approver_key
from mpcwallet.errors import BadInput, FileFormatError
from mpcwallet.homes.paths import CosignerPaths

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
KIND = "approver"


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise BadInput("an approver name is 1..64 letters, digits, '.', '_' or '-'", field="name")
    return name


def create_key_file(path: Path, name: str, passphrase: str, *, force: bool = False) -> str:
    """Write a new encrypted approver key; returns its public key (hex)."""
    from mpcwallet.storage.envelope import encrypt_share
    from mpcwallet.storage.files import write_atomic

    check_name(name)
    seed, public_key = new_approver_key()
    header = {"kind": KIND, "name": name, "public_key": public_key}
    write_atomic(path, encrypt_share(seed, header, passphrase), force=force)
    return public_key


def load_key_file(path: Path, passphrase: str) -> tuple[dict[str, Any], bytes]:
    """``(header, private seed)`` of an approver key file."""
    from mpcwallet.storage.envelope import decrypt_share
    from mpcwallet.storage.files import read_share_file

    data = read_share_file(path, what="approver key file")
    header, seed = decrypt_share(data, passphrase)
    if header.get("kind") != KIND or len(seed) != 32:
        raise FileFormatError(f"{path}: not an approver key (make one with `mpc approver new`)")
    return header, seed


def _open(home: Path) -> tuple[Ledger, AuditTrail]:
    trail = attach(home)
    return Ledger(CosignerPaths.for_home(home).guard_db), trail


def register(home: Path, name: str, public_key: str) -> str:
    ledger, _ = _open(home)
    key = check_public_key(public_key)
    ledger.add_approver(check_name(name), key)
    logs.audit("approver_added", f"approver {name} registered", name=name, public_key=key)
    return key


def unregister(home: Path, name: str) -> str:
    ledger, _ = _open(home)
    key = ledger.remove_approver(name)
    logs.audit("approver_removed", f"approver {name} removed", name=name, public_key=key)
    return key


def registered(home: Path) -> list[dict[str, Any]]:
    return Ledger(CosignerPaths.for_home(home).guard_db).approvers()
