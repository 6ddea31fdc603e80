"""Replacements of a WaaS request's stuck transaction (speed-up, cancel; migration 103).

A replacement is a new signature at the request's own nonce (never a new nonce), each with its
own permit recorded here with the audit events in one transaction; the request's ``raw_tx`` and
``signed_hash`` then name the newest signature (the chain record keeps every one at the nonce).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mpcwallet.store.base import now_ms
from mpcwallet.store.waas_txs import Lost, WaasTxs
from mpcwallet.store.waas_wallets import AuditLike

__all__ = ["Replacement", "WaasReplacements"]

_COLS = (
    "permit_nonce, tx_request_id, kind, nonce, replaces, tx_hash, tx_json, requester,"
    " issued_at, expires_at, body, raw_tx, signed_hash"
)


@dataclass(frozen=True)
class Replacement:
    permit_nonce: str
    tx_request_id: str
    kind: str
    nonce: int
    replaces: str
    tx_hash: str
    tx_json: dict[str, Any]
    requester: str
    issued_at: int
    expires_at: int
    body: dict[str, Any]
    raw_tx: str | None
    signed_hash: str | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Replacement:
        v = list(row)
        v[3], v[8], v[9] = int(v[3]), int(v[8]), int(v[9])
        v[6], v[10] = json.loads(v[6]), json.loads(v[10])
        return cls(*v)


class WaasReplacements(WaasTxs):
    def add_replacement(
        self, rep: Replacement, events: Sequence[AuditLike], *, now: int | None = None
    ) -> None:
        """Record the replacement's permit, if the request is still BROADCAST at that nonce
        (else :class:`Lost`: it was mined or failed meanwhile)."""
        ts = now_ms(now)
        with self.db.transaction(write=True) as tx:
            got = tx.execute(
                "SELECT tx_request_id FROM waas_tx_requests WHERE tx_request_id = ?"
                " AND state = 'BROADCAST' AND nonce = ?",
                (rep.tx_request_id, rep.nonce),
            )
            if not got:
                raise Lost()
            tx.execute(
                f"INSERT INTO waas_replacements ({_COLS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (rep.permit_nonce, rep.tx_request_id, rep.kind, rep.nonce, rep.replaces,
                 rep.tx_hash, json.dumps(rep.tx_json, sort_keys=True), rep.requester,
                 rep.issued_at, rep.expires_at, json.dumps(rep.body, sort_keys=True)),
            )  # fmt: skip
            self._append_audit(tx, events, ts)

    def replacement_signed(
        self,
        rep: Replacement,
        raw_tx: str,
        signed_hash: str,
        events: Sequence[AuditLike],
        *,
        now: int | None = None,
    ) -> None:
        """Keep the replacement's signature; the request now names it (still BROADCAST)."""
        ts = now_ms(now)
        with self.db.transaction(write=True) as tx:
            tx.execute(
                "UPDATE waas_replacements SET raw_tx = ?, signed_hash = ? WHERE permit_nonce = ?",
                (raw_tx, signed_hash, rep.permit_nonce),
            )
            tx.execute(
                "UPDATE waas_tx_requests SET raw_tx = ?, signed_hash = ?, updated_at = ?"
                " WHERE tx_request_id = ? AND nonce = ?",
                (raw_tx, signed_hash, ts, rep.tx_request_id, rep.nonce),
            )
            self._append_audit(tx, events, ts)

    def replacements(self, tx_request_id: str) -> list[Replacement]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_COLS} FROM waas_replacements WHERE tx_request_id = ?"
                " ORDER BY issued_at, permit_nonce",
                (tx_request_id,),
            )
        return [Replacement.from_row(r) for r in rows]
