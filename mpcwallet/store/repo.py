"""The session store's repository: typed functions over the tables, one transaction each.

Uniqueness is always the database's: a key set id, a session id and a request id are primary
keys, "one running session per key set" is a partial unique index, and a request claim is one
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` that exactly one caller wins (on PostgreSQL a
concurrent second insert waits for the first to commit, then does nothing). State changes are
``UPDATE ... WHERE status = <expected>``, so two coordinators cannot both move a record.

``now`` (milliseconds since the epoch) may be given for tests; it defaults to the clock.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from mpcwallet.errors import (
    AlreadyExists,
    BadInput,
    Busy,
    IdempotencyConflict,
    MpcError,
    NotFound,
)
from mpcwallet.store import models as m
from mpcwallet.store.backend import Database, IntegrityError, connect
from mpcwallet.store.models import Claim, ErrorClass, Keyset, Node, Request, Session
from mpcwallet.store.schema import migrate

__all__ = ["Store"]

_ERROR_CLASSES = ("transient", "permanent", "violation")


def _sql(template: str) -> str:
    """A query with its column lists filled in: ``{K}``, ``{S}``, ``{N}``, ``{R}`` are the
    record classes' COLUMNS (module constants). Values are always bound parameters (``?``)."""
    return template.format(K=Keyset.COLUMNS, S=Session.COLUMNS, N=Node.COLUMNS, R=Request.COLUMNS)


def _now(now: int | None) -> int:
    return int(time.time() * 1000) if now is None else int(now)


