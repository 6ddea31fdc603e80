"""WaaS transaction requests, their state history, approvals, reservations and permits.

Every state change is ``UPDATE ... WHERE state = <expected>`` plus a history row plus its audit
events in one transaction, so two workers (or two coordinators) never both move a request. The
policy's 24 h totals are checked and reserved in one transaction that first locks the wallet's
row (an ``UPDATE`` of it): on PostgreSQL concurrent requests for one wallet queue there, on
SQLite ``BEGIN IMMEDIATE`` serialises every writer anyway.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from mpcwallet.errors import NotFound
from mpcwallet.store.backend import IntegrityError, Tx
from mpcwallet.store.base import now_ms
from mpcwallet.store.waas_records import TX_COLUMNS, HistoryRow, TxRow
from mpcwallet.store.waas_wallets import AuditLike, WaasWallets

__all__ = ["DAY_MS", "WaasTxs"]

DAY_MS = 24 * 3600 * 1000
TERMINAL = ("REJECTED", "FAILED", "FINALIZED")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


class WaasTxs(WaasWallets):
    def create_tx_request(
        self,
        tx_request_id: str,
        tenant: str,
        wallet_id: str,
        request_id: str,
        body_hash: str,
        requester: str,
        body: dict[str, Any],
        *,
        now: int | None = None,
    ) -> tuple[TxRow, bool]:
        """``(request, created)``; the tenant's earlier request with this ``request_id`` when
        there is one (the unique constraint decides, not a lookup first)."""
        ts = now_ms(now)
        with self.db.transaction(write=True) as tx:
            row, created = self._insert_once(
                tx,
                "waas_tx_requests",
                TX_COLUMNS,
                "?, ?, ?, ?, ?, ?, ?, 'KYT', NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL,"
                " ?, ?",
                (
                    tx_request_id,
                    tenant,
                    wallet_id,
                    request_id,
                    body_hash,
                    requester,
                    _dumps(body),
                    ts,
                    ts,
                ),
                tenant=tenant,
                request_id=request_id,
            )
            if created:
                self._history(tx, tx_request_id, "KYT", None, ts)
                self._append_audit(
                    tx,
                    [
                        (
                            "TX_REQUEST_CREATED",
                            tenant,
                            tx_request_id,
                            {
                                "wallet_id": wallet_id,
                                "requester": requester,
                                "body_hash": body_hash,
                            },
                        ),
                        ("TX_STATE_KYT", tenant, tx_request_id, {}),
                    ],
                    ts,
                )
            return TxRow.from_row(row), created

    @staticmethod
    def _history(tx: Tx, tx_request_id: str, state: str, code: str | None, ts: int) -> None:
        tx.execute(
            "INSERT INTO waas_tx_history (tx_request_id, seq, state, at, reason_code)"
            " SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ? FROM waas_tx_history"
            " WHERE tx_request_id = ?",
            (tx_request_id, state, ts, code, tx_request_id),
        )

    def _move(
        self,
        tx: Tx,
        row_id: str,
        expect: Sequence[str],
        new: str,
        values: dict[str, Any],
        ts: int,
    ) -> TxRow | None:
        sets = "".join(f", {k} = ?" for k in values)
        marks = ", ".join("?" for _ in expect)
        rows = tx.execute(
            f"UPDATE waas_tx_requests SET state = ?, updated_at = ?{sets}"
            f" WHERE tx_request_id = ? AND state IN ({marks}) RETURNING {TX_COLUMNS}",
            (new, ts, *values.values(), row_id, *expect),
        )
        if not rows:
            return None
        if new in ("REJECTED", "FAILED"):
            tx.execute(
                "UPDATE waas_reservations SET released = 1 WHERE tx_request_id = ?", (row_id,)
            )
        return TxRow.from_row(rows[0])

    def move_tx(
        self,
        tx_request_id: str,
        expect: Sequence[str],
        new: str,
        *,
        reason_code: str | None = None,
        reason: str | None = None,
        values: dict[str, Any] | None = None,
        events: Sequence[AuditLike] = (),
        now: int | None = None,
    ) -> TxRow | None:
        """``expect`` -> ``new`` with the history row and audit events (TX_STATE_<new> first);
        None when the request was not in ``expect`` (another worker moved it)."""
        ts = now_ms(now)
        vals = dict(values or {})
        if reason_code is not None:
            vals.update(reason_code=reason_code, reason=reason)
        with self.db.transaction(write=True) as tx:
            row = self._move(tx, tx_request_id, expect, new, vals, ts)
            if row is None:
                return None
            self._history(tx, tx_request_id, new, reason_code, ts)
            fields = {"reason_code": reason_code} if reason_code else {}
            self._append_audit(
                tx, [(f"TX_STATE_{new}", row.tenant, tx_request_id, fields), *events], ts
            )
        return row

    def reserve_and_move(
        self,
        row: TxRow,
        spends: Sequence[tuple[str, int]],
        check: Callable[[str, int, int], None],
        new: str,
        values: dict[str, Any],
        events: Sequence[AuditLike],
        *,
        now: int | None = None,
    ) -> TxRow | None:
        """POLICY -> ``new``: for each ``(asset, amount)`` ``check(asset, amount, spent_24h)``
        (raises to refuse; nothing is then written), then reserve it; one transaction."""
        ts = now_ms(now)
        try:
            return self._reserve_and_move(row, spends, check, new, values, events, ts)
        except IntegrityError:  # a racing run of the same request reserved first
            raise _Lost() from None

    def _reserve_and_move(
        self,
        row: TxRow,
        spends: Sequence[tuple[str, int]],
        check: Callable[[str, int, int], None],
        new: str,
        values: dict[str, Any],
        events: Sequence[AuditLike],
        ts: int,
    ) -> TxRow | None:
        with self.db.transaction(write=True) as tx:
            # lock the wallet's row first: the totals below cannot change under us
            tx.execute(
                "UPDATE waas_wallets SET updated_at = updated_at WHERE wallet_id = ?",
                (row.wallet_id,),
            )
            state = tx.execute(
                "SELECT state FROM waas_tx_requests WHERE tx_request_id = ?", (row.tx_request_id,)
            )
            if state[0][0] != "POLICY":  # another run of this request decided already
                raise _Lost()
            for asset, amount in spends:
                rows = tx.execute(
                    "SELECT amount FROM waas_reservations WHERE wallet_id = ? AND asset = ?"
                    " AND released = 0 AND at > ?",
                    (row.wallet_id, asset, ts - DAY_MS),
                )
                check(asset, amount, sum(int(r[0]) for r in rows))
                tx.execute(
                    "INSERT INTO waas_reservations (tx_request_id, wallet_id, asset, amount, at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (row.tx_request_id, row.wallet_id, asset, str(amount), ts),
                )
            moved = self._move(tx, row.tx_request_id, ("POLICY",), new, values, ts)
            if moved is None:
                raise _Lost()
            self._history(tx, row.tx_request_id, new, None, ts)
            self._append_audit(
                tx, [*events, (f"TX_STATE_{new}", row.tenant, row.tx_request_id, {})], ts
            )
        return moved

    def spent_24h(self, wallet_id: str, asset: str, *, now: int | None = None) -> int:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT amount FROM waas_reservations WHERE wallet_id = ? AND asset = ?"
                " AND released = 0 AND at > ?",
                (wallet_id, asset, now_ms(now) - DAY_MS),
            )
        return sum(int(r[0]) for r in rows)

    def get_tx(self, tx_request_id: str, tenant: str | None = None) -> TxRow:
        row = self._found(
            f"SELECT {TX_COLUMNS} FROM waas_tx_requests WHERE tx_request_id = ?",
            (tx_request_id,),
            NotFound(f"no transaction request {tx_request_id}", field="tx_request_id"),
            tenant=tenant,
        )
        return TxRow.from_row(row)

    def list_txs(self, wallet_id: str) -> list[TxRow]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {TX_COLUMNS} FROM waas_tx_requests WHERE wallet_id = ?"
                " ORDER BY created_at, tx_request_id",
                (wallet_id,),
            )
        return [TxRow.from_row(r) for r in rows]

    def txs_in_states(self, states: Sequence[str]) -> list[TxRow]:
        marks = ", ".join("?" for _ in states)
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {TX_COLUMNS} FROM waas_tx_requests WHERE state IN ({marks})"
                " ORDER BY updated_at",
                tuple(states),
            )
        return [TxRow.from_row(r) for r in rows]

    def history(self, tx_request_id: str) -> list[HistoryRow]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT seq, state, at, reason_code FROM waas_tx_history"
                " WHERE tx_request_id = ? ORDER BY seq",
                (tx_request_id,),
            )
        return [HistoryRow(int(r[0]), r[1], int(r[2]), r[3]) for r in rows]

    # --- approvals ---------------------------------------------------------------------------

    def add_approval(
        self, row: TxRow, principal_id: str, signature: str, *, now: int | None = None
    ) -> tuple[bool, list[str]]:
        """``(counted now, every approver so far)``: each approver counts once (primary key)."""
        ts = now_ms(now)
        with self.db.transaction(write=True) as tx:
            added = tx.execute(
                "INSERT INTO waas_approvals (tx_request_id, principal_id, signature, at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING principal_id",
                (row.tx_request_id, principal_id, signature, ts),
            )
            who = tx.execute(
                "SELECT principal_id FROM waas_approvals WHERE tx_request_id = ? ORDER BY at,"
                " principal_id",
                (row.tx_request_id,),
            )
            if added:
                self._append_audit(
                    tx,
                    [
                        (
                            "TX_APPROVAL_ADDED",
                            row.tenant,
                            row.tx_request_id,
                            {"approver": principal_id},
                        )
                    ],
                    ts,
                )
        return bool(added), [str(r[0]) for r in who]

    def approvers_of(self, tx_request_id: str) -> list[str]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT principal_id FROM waas_approvals WHERE tx_request_id = ?"
                " ORDER BY at, principal_id",
                (tx_request_id,),
            )
        return [str(r[0]) for r in rows]

    # --- signing: nonce, tx hash, permit -----------------------------------------------------

    def prepare_signing(
        self,
        row: TxRow,
        build: Callable[[int], tuple[dict[str, Any], str]],
        permit: Callable[[str], tuple[str, int, int, dict[str, Any]]],
        events: Callable[[dict[str, Any]], Sequence[AuditLike]],
        *,
        now: int | None = None,
    ) -> TxRow:
        """In one transaction: take the wallet's next nonce, ``build(nonce)`` -> (tx json,
        tx_hash), record the permit ``permit(tx_hash)`` -> (nonce, issued, expires, body) and
        the audit events. The (wallet, nonce) unique constraint makes a collision an error."""
        ts = now_ms(now)
        try:
            with self.db.transaction(write=True) as tx:
                nonce = self.take_nonce(tx, row.wallet_id)
                tx_json, tx_hash = build(nonce)
                pnonce, issued, expires, body = permit(tx_hash)
                got = tx.execute(
                    "UPDATE waas_tx_requests SET nonce = ?, tx_hash = ?, tx_json = ?,"
                    " updated_at = ? WHERE tx_request_id = ? AND state = 'SIGN_PENDING'"
                    f" AND nonce IS NULL RETURNING {TX_COLUMNS}",
                    (nonce, tx_hash, _dumps(tx_json), ts, row.tx_request_id),
                )
                if not got:
                    raise _Lost()
                tx.execute(
                    "INSERT INTO waas_permits (permit_nonce, tx_request_id, tx_hash, issued_at,"
                    " expires_at, body) VALUES (?, ?, ?, ?, ?, ?)",
                    (pnonce, row.tx_request_id, tx_hash, issued, expires, _dumps(body)),
                )
                self._append_audit(tx, events(body), ts)
        except IntegrityError:
            raise _Lost() from None
        return TxRow.from_row(got[0])

    def set_signed(
        self,
        row: TxRow,
        raw_tx: str,
        signed_hash: str,
        events: Sequence[AuditLike],
        *,
        now: int | None = None,
    ) -> TxRow | None:
        """Keep the signed raw transaction on a SIGN_PENDING request (once)."""
        ts = now_ms(now)
        with self.db.transaction(write=True) as tx:
            got = tx.execute(
                "UPDATE waas_tx_requests SET raw_tx = ?, signed_hash = ?, updated_at = ?"
                " WHERE tx_request_id = ? AND state = 'SIGN_PENDING' AND raw_tx IS NULL"
                f" RETURNING {TX_COLUMNS}",
                (raw_tx, signed_hash, ts, row.tx_request_id),
            )
            if not got:
                return None
            self._append_audit(tx, events, ts)
        return TxRow.from_row(got[0])


class _Lost(Exception):
    """Another worker moved the request first (a lost race, not an error to report)."""


Lost = _Lost
