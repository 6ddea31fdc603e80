"""Nodes and idempotent requests in the session store (see :mod:`mpcwallet.store.repo`)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from mpcwallet.errors import BadInput, IdempotencyConflict, NotFound
from mpcwallet.store import models as m
from mpcwallet.store.base import Repo, now_ms, sql
from mpcwallet.store.models import Claim, Node, Request

__all__ = ["NodesAndRequests"]


class NodesAndRequests(Repo):
    # --- nodes -------------------------------------------------------------------------------

    def heartbeat(self, node_id: str, zone: str, *, now: int | None = None) -> Node:
        """The node answered: register it or mark it healthy (a quarantine stays put)."""
        row = self._one(
            "INSERT INTO mpc_nodes (node_id, zone, status, last_seen_at) VALUES (?, ?, 'healthy',"
            " ?) ON CONFLICT (node_id) DO UPDATE SET zone = excluded.zone,"
            " last_seen_at = excluded.last_seen_at, status = CASE WHEN mpc_nodes.status ="
            " 'quarantined' THEN 'quarantined' ELSE 'healthy' END"
            " RETURNING {N}",
            (m.check_party(node_id), m.check_zone(zone), now_ms(now)),
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
            (now_ms(now), code, session_id, node_id),
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
        missing = NotFound(f"no node {node_id} in the store", field="node_id")
        row = self._found("SELECT {N} FROM mpc_nodes WHERE node_id = ?", (node_id,), missing)
        return Node.from_row(row)

    def list_nodes(self) -> list[Node]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(sql("SELECT {N} FROM mpc_nodes ORDER BY node_id"))
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
        ts = now_ms(now)
        with self.db.transaction(write=True) as tx:
            inserted = tx.execute(
                sql(
                    "INSERT INTO mpc_requests ({R}) VALUES"
                    " (?, ?, ?, ?, 'pending', NULL, NULL, ?, ?)"
                    " ON CONFLICT (request_id) DO NOTHING RETURNING {R}"
                ),
                (request_id, op, body_hash, owner, ts, ts),
            )
            rows = inserted or tx.execute(
                sql("SELECT {R} FROM mpc_requests WHERE request_id = ?"), (request_id,)
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
            (status, text, error_code, now_ms(now), request_id),
            write=True,
        )
        if row is None:
            self._refuse_transition("request", request_id, self.get_request(request_id).status)
        return Request.from_row(row)

    def get_request(self, request_id: str) -> Request:
        missing = NotFound(f"no request {request_id} in the store", field="request_id")
        row = self._found(
            "SELECT {R} FROM mpc_requests WHERE request_id = ?", (request_id,), missing
        )
        return Request.from_row(row)
