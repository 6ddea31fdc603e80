"""Node backups and share points in the session store (issue 25; see :mod:`mpcwallet.store.repo`).

* ``mpc_share_points``: per key set, generation and party, the party's public share point Qi
  (SEC1 compressed, hex), as the nodes reported it after keygen or a refresh. The key set's
  current generation is the highest one recorded. Public data.
* ``mpc_node_backups``: per key set, party and generation, a node's PVE backup of its private
  scalar: the ciphertext (it reveals nothing without the recovery keys), its label, the
  fingerprint of the recovery keys it is encrypted to, and the node's detached public key blob
  (Q and every Qi, no secret: cb-mpc ``detach_private_scalar``) that a restore attaches the
  scalar to. Making a backup again for the same generation replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mpcwallet.errors import BadInput
from mpcwallet.store import models as m
from mpcwallet.store.backend import IntegrityError
from mpcwallet.store.base import Repo, now_ms

__all__ = ["BackupRecord", "BackupsRepo"]

_POINT_RE = re.compile(r"^0[23][0-9a-f]{64}$")
_FP_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_BACKUP_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class BackupRecord:
    keyset_id: str
    party: str
    generation: int
    recovery: str  # RecoverySet.fingerprint
    label: bytes
    ciphertext: bytes
    public_blob: bytes
    created_at: int = 0

    COLUMNS = "keyset_id, party, generation, recovery, label, ciphertext, public_blob, created_at"

    @classmethod
    def from_row(cls, row: Any) -> BackupRecord:
        return cls(
            str(row[0]),
            str(row[1]),
            int(row[2]),
            str(row[3]),
            bytes.fromhex(row[4]),
            bytes.fromhex(row[5]),
            bytes.fromhex(row[6]),
            int(row[7]),
        )


def _generation(value: Any) -> int:
    if type(value) is not int or not 0 <= value < 2**62:
        raise BadInput("generation must be a non-negative integer", field="generation")
    return value


def _point(value: Any, party: str) -> str:
    if not isinstance(value, str) or _POINT_RE.fullmatch(value) is None:
        raise BadInput(
            f"the public share of {party} must be 66 lowercase hex digits", field="public_share"
        )
    return value


class BackupsRepo(Repo):
    def record_share_points(
        self,
        keyset_id: str,
        generation: int,
        points: Mapping[str, str],
        *,
        now: int | None = None,
    ) -> None:
        """Record every party's Qi for one generation; refused if the parties are not exactly
        the key set's, or a different point is already recorded for the same slot."""
        keyset = self.get_keyset(keyset_id)  # type: ignore[attr-defined]
        gen = _generation(generation)
        if sorted(points) != sorted(keyset.parties):
            raise BadInput(
                f"share points must name exactly the parties of {keyset_id}", field="parties"
            )
        rows = [(keyset_id, gen, p, _point(points[p], p), now_ms(now)) for p in sorted(points)]
        with self.db.transaction(write=True) as tx:
            for row in rows:
                have = tx.execute(
                    "SELECT public_share FROM mpc_share_points WHERE keyset_id = ?"
                    " AND generation = ? AND party = ?",
                    row[:3],
                )
                if have and have[0][0] != row[3]:
                    raise BadInput(
                        f"{row[2]} already has another share point at generation "
                        f"{gen} of {keyset_id}",
                        field="public_share",
                    )
                if not have:
                    tx.execute(
                        "INSERT INTO mpc_share_points (keyset_id, generation, party,"
                        " public_share, recorded_at) VALUES (?, ?, ?, ?, ?)",
                        row,
                    )

    def current_generation(self, keyset_id: str) -> int | None:
        row = self._one(
            "SELECT MAX(generation) FROM mpc_share_points WHERE keyset_id = ?", (keyset_id,)
        )
        return None if row is None or row[0] is None else int(row[0])

    def share_points(self, keyset_id: str, generation: int) -> dict[str, str]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT party, public_share FROM mpc_share_points"
                " WHERE keyset_id = ? AND generation = ?",
                (keyset_id, generation),
            )
        return {str(r[0]): str(r[1]) for r in rows}

    def put_backup(self, rec: BackupRecord, *, now: int | None = None) -> BackupRecord:
        m.check_id(rec.keyset_id, "keyset_id")
        m.check_party(rec.party, "party")
        _generation(rec.generation)
        if _FP_RE.fullmatch(rec.recovery) is None:
            raise BadInput("recovery must be a recovery-set fingerprint", field="recovery")
        if len(rec.ciphertext) + len(rec.public_blob) > MAX_BACKUP_BYTES:
            raise BadInput("the backup is too large", field="ciphertext")
        values = (
            rec.keyset_id,
            rec.party,
            rec.generation,
            rec.recovery,
            rec.label.hex(),
            rec.ciphertext.hex(),
            rec.public_blob.hex(),
            now_ms(now),
        )
        try:
            row = self._one(
                "INSERT INTO mpc_node_backups (keyset_id, party, generation, recovery, label,"
                " ciphertext, public_blob, created_at) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (keyset_id, party, generation) DO UPDATE"
                " SET recovery = excluded.recovery, label = excluded.label,"
                " ciphertext = excluded.ciphertext, public_blob = excluded.public_blob,"
                " created_at = excluded.created_at RETURNING keyset_id, party, generation,"
                " recovery, label, ciphertext, public_blob, created_at",
                values,
                write=True,
            )
        except IntegrityError:
            raise BadInput(f"no key set {rec.keyset_id} in the store", field="keyset_id") from None
        return BackupRecord.from_row(row)

    def latest_backup(self, keyset_id: str, party: str) -> BackupRecord | None:
        row = self._one(
            "SELECT keyset_id, party, generation, recovery, label, ciphertext, public_blob,"
            " created_at FROM mpc_node_backups WHERE keyset_id = ?"
            " AND party = ? ORDER BY generation DESC LIMIT 1",
            (keyset_id, party),
        )
        return None if row is None else BackupRecord.from_row(row)
