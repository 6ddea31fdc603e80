"""A signer node's verifiable backup (issue 25): made on the node, checked by anyone, opened
only with the recovery keys.

* :func:`make_backup` (on the node, after keygen and every refresh): cb-mpc
  ``ecdsa_mp::detach_private_scalar`` splits the node's share into a public blob (Q and every
  Qi) and its scalar x_i; the scalar is PVE-encrypted (cb-mpc ``pve::encrypt``, or
  ``pve_ac::encrypt`` to a quorum of recovery keys) under the label
  :func:`mpcwallet.engine.pve.backup_label` (keyset id, party name, generation, curve).
* :func:`check_backup` (public data only): the backup is for this slot (its label), encrypted
  to the pinned recovery keys, its public blob carries the key set's public key and this
  node's Qi, and PVE verify (``pve::verify`` / ``pve_ac::verify``) proves the ciphertext holds
  the discrete log of Qi. Each refusal is :class:`BackupProblem` with a status (missing, stale,
  invalid) and a reason naming the node.
* :func:`restore_share` (with the recovery keys): only from what :func:`check_backup` returned
  (:class:`mpcwallet.engine.pve.Verified`): decrypt (``pve::decrypt``, or ``partial_decrypt_ac``
  by each key holder and ``combine_ac``), then ``ecdsa_mp::attach_private_scalar`` to the
  public blob, which checks x_i·G == Qi; the public key and Qi are checked again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mpcwallet.errors import BadInput, MpcError, TamperedFile
from mpcwallet.topology.recovery import RecoverySet

__all__ = [
    "BackupProblem",
    "BackupUnverified",
    "NodeBackup",
    "check_backup",
    "make_backup",
    "restore_share",
]

CURVE = "secp256k1"
_TAG = b"mpcwallet/pve-backup/v1"


class BackupUnverified(TamperedFile):
    """A node backup is missing, stale or does not verify against the node's public share
    (PVE verify, public data only); the message names the node and the reason."""

    code = "backup_unverified"


class BackupProblem(BackupUnverified):
    """One node's backup failed a check; ``status`` is missing, stale or invalid."""

    node = ""
    status = "invalid"
    reason = ""

    @classmethod
    def of(cls, node: str, status: str, reason: str) -> BackupProblem:
        err = cls(f"node {node}: backup {status}: {reason}", field=node)
        err.node, err.status, err.reason = node, status, reason
        return err


@dataclass(frozen=True)
class NodeBackup:
    """The public parts of one node backup (what the coordinator stores)."""

    keyset_id: str
    party: str
    generation: int
    recovery: str  # RecoverySet.fingerprint it is encrypted to
    label: bytes
    ciphertext: bytes
    public_blob: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "keyset_id": self.keyset_id,
            "party": self.party,
            "generation": self.generation,
            "recovery": self.recovery,
            "label": self.label.hex(),
            "ciphertext": self.ciphertext.hex(),
            "public_blob": self.public_blob.hex(),
        }

    @classmethod
    def from_json(cls, doc: Any, where: str = "backup") -> NodeBackup:
        try:
            return cls(
                str(doc["keyset_id"]),
                str(doc["party"]),
                int(doc["generation"]),
                str(doc["recovery"]),
                bytes.fromhex(doc["label"]),
                bytes.fromhex(doc["ciphertext"]),
                bytes.fromhex(doc["public_blob"]),
            )
        except (KeyError, TypeError, ValueError):
            raise BadInput(f"{where} is not a node backup", field="backup") from None


def _access(recovery: RecoverySet) -> Any:
    from mpcwallet.engine.base_mp import threshold

    return threshold(recovery.quorum, recovery.names)


def _eks(recovery: RecoverySet) -> dict[str, bytes]:
    return {k.name: k.ek for k in recovery.keys}


def make_backup(
    engine: Any,
    key_blob: bytes,
    keyset_id: str,
    party: str,
    generation: int,
    recovery: RecoverySet,
) -> NodeBackup:
    """The node's PVE backup of its share (the scalar never leaves this function in clear)."""
    from mpcwallet.engine import pve

    public_blob, scalar = engine.detach_private_scalar(key_blob)
    label = _label(keyset_id, party, generation, public_blob)
    if recovery.single:
        ct = pve.encrypt(recovery.keys[0].ek, label, scalar)
    else:
        ct = pve.encrypt_ac(_access(recovery), _eks(recovery), label, [scalar])
    return NodeBackup(keyset_id, party, generation, recovery.fingerprint, label, ct, public_blob)


def _label(keyset_id: str, party: str, generation: int, public_blob: bytes) -> bytes:
    """The backup's PVE label; it binds the public blob too (its SHA-256), so the blob the
    scalar is attached to on restore (Q, every Qi, names) is covered by the PVE proof."""
    from mpcwallet.engine import pve

    digest = hashlib.sha256(public_blob).digest()
    return pve.backup_label(keyset_id, party, generation, binds=digest)


