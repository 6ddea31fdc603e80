"""Key sets and sessions in the session store (see :mod:`mpcwallet.store.repo`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from mpcwallet.errors import AlreadyExists, BadInput, Busy, MpcError, NotFound
from mpcwallet.store import models as m
from mpcwallet.store.backend import IntegrityError
from mpcwallet.store.base import Repo, now_ms, sql
from mpcwallet.store.models import ErrorClass, Keyset, Session

__all__ = ["KeysetsAndSessions"]

_ERROR_CLASSES = ("transient", "permanent", "violation")


class KeysetsAndSessions(Repo):
    # --- key sets ----------------------------------------------------------------------------

    def create_keyset(
        self,
        keyset_id: str,
        wallet_id: str,
        t: int,
        n: int,
        parties: Sequence[str],
        *,
        now: int | None = None,
    ) -> Keyset:
        """A new key set, ``pending`` until its keygen succeeds. AlreadyExists on a used id."""
        m.check_id(keyset_id, "keyset_id")
        m.check_id(wallet_id, "wallet_id")
        if type(t) is not int or type(n) is not int or not 1 <= t <= n:
            raise BadInput(f"t and n must be integers with 1 <= t <= n (got {t}, {n})", field="t")
        names = m.check_parties(parties, "parties")
        if len(parties) != n:
            raise BadInput(f"a {t}-of-{n} key set lists {n} parties", field="parties")
        ts = now_ms(now)
        try:
            row = self._one(
                "INSERT INTO mpc_keysets ({K}) VALUES (?, ?, ?, ?, ?, NULL, NULL,"
                " 'pending', ?, ?) RETURNING {K}",
                (keyset_id, wallet_id, t, n, names, ts, ts),
                write=True,
            )
        except IntegrityError:
            raise AlreadyExists(f"key set {keyset_id} already exists", field="keyset_id") from None
        return Keyset.from_row(row)

    def activate_keyset(
        self, keyset_id: str, pubkey: str, address: str, *, now: int | None = None
    ) -> Keyset:
        """pending -> active with its public key and address (once keygen committed)."""
        values = (m.check_pubkey(pubkey), m.check_address(address), now_ms(now), keyset_id)
        try:
            row = self._one(
                "UPDATE mpc_keysets SET pubkey = ?, address = ?, status = 'active',"
                " updated_at = ? WHERE keyset_id = ? AND status = 'pending'"
                " RETURNING {K}",
                values,
                write=True,
            )
        except IntegrityError:
            raise AlreadyExists(
                f"another key set already has address {address}", field="address"
            ) from None
        if row is None:
            self._refuse_transition("key set", keyset_id, self.get_keyset(keyset_id).status)
        return Keyset.from_row(row)

    def set_keyset_status(
        self, keyset_id: str, status: str, *, expect: str, now: int | None = None
    ) -> Keyset:
        """Move a key set from ``expect`` to ``status`` (e.g. pending -> failed, active ->
        retired); refused if it is not in ``expect``."""
        if (expect, status) not in (("pending", "failed"), ("active", "retired")):
            raise BadInput(f"a key set does not go from {expect} to {status}", field="status")
        row = self._one(
            "UPDATE mpc_keysets SET status = ?, updated_at = ? WHERE keyset_id = ? AND status = ?"
            " RETURNING {K}",
            (status, now_ms(now), keyset_id, expect),
            write=True,
        )
        if row is None:
            self._refuse_transition("key set", keyset_id, self.get_keyset(keyset_id).status)
        return Keyset.from_row(row)

    def get_keyset(self, keyset_id: str) -> Keyset:
        missing = NotFound(f"no key set {keyset_id} in the store", field="keyset_id")
        row = self._found("SELECT {K} FROM mpc_keysets WHERE keyset_id = ?", (keyset_id,), missing)
        return Keyset.from_row(row)

    def list_keysets(self, wallet_id: str | None = None) -> list[Keyset]:
        with self.db.transaction(write=False) as tx:
            if wallet_id is None:
                rows = tx.execute(sql("SELECT {K} FROM mpc_keysets ORDER BY created_at"))
            else:
                rows = tx.execute(
                    sql("SELECT {K} FROM mpc_keysets WHERE wallet_id = ? ORDER BY created_at"),
                    (wallet_id,),
                )
        return [Keyset.from_row(r) for r in rows]

    # --- sessions ----------------------------------------------------------------------------

    def start_session(
        self,
        session_id: str,
        keyset_id: str,
        op: str,
        quorum: Sequence[str],
        *,
        tx_request_id: str | None = None,
        tx_hash: str | None = None,
        attempt: int = 1,
        now: int | None = None,
    ) -> Session:
        """Record a session as running. Busy if the key set already has one running (any
        coordinator's); AlreadyExists for a used session id; NotFound for an unknown key set."""
        m.check_id(session_id, "session_id")
        if op not in ("keygen", "sign", "refresh"):
            raise BadInput(f"unknown session op {op!r}", field="op")
        names = m.check_parties(quorum, "quorum")
        if tx_request_id is not None:
            m.check_id(tx_request_id, "tx_request_id")
        if tx_hash is not None:
            m.check_tx_hash(tx_hash)
        if type(attempt) is not int or attempt < 1:
            raise BadInput("attempt must be a positive integer", field="attempt")
        keyset = self.get_keyset(keyset_id)
        outside = sorted(set(quorum) - set(keyset.parties))
        if outside:
            raise BadInput(
                f"quorum names {', '.join(outside)}, not parties of key set {keyset_id}",
                field="quorum",
            )
        try:
            row = self._one(
                "INSERT INTO mpc_sessions ({S}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, 'running', ?, NULL, NULL, NULL, NULL)"
                " RETURNING {S}",
                (session_id, keyset_id, op, tx_request_id, tx_hash, names, attempt, now_ms(now)),
                write=True,
            )
        except IntegrityError:
            self._explain_session_conflict(session_id, keyset_id)
        return Session.from_row(row)

    def _explain_session_conflict(self, session_id: str, keyset_id: str) -> NoReturn:
        with self.db.transaction(write=False) as tx:
            same_id = tx.execute("SELECT 1 FROM mpc_sessions WHERE session_id = ?", (session_id,))
            running = tx.execute(
                "SELECT session_id, op FROM mpc_sessions WHERE keyset_id = ?"
                " AND status = 'running'",
                (keyset_id,),
            )
        if same_id:
            raise AlreadyExists(f"session {session_id} already exists", field="session_id")
        if running:
            raise Busy(
                f"key set {keyset_id} already has a {running[0][1]} session in flight "
                f"({running[0][0]}); one at a time per key set"
            )
        raise Busy(f"key set {keyset_id} had a session in flight; try again")

    def end_session(
        self,
        session_id: str,
        status: str,
        *,
        error: MpcError | None = None,
        error_code: str | None = None,
        error_class: ErrorClass | None = None,
        error_node: str | None = None,
        now: int | None = None,
    ) -> Session:
        """running -> succeeded / failed / abandoned, with the error's code and class (kind).
        Only the stable code is kept, never the message."""
        if status not in ("succeeded", "failed", "abandoned"):
            raise BadInput(f"a session cannot end as {status!r}", field="status")
        if error is not None:
            error_code, error_class = error.code, error.kind
        if error_code is not None:
            m.check_code(error_code)
        if error_class is not None and error_class not in _ERROR_CLASSES:
            raise BadInput(f"unknown error class {error_class!r}", field="error_class")
        if error_node is not None:
            m.check_party(error_node, "error_node")
        if status == "succeeded" and (error_code or error_class or error_node):
            raise BadInput("a succeeded session carries no error", field="error_code")
        row = self._one(
            "UPDATE mpc_sessions SET status = ?, ended_at = ?, error_code = ?, error_class = ?,"
            " error_node = ? WHERE session_id = ? AND status = 'running'"
            " RETURNING {S}",
            (status, now_ms(now), error_code, error_class, error_node, session_id),
            write=True,
        )
        if row is None:
            self._refuse_transition("session", session_id, self.get_session(session_id).status)
        return Session.from_row(row)

    def abandon_stale_sessions(self, started_before: int, *, now: int | None = None) -> int:
        """End as ``abandoned`` every session still running that started before the given time
        (its coordinator died); returns how many. Sessions are bounded in time, so a session
        older than the bound cannot still be running anywhere."""
        with self.db.transaction(write=True) as tx:
            rows = tx.execute(
                "UPDATE mpc_sessions SET status = 'abandoned', ended_at = ?, error_code = ?,"
                " error_class = 'transient' WHERE status = 'running' AND started_at < ?"
                " RETURNING session_id",
                (now_ms(now), "timeout", int(started_before)),
            )
        return len(rows)

    def get_session(self, session_id: str) -> Session:
        missing = NotFound(f"no session {session_id} in the store", field="session_id")
        row = self._found(
            "SELECT {S} FROM mpc_sessions WHERE session_id = ?", (session_id,), missing
        )
        return Session.from_row(row)

    def list_sessions(
        self, *, keyset_id: str | None = None, tx_request_id: str | None = None
    ) -> list[Session]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                sql(
                    "SELECT {S} FROM mpc_sessions"
                    " WHERE (CAST(? AS TEXT) IS NULL OR keyset_id = ?)"
                    " AND (CAST(? AS TEXT) IS NULL OR tx_request_id = ?)"
                    " ORDER BY started_at, session_id"
                ),
                (keyset_id, keyset_id, tx_request_id, tx_request_id),
            )
        return [Session.from_row(r) for r in rows]
