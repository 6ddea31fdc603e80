"""A signer node's state on disk (the daemon's cluster-node role), under ``MPC_HOME/cosigner/node``.

- ``cluster.json``: the cluster configuration (public; :mod:`mpcwallet.topology.config`).
- ``node.key``: this node's name and static X25519 key, in the storage envelope under the KEK.
- ``shares/<keyset_id>.enc``: its multi-party key shares, in the same envelope under the KEK
  (Argon2id-derived key, ChaCha20-Poly1305, header as associated data); ``.pending`` until the
  coordinator's commit (two-phase keygen and refresh). A share is decrypted only for one
  protocol call.
- ``permits.used``: the nonces of every permit this node accepted (single use, its own record).
- ``quarantine.json``: peers this node proved to have sent a message that failed a cb-mpc check;
  it refuses sessions with them until an operator clears them.

The KEK comes from a :class:`KekProvider`: the passphrase (the co-signer's keyring) by default.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mpcwallet.cosigner import keyring
from mpcwallet.errors import BadInput, NotFound, PermitReplayed
from mpcwallet.session.node_keys import StaticKeypair
from mpcwallet.storage import envelope
from mpcwallet.storage.files import ensure_dir, publish, write_atomic
from mpcwallet.topology.config import ClusterConfig, check_own_key, load_config

MAX_PERMIT_STARTS = 3
KEYSET_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEY_HEADER = {"kind": "cluster-node-key", "version": 1}


class KekProvider(Protocol):
    """Where a node's key-encryption key comes from. The passphrase provider is the default; a
    secret-store provider (Vault / OpenBao transit) implements the same call."""

    def unlock(self, keyring_file: Path) -> envelope.DerivedKey: ...


@dataclass(frozen=True)
class PassphraseKek:
    passphrase: str

    def __repr__(self) -> str:
        return "PassphraseKek(***)"

    def unlock(self, keyring_file: Path) -> envelope.DerivedKey:
        return keyring.unlock(keyring_file, self.passphrase)


def node_dir(cosigner_root: Path) -> Path:
    return cosigner_root / "node"


def is_node(cosigner_root: Path) -> bool:
    d = node_dir(cosigner_root)
    return (d / "cluster.json").exists() and (d / "node.key").exists()


def create_identity(cosigner_root: Path, name: str, kek: envelope.DerivedKey) -> bytes:
    """A fresh static key for node ``name``, encrypted under the KEK; its public key."""
    d = node_dir(cosigner_root)
    ensure_dir(d)
    pair = StaticKeypair.generate()
    header = {**_KEY_HEADER, "name": name, "public_key": pair.public.hex()}
    write_atomic(d / "node.key", envelope.encrypt_share_with_key(pair.private_bytes(), header, kek))
    return pair.public


def _valid_keyset(keyset_id: str) -> str:
    if not isinstance(keyset_id, str) or not KEYSET_RE.match(keyset_id):
        raise BadInput("keyset_id must be 1-64 letters, digits, '-' or '_'", field="keyset_id")
    return keyset_id


class NodeState:
    """The node's identity, configuration, shares and records; one per daemon."""

    def __init__(self, cosigner_root: Path, kek: envelope.DerivedKey) -> None:
        self.dir = node_dir(cosigner_root)
        self._kek = kek
        self.config: ClusterConfig = load_config(self.dir / "cluster.json")
        header, private = envelope.decrypt_share_with_key((self.dir / "node.key").read_bytes(), kek)
        if header.get("kind") != _KEY_HEADER["kind"]:
            raise BadInput(f"{self.dir / 'node.key'} is not a node key file", field="node.key")
        self.name = str(header["name"])
        self.keypair = StaticKeypair(private)
        check_own_key(self.config, self.name, self.keypair)
        self.shares = self.dir / "shares"
        ensure_dir(self.shares)
        self._lock = threading.Lock()
        for p in self.shares.glob("*.pending"):  # a run killed between prepare and commit
            p.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"NodeState({self.name!r}, {self.dir})"

    # --- shares ------------------------------------------------------------------------------

    def _share(self, keyset_id: str, pending: bool = False) -> Path:
        return self.shares / f"{_valid_keyset(keyset_id)}.enc{'.pending' if pending else ''}"

    def has_share(self, keyset_id: str) -> bool:
        return self._share(keyset_id).exists()

    def save_pending(self, keyset_id: str, blob: bytes, public_key: bytes) -> None:
        header = {
            "kind": "cluster-share",
            "keyset_id": keyset_id,
            "node": self.name,
            "public_key": public_key.hex(),
        }
        data = envelope.encrypt_share_with_key(blob, header, self._kek)
        write_atomic(self._share(keyset_id, True), data, force=True)

    def commit(self, keyset_id: str) -> None:
        publish(self._share(keyset_id, True), self._share(keyset_id), force=True)

    def abort(self, keyset_id: str) -> None:
        self._share(keyset_id, True).unlink(missing_ok=True)

    def load_share(self, keyset_id: str) -> bytearray:
        """The plaintext share for one protocol call; the caller zeroises it after."""
        try:
            data = self._share(keyset_id).read_bytes()
        except FileNotFoundError:
            raise NotFound(
                f"node {self.name} holds no share of {keyset_id}", field="keyset_id"
            ) from None
        header, body = envelope.decrypt_share_with_key(data, self._kek)
        if header.get("keyset_id") != keyset_id or header.get("node") != self.name:
            raise BadInput("the share file belongs to another key set or node", field="keyset_id")
        return bytearray(body)

    # --- permits -----------------------------------------------------------------------------

    def use_permit(self, nonce: str) -> None:
        """Single use, in this node's own record (``permits.used``, one line per event).

        A permit that completed a signature on this node is refused for ever
        (PermitReplayed). A sign that failed (a peer died, a quorum was replaced) may be
        retried under the same permit, at most :data:`MAX_PERMIT_STARTS` times in all: the
        retry can only sign the same ``tx_hash``, which the permit already allows."""
        path = self.dir / "permits.used"
        with self._lock:
            if not re.fullmatch(r"[0-9a-f]{16,64}", nonce):
                raise PermitReplayed("the permit's nonce is malformed", field="permit")
            lines = path.read_text().split("\n") if path.exists() else []
            if f"done {nonce}" in lines or lines.count(f"start {nonce}") >= MAX_PERMIT_STARTS:
                raise PermitReplayed("this signing permit was used already", field="permit")
            self._append(path, f"start {nonce}")

    def permit_done(self, nonce: str) -> None:
        with self._lock:
            self._append(self.dir / "permits.used", f"done {nonce}")

    @staticmethod
    def _append(path: Path, line: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- quarantine --------------------------------------------------------------------------

    def quarantined(self) -> dict[str, Any]:
        path = self.dir / "quarantine.json"
        if not path.exists():
            return {}
        doc = json.loads(path.read_text())
        return doc if isinstance(doc, dict) else {}

    def quarantine(self, peer: str, code: str, session_id: str) -> None:
        with self._lock:
            doc = self.quarantined()
            doc.setdefault(peer, {"code": code, "session": session_id})
            write_atomic(self.dir / "quarantine.json", json.dumps(doc).encode(), force=True)

    def clear(self, peer: str) -> bool:
        with self._lock:
            doc = self.quarantined()
            found = doc.pop(peer, None) is not None
            write_atomic(self.dir / "quarantine.json", json.dumps(doc).encode(), force=True)
            return found


def zeroise(buf: bytearray) -> None:
    """Overwrite a plaintext buffer (as far as Python allows: copies made by callees remain)."""
    for i in range(len(buf)):
        buf[i] = 0
