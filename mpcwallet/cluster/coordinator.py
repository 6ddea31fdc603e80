"""The coordinator (issue 22): CreateKeyset, SignTx, Refresh over the store; holds no share.

It chooses who takes part, runs each session through :mod:`mpcwallet.cluster.relay`, and
records everything in the store (:mod:`mpcwallet.store`): key sets, sessions with their error
class, node status, request claims. It is not trusted: nodes check permits and digests
themselves and talk to each other through end-to-end channels it cannot read.

Errors (the taxonomy of issue 22):
- transient (a node unreachable, dropped, timed out): that node is excluded for this request
  and the signature retried with another quorum, within ``retry_bound`` seconds in all; with
  fewer than t candidates left the request fails at once naming the missing nodes.
- permanent (invalid permit, digest mismatch, policy): terminal, no retry.
- violation: a node proved to have sent a message that fails a cb-mpc check is quarantined
  in the store (until an operator clears it) and the signature retried without it; a
  violation nobody can pin on a node (a channel failure: maybe the relay) fails the request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from typing import Any

from mpcwallet.cluster import backups, metrics
from mpcwallet.cluster.relay import Outcome, node_health, run_session
from mpcwallet.errors import (
    BadInput,
    MpcError,
    NotFound,
    PeerUnreachable,
    PermitWrongDigest,
    ProtocolViolation,
)
from mpcwallet.evm.address import address_from_public_key
from mpcwallet.evm.signature import assemble
from mpcwallet.evm.txjson import parse_tx, signing_digest
from mpcwallet.session.node_keys import StaticKeypair
from mpcwallet.store.repo import Store
from mpcwallet.topology.config import ClusterConfig

log = logging.getLogger("mpcwallet.cluster")


class NotEnoughNodes(PeerUnreachable):
    code = "not_enough_nodes"


def key_ref(cluster_id: str, keyset_id: str) -> str:
    return f"mpc-tecdsa://{cluster_id}/{keyset_id}"


def _error(err: dict[str, Any]) -> MpcError:
    cls = {"violation": ProtocolViolation, "transient": PeerUnreachable}.get(
        str(err.get("class")), MpcError
    )
    exc = cls(f"{err.get('code')}: {err.get('message', '')}".strip(": "))
    exc.code = str(err.get("code") or cls.code)  # type: ignore[misc]
    return exc


class Coordinator:
    def __init__(
        self,
        config: ClusterConfig,
        store: Store,
        keypair: StaticKeypair,
        *,
        retry_bound: float = 30.0,
        round_timeout: float = 20.0,
        allow_without_backups: bool = False,
    ) -> None:
        """``keypair``: the coordinator's static key, the one cluster.json pins."""
        if keypair.public != config.coordinator_key:
            raise BadInput(
                "the coordinator key is not the one cluster.json pins (coordinator_key)",
                field="coordinator_key",
            )
        self.config = config
        self.allow_without_backups = allow_without_backups
        self.keypair = keypair
        self.store = store
        self.retry_bound = retry_bound
        self.round_timeout = round_timeout
        self._lock = asyncio.Lock()  # the store connection is used from one task at a time
        for node in config.nodes:
            store.register_node(node.name, node.zone)

    async def _db(self, fn: Any, *args: Any, **kw: Any) -> Any:
        async with self._lock:
            return await asyncio.to_thread(fn, *args, **kw)

    def _log(self, event: str, session: str, **fields: Any) -> None:
        log.info(event, extra={"ctx": {"session": session, **fields}})

    async def _session(
        self,
        keyset_id: str,
        op: str,
        participants: list[str],
        start: dict[str, Any],
        *,
        attempt: int = 1,
        tx_request_id: str | None = None,
        tx_hash: str | None = None,
    ) -> tuple[str, Outcome]:
        sid = "s-" + os.urandom(12).hex()
        await self._db(
            self.store.start_session,
            sid,
            keyset_id,
            op,
            participants,
            tx_request_id=tx_request_id,
            tx_hash=tx_hash,
            attempt=attempt,
        )
        self._log("session_started", sid, op=op, keyset_id=keyset_id, quorum=participants)
        t0 = time.monotonic()
        out = await run_session(
            self.config,
            participants,
            {**start, "session_id": sid},
            timeout=self.round_timeout,
            two_phase=op != "sign",
            keypair=self.keypair,
        )
        err = out.error
        if err is None:
            await self._db(self.store.end_session, sid, "succeeded")
        else:
            await self._db(
                self.store.end_session,
                sid,
                "failed",
                error_code=err["code"],
                error_class=err["class"],
                error_node=err.get("node"),
            )
        outcome = "succeeded" if err is None else "failed"
        metrics.observe(op, outcome, None if err is None else err["class"], time.monotonic() - t0)
        self._log(
            "session_ended",
            sid,
            op=op,
            outcome=outcome,
            error=None if err is None else {k: err.get(k) for k in ("code", "class", "node")},
        )
        proven = err is not None and err["class"] == "violation" and err.get("proven")
        if err is not None and proven and err.get("node"):
            await self._db(self.store.quarantine_node, err["node"], err["code"], session_id=sid)
            metrics.quarantined(err["node"])
            self._log("node_quarantined", sid, node=err["node"], code=err["code"])
        return sid, out

    # --- CreateKeyset --------------------------------------------------------------------------

    async def create_keyset(self, t: int, n: int, tenant: str, wallet_id: str) -> dict[str, Any]:
        if n != self.config.n or not 2 <= t <= n:
            raise BadInput(
                f"this cluster makes keys of n={self.config.n} nodes with 2 <= t <= n", field="n"
            )
        parties = list(self.config.party_names)
        if self.config.recovery is None and not self.allow_without_backups:
            backups.gate(
                [{"node": p, "status": "missing", "reason": "no recovery keys"} for p in parties],
                allow_without_backups=False,
            )
        keyset_id = "ks-" + os.urandom(8).hex()
        await self._db(self.store.create_keyset, keyset_id, wallet_id, t, n, parties)
        down = await self._unavailable(parties)
        if down:
            await self._db(self.store.set_keyset_status, keyset_id, "failed", expect="pending")
            raise NotEnoughNodes(
                f"keygen needs all {n} nodes; missing: {', '.join(down)}", field="nodes"
            )
        start = {
            "op": "keygen",
            "keyset_id": keyset_id,
            "t": t,
            "parties": parties,
            "quorum": parties,
            "generation": 0,
        }
        _, out = await self._session(keyset_id, "keygen", parties, start)
        if not out.ok:
            await self._db(self.store.set_keyset_status, keyset_id, "failed", expect="pending")
            raise _error(out.error or {})
        pub = next(iter(out.results.values()))["public_key"]
        address = address_from_public_key(bytes.fromhex(pub))
        try:  # not ready until every node's backup verified (issue 25)
            reports = await self._db(
                backups.collect, self.store, self.config, keyset_id, 0, out.results, pub
            )
            backups.gate(reports, allow_without_backups=self.allow_without_backups)
        except MpcError:
            await self._db(self.store.set_keyset_status, keyset_id, "failed", expect="pending")
            raise
        await self._db(self.store.activate_keyset, keyset_id, pub, address)
        return {
            "keyset_id": keyset_id,
            "public_key": pub,
            "address": address,
            "t": t,
            "n": n,
            "tenant": tenant,
            "wallet_id": wallet_id,
            "key_ref": key_ref(self.config.cluster_id, keyset_id),
            "backups": reports,
        }

    async def _unavailable(self, names: list[str]) -> list[str]:
        nodes = {n.node_id: n for n in await self._db(self.store.list_nodes)}
        health = await node_health(self.config)
        return [n for n in names if nodes[n].status == "quarantined" or not health.get(n)]

    # --- SignTx --------------------------------------------------------------------------------

    async def sign_tx(
        self,
        keyset_id: str,
        tx: dict[str, Any],
        permit: dict[str, Any] | None,
        *,
        request_id: str | None = None,
        prefer: list[str] | None = None,
    ) -> dict[str, Any]:
        """Sign ``tx`` under ``permit``; ``prefer`` puts those nodes first in the quorum
        choice (an operator's or a test's hint; unhealthy or quarantined ones are skipped)."""
        request_id = request_id or ("r-" + os.urandom(12).hex())
        body = json.dumps({"k": keyset_id, "tx": tx, "p": permit}, sort_keys=True).encode()
        owner = os.urandom(8).hex()
        claim = await self._db(
            self.store.claim_request,
            request_id,
            "sign",
            hashlib.sha256(body).hexdigest(),
            owner=owner,
        )
        if not claim.won:
            return self._replay(claim.request)
        try:
            result = await self._sign(keyset_id, tx, permit, request_id, prefer or [])
        except MpcError as exc:
            await self._db(self.store.finish_request, request_id, error_code=exc.code)
            raise
        await self._db(self.store.finish_request, request_id, result=result)
        return result

    def _replay(self, req: Any) -> dict[str, Any]:
        if req.status == "succeeded":
            return {**dict(req.result), "replayed": True}
        if req.status == "failed":
            raise MpcError(f"request {req.request_id} failed before: {req.error_code}")
        from mpcwallet.errors import Busy

        raise Busy(f"request {req.request_id} is still being signed", field="request_id")

    async def _sign(
        self,
        keyset_id: str,
        tx_doc: dict[str, Any],
        permit: dict[str, Any] | None,
        request_id: str,
        prefer: list[str],
    ) -> dict[str, Any]:
        keyset = await self._db(self.store.get_keyset, keyset_id)
        if keyset.status != "active":
            raise NotFound(
                f"key set {keyset_id} is not active ({keyset.status})", field="keyset_id"
            )
        tx = parse_tx(tx_doc)
        digest = signing_digest(tx)
        if isinstance(permit, dict) and str(permit.get("tx_hash", "")).lower() != (
            "0x" + digest.hex()
        ):
            raise PermitWrongDigest(
                "the permit's tx_hash is not this transaction's digest", field="tx_hash"
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_bound
        excluded: dict[str, str] = {}
        attempt = 0
        while True:
            nodes = {n.node_id: n for n in await self._db(self.store.list_nodes)}
            for name in keyset.parties:
                if nodes[name].status == "quarantined":
                    excluded.setdefault(name, "quarantined")
            candidates = [p for p in keyset.parties if p not in excluded]
            candidates.sort(key=lambda p: (p not in prefer, nodes[p].status != "healthy"))
            if len(candidates) < keyset.t:
                missing = ", ".join(f"{n} ({why})" for n, why in sorted(excluded.items()))
                raise NotEnoughNodes(
                    f"cannot reach {keyset.t} healthy nodes of {keyset_id}; missing: {missing}",
                    field="nodes",
                )
            if loop.time() > deadline:
                raise PeerUnreachable(f"no signature within {self.retry_bound:g} s", field="nodes")
            attempt += 1
            quorum = [p for p in keyset.parties if p in candidates[: keyset.t]]
            start = {
                "op": "sign",
                "keyset_id": keyset_id,
                "t": keyset.t,
                "parties": list(keyset.parties),
                "quorum": quorum,
                "receiver": quorum[0],
                "tx": tx_doc,
                "permit": permit,
            }
            _, out = await self._session(
                keyset_id,
                "sign",
                quorum,
                start,
                attempt=attempt,
                tx_request_id=request_id,
                tx_hash="0x" + digest.hex(),
            )
            if out.ok:
                der = bytes.fromhex(out.results[quorum[0]]["signature"])
                signed = assemble(tx, der, bytes.fromhex(keyset.pubkey or ""))
                for name in quorum:
                    await self._db(self.store.heartbeat, name, nodes[name].zone)
                return {
                    "keyset_id": keyset_id,
                    "request_id": request_id,
                    "quorum": quorum,
                    "signature": {"r": hex(signed.r), "s": hex(signed.s), "v": signed.v},
                    "raw_tx": "0x" + signed.raw.hex(),
                    "tx_hash": "0x" + signed.tx_hash.hex(),
                    "from": signed.sender,
                    "attempts": attempt,
                }
            err = out.error or {}
            node = err.get("node")
            if err.get("class") == "transient" and node:
                excluded[node] = err.get("code", "transient")
                await self._db(self.store.mark_unreachable, node)
                metrics.availability(node, False)
                continue
            if err.get("class") == "violation" and err.get("proven") and node:
                excluded[node] = "quarantined"
                continue
            raise _error(err)

    # --- Refresh -------------------------------------------------------------------------------

    async def refresh(self, keyset_id: str) -> dict[str, Any]:
        keyset = await self._db(self.store.get_keyset, keyset_id)
        parties = list(keyset.parties)
        down = await self._unavailable(parties)
        if down:
            raise NotEnoughNodes(
                f"refresh needs all {keyset.n} nodes; missing: {', '.join(down)}", field="nodes"
            )
        current = await self._db(self.store.current_generation, keyset_id)
        generation = 1 if current is None else current + 1
        start = {
            "op": "refresh",
            "keyset_id": keyset_id,
            "t": keyset.t,
            "parties": parties,
            "quorum": parties,
            "generation": generation,
        }
        _, out = await self._session(keyset_id, "refresh", parties, start)
        if not out.ok:
            raise _error(out.error or {})
        pub = next(iter(out.results.values()))["public_key"]
        if pub != keyset.pubkey:
            raise ProtocolViolation("refresh changed the public key")
        # The nodes committed: the new generation's share points and backups (a backup that
        # does not verify shows in the result and in `mpc cluster backup verify`).
        reports = await self._db(
            backups.collect, self.store, self.config, keyset_id, generation, out.results, pub
        )
        return {
            "generation": generation,
            "backups": reports,
            "keyset_id": keyset_id,
            "address": address_from_public_key(bytes.fromhex(pub)),
            "public_key": pub,
        }

    # --- status --------------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        health = await node_health(self.config)
        out = []
        for n in await self._db(self.store.list_nodes):
            if n.status != "quarantined":
                if health.get(n.node_id):
                    await self._db(self.store.heartbeat, n.node_id, n.zone)
                else:
                    await self._db(self.store.mark_unreachable, n.node_id)
            metrics.availability(n.node_id, bool(health.get(n.node_id)))
            out.append(
                {
                    "node": n.node_id,
                    "zone": n.zone,
                    "up": bool(health.get(n.node_id)),
                    "status": "quarantined"
                    if n.status == "quarantined"
                    else ("healthy" if health.get(n.node_id) else "unreachable"),
                }
            )
        keysets = [
            {"keyset_id": k.keyset_id, "address": k.address, "t": k.t, "n": k.n, "status": k.status}
            for k in await self._db(self.store.list_keysets)
        ]
        return {
            "cluster_id": self.config.cluster_id,
            "t": self.config.t,
            "n": self.config.n,
            "nodes": out,
            "keysets": keysets,
        }

    async def clear(self, node: str) -> dict[str, Any]:
        before = await self._db(self.store.get_node, node)
        n = await self._db(self.store.clear_node, node)
        # The operator's release is an audited act: one warning line with what was lifted.
        log.warning(
            "node_cleared",
            extra={"ctx": {"node": node, "was": before.status, "code": before.quarantine_code}},
        )
        return {"node": n.node_id, "status": n.status}
