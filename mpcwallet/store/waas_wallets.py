"""WaaS principals, wallets and the hash-chained audit trail in the session store.

The audit trail is appended inside the transaction whose change it records, always as that
transaction's last step: on PostgreSQL a transaction-scoped advisory lock serialises appenders
(so two coordinators never both take the same ``seq``), on SQLite ``BEGIN IMMEDIATE`` already
does. A state change and its audit event commit together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mpcwallet.errors import AlreadyExists, NotFound
from mpcwallet.store.backend import IntegrityError, Tx
from mpcwallet.store.base import Repo, now_ms
from mpcwallet.store.waas_records import (
    AUDIT_COLUMNS,
    GENESIS,
    PRINCIPAL_COLUMNS,
    WALLET_COLUMNS,
    AuditEvent,
    Principal,
    WalletRow,
    audit_hash,
)

__all__ = ["AuditLike", "WaasWallets"]

_AUDIT_LOCK_KEY = 0x6D70_6377_6175_6474  # "mpcw" "audt"

# (event, tenant, subject, fields) appended with a change
AuditLike = tuple[str, str | None, str | None, dict[str, Any]]


class WaasWallets(Repo):
    # --- audit -------------------------------------------------------------------------------

    def _append_audit(self, tx: Tx, events: Sequence[AuditLike], now: int) -> list[AuditEvent]:
        if not events:
            return []
        if self.db.dialect == "postgres":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_AUDIT_LOCK_KEY,))
        head = tx.execute("SELECT seq, hash FROM waas_audit ORDER BY seq DESC LIMIT 1")
        seq, prev = (int(head[0][0]), head[0][1]) if head else (0, GENESIS)
        out = []
        for event, tenant, subject, fields in events:
            seq += 1
            digest = audit_hash(seq, now, tenant, event, subject, fields, prev)
            tx.execute(
                f"INSERT INTO waas_audit ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    now,
                    tenant,
                    event,
                    subject,
                    json.dumps(fields, sort_keys=True),
                    prev,
                    digest,
                ),
            )
            out.append(AuditEvent(seq, now, tenant, event, subject, fields, prev, digest))
            prev = digest
        return out

    def audit(self, events: Sequence[AuditLike], *, now: int | None = None) -> list[AuditEvent]:
        with self.db.transaction(write=True) as tx:
            return self._append_audit(tx, events, now_ms(now))

    def audit_head(self) -> str:
        row = self._one("SELECT hash FROM waas_audit ORDER BY seq DESC LIMIT 1", ())
        return str(row[0]) if row else GENESIS

    def audit_events(
        self, *, subject: str | None = None, tenant: str | None = None, after: int = 0
    ) -> list[AuditEvent]:
        q = f"SELECT {AUDIT_COLUMNS} FROM waas_audit WHERE seq > ?"
        params: list[Any] = [after]
        if subject is not None:
            q += " AND subject = ?"
            params.append(subject)
        if tenant is not None:
            q += " AND tenant = ?"
            params.append(tenant)
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(q + " ORDER BY seq", params)
        return [AuditEvent.from_row(r) for r in rows]

    def verify_audit(self) -> int:
        """Walk the whole chain; the number of events. ValueError naming the first bad one."""
        prev = GENESIS
        events = self.audit_events()
        for i, ev in enumerate(events, start=1):
            if ev.seq != i or ev.prev != prev or ev.recomputed() != ev.hash:
                raise ValueError(f"audit event {ev.seq} does not chain (expected seq {i})")
            prev = ev.hash
        return len(events)

    # --- principals --------------------------------------------------------------------------

    def add_principal(
        self,
        principal_id: str,
        tenant: str,
        name: str,
        role: str,
        key_hash: str,
        approver_key: str | None = None,
        *,
        now: int | None = None,
    ) -> Principal:
        ts = now_ms(now)
        try:
            with self.db.transaction(write=True) as tx:
                rows = tx.execute(
                    "INSERT INTO waas_principals (principal_id, tenant, name, role, key_hash,"
                    f" approver_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    f" RETURNING {PRINCIPAL_COLUMNS}",
                    (principal_id, tenant, name, role, key_hash, approver_key, ts),
                )
                self._append_audit(
                    tx,
                    [
                        (
                            "PRINCIPAL_ADDED",
                            tenant,
                            principal_id,
                            {"name": name, "role": role, "approver_key": approver_key},
                        )
                    ],
                    ts,
                )
        except IntegrityError:
            raise AlreadyExists(
                f"tenant {tenant} already has a principal named {name}", field="name"
            ) from None
        return Principal.from_row(rows[0])

    def principal_by_key_hash(self, key_hash: str) -> Principal | None:
        row = self._one(
            f"SELECT {PRINCIPAL_COLUMNS} FROM waas_principals WHERE key_hash = ?", (key_hash,)
        )
        return None if row is None else Principal.from_row(row)

    def get_principal(self, principal_id: str) -> Principal:
        row = self._found(
            f"SELECT {PRINCIPAL_COLUMNS} FROM waas_principals WHERE principal_id = ?",
            (principal_id,),
            NotFound(f"no principal {principal_id}", field="principal_id"),
        )
        return Principal.from_row(row)

    # --- wallets -----------------------------------------------------------------------------

    def create_wallet(
        self,
        wallet_id: str,
        tenant: str,
        name: str,
        request_id: str | None,
        backend: str,
        t: int | None,
        n: int | None,
        created_by: str,
        *,
        now: int | None = None,
    ) -> tuple[WalletRow, bool]:
        """``(wallet, created)``: a new PENDING_KEYGEN wallet, or the tenant's wallet made
        earlier with the same ``request_id`` (created False). One INSERT decides."""
        ts = now_ms(now)
        with self.db.transaction(write=True) as tx:
            row, created = self._insert_once(
                tx,
                "waas_wallets",
                WALLET_COLUMNS,
                "?, ?, ?, ?, ?, 'PENDING_KEYGEN', ?, ?, NULL, NULL, NULL, NULL, NULL, NULL, 0,"
                " ?, ?, ?",
                (wallet_id, tenant, name, request_id, backend, t, n, created_by, ts, ts),
                tenant=tenant,
                request_id=request_id,
            )
            if created:
                self._append_audit(
                    tx,
                    [
                        (
                            "WALLET_STATE_PENDING_KEYGEN",
                            tenant,
                            wallet_id,
                            {"custody_backend": backend, "mpc_t": t, "mpc_n": n},
                        )
                    ],
                    ts,
                )
            return WalletRow.from_row(row), created

    @staticmethod
    def _insert_once(
        tx: Tx,
        table: str,
        columns: str,
        values: str,
        params: Sequence[Any],
        *,
        tenant: str,
        request_id: str | None,
    ) -> tuple[Any, bool]:
        """``(row, created)``: the row (``columns`` = ``values``) inserted into ``table``, or
        ``tenant``'s earlier one with ``request_id``; the unique constraint decides, not a
        lookup first."""
        rows = tx.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({values})"
            f" ON CONFLICT (tenant, request_id) DO NOTHING RETURNING {columns}",
            params,
        )
        if rows:
            return rows[0], True
        old = tx.execute(
            f"SELECT {columns} FROM {table} WHERE tenant = ? AND request_id = ?",
            (tenant, request_id),
        )
        return old[0], False

    def finish_wallet(
        self,
        wallet_id: str,
        events: Sequence[AuditLike],
        *,
        now: int | None = None,
        **values: Any,
    ) -> WalletRow:
        """PENDING_KEYGEN -> ACTIVE or FAILED with ``values`` (status, address, ...) and the
        audit events, in one transaction."""
        ts = now_ms(now)
        cols = ", ".join(f"{k} = ?" for k in values)
        with self.db.transaction(write=True) as tx:
            rows = tx.execute(
                f"UPDATE waas_wallets SET {cols}, updated_at = ? WHERE wallet_id = ?"
                f" AND status = 'PENDING_KEYGEN' RETURNING {WALLET_COLUMNS}",
                (*values.values(), ts, wallet_id),
            )
            if not rows:
                self._refuse_transition("wallet", wallet_id, self.get_wallet(wallet_id).status)
            self._append_audit(tx, events, ts)
        return WalletRow.from_row(rows[0])

    def get_wallet(self, wallet_id: str, tenant: str | None = None) -> WalletRow:
        row = self._found(
            f"SELECT {WALLET_COLUMNS} FROM waas_wallets WHERE wallet_id = ?",
            (wallet_id,),
            NotFound(f"no wallet {wallet_id}; list yours with GET /v1/wallets", field="wallet_id"),
            tenant=tenant,
        )
        return WalletRow.from_row(row)

    def list_wallets(self, tenant: str, *, limit: int, after: str | None) -> list[WalletRow]:
        """A page in creation order; ``after`` is the last wallet id of the previous page."""
        q = f"SELECT {WALLET_COLUMNS} FROM waas_wallets WHERE tenant = ?"
        params: list[Any] = [tenant]
        if after is not None:
            q += (
                " AND (created_at, wallet_id) > (SELECT created_at, wallet_id FROM waas_wallets"
                " WHERE wallet_id = ?)"
            )
            params.append(after)
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(q + " ORDER BY created_at, wallet_id LIMIT ?", (*params, limit))
        return [WalletRow.from_row(r) for r in rows]

    def take_nonce(self, tx: Tx, wallet_id: str) -> int:
        """The wallet's next nonce, taken in ``tx`` (one UPDATE: no two callers get one)."""
        rows = tx.execute(
            "UPDATE waas_wallets SET next_nonce = next_nonce + 1 WHERE wallet_id = ?"
            " RETURNING next_nonce - 1",
            (wallet_id,),
        )
        return int(rows[0][0])

    def set_next_nonce_at_least(self, wallet_id: str, nonce: int) -> None:
        """Raise the wallet's next nonce to the chain's pending count (never lowers it)."""
        with self.db.transaction(write=True) as tx:
            tx.execute(
                "UPDATE waas_wallets SET next_nonce = ? WHERE wallet_id = ? AND next_nonce < ?",
                (nonce, wallet_id, nonce),
            )
