"""A node's static Noise key: made once, kept encrypted at rest, loaded at node start.

The file is the storage envelope every share uses (:mod:`mpcwallet.storage.envelope`: Argon2id
and ChaCha20-Poly1305, the header authenticated as associated data) around the 32-byte X25519
private key, written atomically with mode 0600. The header is public: kind, the node's party
name, its public key and the key's fingerprint (what an operator compares when pinning it).
"""

from __future__ import annotations

import time
from pathlib import Path

from mpcwallet.errors import FileFormatError, InconsistentShare, MpcError
from mpcwallet.session.node_keys import StaticKeypair, check_name
from mpcwallet.storage.envelope import KdfParams, decrypt_share, encrypt_share
from mpcwallet.storage.files import read_share_file, write_atomic
from mpcwallet.topology.config import key_fingerprint

__all__ = ["KIND", "create_node_key", "load_node_key"]

KIND = "mpc-node-static-key"


def create_node_key(
    path: Path,
    name: str,
    passphrase: str | bytes,
    *,
    params: KdfParams | None = None,
    force: bool = False,
) -> StaticKeypair:
    """Generate node ``name``'s static key and write it encrypted to ``path``."""
    check_name(name, "name")
    keypair = StaticKeypair.generate()
    header = {
        "kind": KIND,
        "name": name,
        "public_key": keypair.public.hex(),
        "fingerprint": key_fingerprint(keypair.public),
        "created_at": int(time.time()),
    }
    data = encrypt_share(keypair.private_bytes(), header, passphrase, params=params)
    write_atomic(Path(path), data, force=force)
    return keypair


def load_node_key(path: Path, passphrase: str | bytes) -> tuple[str, StaticKeypair]:
    """``(name, keypair)`` from a node key file. WrongPassphrase, TamperedFile, FileFormatError
    (not a node key) and InconsistentShare (the key does not match its header) name the file."""
    path = Path(path)
    data = read_share_file(path, what="node key file")
    try:
        header, body = decrypt_share(data, passphrase)
    except MpcError as err:  # WrongPassphrase, TamperedFile, FileFormatError: name the file
        raise type(err)(f"{path}: {err.message}", field=err.field) from None
    if header.get("kind") != KIND:
        raise FileFormatError(f"{path} is not a node key file (kind {header.get('kind')!r})")
    if len(body) != 32:
        raise FileFormatError(f"{path}: the node key has the wrong length", field="body")
    keypair = StaticKeypair(body)
    if keypair.public.hex() != header.get("public_key"):
        raise InconsistentShare(f"{path}: the key does not match the public key in its header")
    name = header.get("name")
    check_name(name if isinstance(name, str) else "", "name")
    return str(name), keypair