def parse_label(label: bytes) -> tuple[str, str, int, str] | None:
    """(key id, party, generation, curve) from a :func:`pve.backup_label`, None if malformed."""
    fields: list[bytes] = []
    i = 0
    try:
        while i < len(label):
            n = label[i]
            fields.append(label[i + 1 : i + 1 + n])
            if len(fields[-1]) != n:
                return None
            i += 1 + n
        if len(fields) != 6 or fields[0] != _TAG or not fields[3].isdigit():
            return None
        return fields[1].decode(), fields[2].decode(), int(fields[3]), fields[4].decode()
    except (IndexError, UnicodeDecodeError):
        return None


def _label_reason(backup: NodeBackup, keyset_id: str, party: str, generation: int) -> str:
    got = parse_label(backup.label)
    if got is None:
        return "its label is not a backup label (damaged or forged)"
    ks, who, gen, curve = got
    if who != party:
        return f"it holds {who}'s share, not {party}'s (label names {who})"
    if ks != keyset_id:
        return f"it is a backup of key set {ks}, not {keyset_id}"
    if gen != generation:
        return f"it is labelled generation {gen}, the key set is at generation {generation}"
    if curve != CURVE:
        return f"it is labelled for curve {curve}, not {CURVE}"
    return "its label does not bind its public key blob: the blob was altered or swapped"


def check_backup(
    engine: Any,
    backup: NodeBackup | None,
    *,
    keyset_id: str,
    party: str,
    generation: int,
    public_share: bytes,
    public_key: bytes,
    recovery: RecoverySet,
) -> Any:
    """:class:`mpcwallet.engine.pve.Verified` for the node's backup at the key set's current
    ``generation``, checked against ``public_share`` (Qi) and ``public_key`` (Q) from the key
    set; :class:`BackupProblem` otherwise. Needs no recovery key and no node."""
    from mpcwallet.engine import pve

    if backup is None:
        raise BackupProblem.of(party, "missing", "no backup of this node's share is stored")
    if backup.generation < generation:
        raise BackupProblem.of(
            party,
            "stale",
            f"the latest backup is of generation "
            f"{backup.generation}; the key set is at generation {generation}",
        )
    if backup.party != party or backup.keyset_id != keyset_id or backup.generation != generation:
        raise BackupProblem.of(
            party,
            "invalid",
            "it is stored for another slot "
            f"({backup.keyset_id}, {backup.party}, {backup.generation})",
        )
    if backup.label != _label(keyset_id, party, generation, backup.public_blob):
        raise BackupProblem.of(
            party, "invalid", _label_reason(backup, keyset_id, party, generation)
        )
    if backup.recovery != recovery.fingerprint:
        raise BackupProblem.of(
            party,
            "invalid",
            f"it is encrypted to recovery keys other than the pinned ones ({recovery.describe()})",
        )
    try:
        blob_pub = engine.public_key(backup.public_blob)
        blob_share = engine.public_share(backup.public_blob)
    except MpcError:
        raise BackupProblem.of(party, "invalid", "its public key blob does not parse") from None
    if blob_pub != public_key:
        raise BackupProblem.of(party, "invalid", "its public key blob is of another key")
    if blob_share != public_share:
        raise BackupProblem.of(
            party, "invalid", f"its public key blob is not {party}'s (another Qi)"
        )
    try:
        if recovery.single:
            return pve.verify(recovery.keys[0].ek, backup.ciphertext, public_share, backup.label)
        return pve.verify_ac(
            _access(recovery), _eks(recovery), backup.ciphertext, [public_share], backup.label
        )
    except MpcError:
        raise BackupProblem.of(
            party,
            "invalid",
            f"the ciphertext does not verify against {party}'s "
            "public share: tampered, or another share",
        ) from None


def restore_share(
    engine: Any,
    verified: Any,
    backup: NodeBackup,
    recovery: RecoverySet,
    private_keys: Mapping[str, bytes],
    *,
    public_share: bytes,
    public_key: bytes,
) -> bytes:
    """The node's full key blob from its verified backup and the recovery private key(s):
    one key for a single recovery key, a quorum of them for PVE-AC (fewer: BadInput)."""
    from mpcwallet.engine import pve

    if recovery.single:
        name = recovery.keys[0].name
        if name not in private_keys:
            raise BadInput(f"the restore needs recovery key {name}", field="recovery_key")
        [scalar] = pve.decrypt(verified, private_keys[name])
    else:
        unknown = sorted(set(private_keys) - set(recovery.names))
        if unknown:
            raise BadInput(f"{unknown[0]} is not a pinned recovery key", field="recovery_key")
        if len(private_keys) < recovery.quorum:
            raise BadInput(
                f"the restore needs {recovery.quorum} of the recovery keys "
                f"{', '.join(recovery.names)}; got {len(private_keys)}",
                field="recovery_key",
            )
        parts = {n: pve.partial_decrypt(verified, n, dk) for n, dk in private_keys.items()}
        [scalar] = pve.combine(verified, parts)
    full = engine.attach_private_scalar(backup.public_blob, scalar, public_share)
    if engine.public_share(full) != public_share or engine.public_key(full) != public_key:
        raise BackupProblem.of(
            backup.party, "invalid", "the restored share does not match the node's public share"
        )
    return bytes(full)