class Store:
    """One connection to the session store; thread-safe (one transaction at a time)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, location: str | Path) -> Store:
        """Connect (a SQLite file path, or a ``postgresql://`` URL) and apply migrations."""
        db = connect(location)
        try:
            migrate(db)
        except BaseException:
            db.close()
            raise
        return cls(db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.db.dialect}: {self.db.where})"

    def _one(self, sql: str, params: Sequence[Any], *, write: bool = False) -> Any:
        with self.db.transaction(write=write) as tx:
            rows = tx.execute(_sql(sql), params)
        return rows[0] if rows else None

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
        ts = _now(now)
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
        values = (m.check_pubkey(pubkey), m.check_address(address), _now(now), keyset_id)
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
            (status, _now(now), keyset_id, expect),
            write=True,
        )
        if row is None:
            self._refuse_transition("key set", keyset_id, self.get_keyset(keyset_id).status)
        return Keyset.from_row(row)

    def get_keyset(self, keyset_id: str) -> Keyset:
        row = self._one("SELECT {K} FROM mpc_keysets WHERE keyset_id = ?", (keyset_id,))
        if row is None:
            raise NotFound(f"no key set {keyset_id} in the store", field="keyset_id")
        return Keyset.from_row(row)

    def list_keysets(self, wallet_id: str | None = None) -> list[Keyset]:
        with self.db.transaction(write=False) as tx:
            if wallet_id is None:
                rows = tx.execute(_sql("SELECT {K} FROM mpc_keysets ORDER BY created_at"))
            else:
                rows = tx.execute(
                    _sql("SELECT {K} FROM mpc_keysets WHERE wallet_id = ? ORDER BY created_at"),
                    (wallet_id,),
                )
        return [Keyset.from_row(r) for r in rows]

    @staticmethod
    def _refuse_transition(what: str, ident: str, status: str) -> NoReturn:
        raise BadInput(f"{what} {ident} is {status}; refusing the change", field="status")

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
                (session_id, keyset_id, op, tx_request_id, tx_hash, names, attempt, _now(now)),
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
            (status, _now(now), error_code, error_class, error_node, session_id),
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
                (_now(now), "timeout", int(started_before)),
            )
        return len(rows)

    def get_session(self, session_id: str) -> Session:
        row = self._one("SELECT {S} FROM mpc_sessions WHERE session_id = ?", (session_id,))
        if row is None:
            raise NotFound(f"no session {session_id} in the store", field="session_id")
        return Session.from_row(row)

    def list_sessions(
        self, *, keyset_id: str | None = None, tx_request_id: str | None = None
    ) -> list[Session]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                _sql(
                    "SELECT {S} FROM mpc_sessions"
                    " WHERE (CAST(? AS TEXT) IS NULL OR keyset_id = ?)"
                    " AND (CAST(? AS TEXT) IS NULL OR tx_request_id = ?)"
                    " ORDER BY started_at, session_id"
                ),
                (keyset_id, keyset_id, tx_request_id, tx_request_id),
            )
        return [Session.from_row(r) for r in rows]

    # --- nodes -------------------------------------------------------------------------------

    def heartbeat(self, node_id: str, zone: str, *, now: int | None = None) -> Node:
        """The node answered: register it or mark it healthy (a quarantine stays put)."""
        row = self._one(
            "INSERT INTO mpc_nodes (node_id, zone, status, last_seen_at) VALUES (?, ?, 'healthy',"
            " ?) ON CONFLICT (node_id) DO UPDATE SET zone = excluded.zone,"
            " last_seen_at = excluded.last_seen_at, status = CASE WHEN mpc_nodes.status ="
            " 'quarantined' THEN 'quarantined' ELSE 'healthy' END"
            " RETURNING {N}",
            (m.check_party(node_id), m.check_zone(zone), _now(now)),
            write=True,
        )
        return Node.from_row(row)

    def register_node(self, node_id: str, zone: str) -> Node:
        """Make the node known (from the cluster configuration) without claiming it answered."""
        row = self._one(
            "INSERT INTO mpc_nodes (node_id, zone, status, last_seen_at) VALUES (?, ?,"
            " 'unreachable', NULL) ON CONFLICT (node_id) DO UPDATE SET zone = excluded.zone"
            " RETURNING {N}",
            (m.check_party(node_id), m.check_zone(zone)),
            write=True,
        )
        return Node.from_row(row)

    def mark_unreachable(self, node_id: str) -> Node:
        """The node timed out or dropped: healthy -> unreachable (a quarantine stays put)."""
        row = self._one(
            "UPDATE mpc_nodes SET status = 'unreachable' WHERE node_id = ? AND status = 'healthy'"
            " RETURNING {N}",
            (node_id,),
            write=True,
        )
        return Node.from_row(row) if row is not None else self.get_node(node_id)

    def quarantine_node(
        self,
        node_id: str,
        code: str,
        *,
        session_id: str | None = None,
        now: int | None = None,
    ) -> Node:
        """A protocol violation by this node: excluded until an operator clears it. The first
        quarantine's time, code and session are kept if it is quarantined again."""
        m.check_code(code, "code")
        if session_id is not None:
            m.check_id(session_id, "session_id")
        row = self._one(
            "UPDATE mpc_nodes SET status = 'quarantined', quarantined_at = ?,"
            " quarantine_code = ?, quarantine_session = ? WHERE node_id = ?"
            " AND status <> 'quarantined' RETURNING {N}",
            (_now(now), code, session_id, node_id),
            write=True,
        )
        return Node.from_row(row) if row is not None else self.get_node(node_id)

    def clear_node(self, node_id: str) -> Node:
        """An operator's act: quarantined -> unreachable (healthy again at its next answer)."""
        row = self._one(
            "UPDATE mpc_nodes SET status = 'unreachable', quarantined_at = NULL,"
            " quarantine_code = NULL, quarantine_session = NULL"
            " WHERE node_id = ? AND status = 'quarantined' RETURNING {N}",
            (node_id,),
            write=True,
        )
        if row is None:
            self._refuse_transition("node", node_id, self.get_node(node_id).status)
        return Node.from_row(row)

    def get_node(self, node_id: str) -> Node:
        row = self._one("SELECT {N} FROM mpc_nodes WHERE node_id = ?", (node_id,))
        if row is None:
            raise NotFound(f"no node {node_id} in the store", field="node_id")
        return Node.from_row(row)

    def list_nodes(self) -> list[Node]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(_sql("SELECT {N} FROM mpc_nodes ORDER BY node_id"))
        return [Node.from_row(r) for r in rows]

    # --- idempotent requests -----------------------------------------------------------------

    def claim_request(
        self,
        request_id: str,
        op: str,
        body_hash: str,
        *,
        owner: str | None = None,
        now: int | None = None,
    ) -> Claim:
        """Claim a request id. Exactly one claimant ever gets ``won=True`` and does the work; the
        others get the record as it is (pending, or its result). The same id with another op or
        body is IdempotencyConflict.

        ``owner`` (default: a fresh random token, returned in the claim) names the claimant. A
        claimant whose claim raised StoreUnavailable cannot know whether its insert committed:
        it asks again with the same ``owner`` and wins if it had."""
        m.check_id(request_id, "request_id")
        m.check_code(op, "op")
        m.check_body_hash(body_hash)
        owner = secrets.token_hex(16) if owner is None else m.check_id(owner, "owner")
        ts = _now(now)
        with self.db.transaction(write=True) as tx:
            inserted = tx.execute(
                _sql(
                    "INSERT INTO mpc_requests ({R}) VALUES"
                    " (?, ?, ?, ?, 'pending', NULL, NULL, ?, ?)"
                    " ON CONFLICT (request_id) DO NOTHING RETURNING {R}"
                ),
                (request_id, op, body_hash, owner, ts, ts),
            )
            rows = inserted or tx.execute(
                _sql("SELECT {R} FROM mpc_requests WHERE request_id = ?"), (request_id,)
            )
        request = Request.from_row(rows[0])
        if (request.op, request.body_hash) != (op, body_hash):
            raise IdempotencyConflict(
                f"request id {request_id} was used for another {request.op} request; "
                "use a new id for a new request",
                field="request_id",
            )
        return Claim(request.owner == owner and request.status == "pending", request, owner)

    def finish_request(
        self,
        request_id: str,
        *,
        result: Mapping[str, Any] | None = None,
        error_code: str | None = None,
        now: int | None = None,
    ) -> Request:
        """pending -> succeeded (with its public result) or failed (with an error code)."""
        if (result is None) == (error_code is None):
            raise BadInput("finish a request with a result or an error code", field="result")
        text = m.encode_result(result) if result is not None else None
        if error_code is not None:
            m.check_code(error_code)
        status = "succeeded" if result is not None else "failed"
        row = self._one(
            "UPDATE mpc_requests SET status = ?, result = ?, error_code = ?, updated_at = ?"
            " WHERE request_id = ? AND status = 'pending' RETURNING {R}",
            (status, text, error_code, _now(now), request_id),
            write=True,
        )
        if row is None:
            self._refuse_transition("request", request_id, self.get_request(request_id).status)
        return Request.from_row(row)

    def get_request(self, request_id: str) -> Request:
        row = self._one("SELECT {R} FROM mpc_requests WHERE request_id = ?", (request_id,))
        if row is None:
            raise NotFound(f"no request {request_id} in the store", field="request_id")
        return Request.from_row(row)
