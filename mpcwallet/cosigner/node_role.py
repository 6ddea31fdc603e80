"""The daemon's second role: a signer node of a t-of-n cluster (issue 22).

The same daemon (aiohttp app, front door, KEK, policy guard, hash-chained audit trail) serves
``GET /v1/node/session`` when its home holds ``cosigner/node/cluster.json`` and ``node.key``
(:mod:`mpcwallet.cosigner.node_state`). The coordinator opens one WebSocket per node and run:

1. coordinator -> node, text: ``{"op", "session_id", "keyset_id", "t", "parties", "quorum",
   "receiver"?, "tx"?, "permit"?}``. The node checks the request against its own configuration
   (cluster id, party list, t), refuses peers it quarantined, and for a sign recomputes the
   digest from ``tx`` (never a digest it is sent), checks the signing permit
   (:mod:`mpcwallet.topology.permit`: signature under the pinned permit key, key set, TTL,
   ``tx_hash`` = its digest, single use in its own record) and its own policy (the co-signer's
   guard: rules, limits, approvals).
2. both ways, binary: node-channel frames (opaque to the coordinator), relayed in order.
3. node -> coordinator, text: ``{"type": "result", ...}`` or ``{"type": "error", "code",
   "class", "peer", "proven"}``. Keygen and refresh are two-phase: the result is "prepared"
   (the share is written ``.pending``) and only ``{"type": "commit"}`` makes it the share;
   anything else (abort, a closed socket) discards it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from mpcwallet.cosigner import logs
from mpcwallet.cosigner.app import SERVICE
from mpcwallet.cosigner.facts import tx_facts
from mpcwallet.cosigner.frontdoor import mark_authenticated
from mpcwallet.cosigner.node_backups import backup_fields
from mpcwallet.cosigner.node_session import NodeRun, classify, threadsafe_sender
from mpcwallet.cosigner.node_state import NodeState, is_node, node_dir, zeroise
from mpcwallet.engine.base_mp import MpJob, threshold
from mpcwallet.errors import BadInput, MpcError, PolicyRefused
from mpcwallet.evm.address import address_from_public_key
from mpcwallet.evm.txjson import parse_tx, signing_digest
from mpcwallet.session.coordinator_link import COORDINATOR, handshake, link
from mpcwallet.session.node_keys import NAME_RE
from mpcwallet.storage.envelope import DerivedKey
from mpcwallet.topology.permit import SigningPermit, check_permit

NODE = web.AppKey("node", NodeState)
NODE_PATH = "/v1/node/session"
ROUND_TIMEOUT = 8.0
MAX_FRAME = 16 * 1024 * 1024


def attach(app: web.Application, cosigner_root: Any, kek: DerivedKey) -> None:
    """Add the node role to the daemon's app when this home is a cluster node."""
    if not is_node(cosigner_root):
        return
    app[NODE] = NodeState(cosigner_root, kek)
    app.router.add_get(NODE_PATH, node_endpoint)
    app.router.add_get("/v1/node/info", node_info)


async def node_info(request: web.Request) -> web.Response:
    node = request.app[NODE]
    return web.json_response(
        {
            "name": node.name,
            "cluster_id": node.config.cluster_id,
            "static_key": node.keypair.public.hex(),
            "quarantined": sorted(node.quarantined()),
        }
    )


def _plan(node: NodeState, doc: Any) -> dict[str, Any]:
    """The start request, checked against this node's own configuration."""
    if not isinstance(doc, dict):
        raise BadInput("the session request must be a JSON object", field="request")
    op = doc.get("op")
    if op not in ("keygen", "sign", "refresh"):
        raise BadInput("op must be keygen, sign or refresh", field="op")
    sid = doc.get("session_id")
    if not isinstance(sid, str) or not NAME_RE.match(sid):
        raise BadInput("session_id is not a valid id", field="session_id")
    parties = doc.get("parties")
    if parties != list(node.config.party_names):
        raise BadInput("parties must be the cluster's nodes in cluster.json order", field="parties")
    t = doc.get("t")
    if type(t) is not int or not 2 <= t <= len(parties):
        raise BadInput("t is out of range", field="t")
    quorum = doc.get("quorum")
    if not isinstance(quorum, list) or node.name not in quorum or not set(quorum) <= set(parties):
        raise BadInput(
            "the quorum must list this node and only nodes of the cluster", field="quorum"
        )
    if op != "sign" and sorted(quorum) != sorted(parties):
        raise BadInput(f"{op} needs every node of the cluster", field="quorum")
    if op == "sign" and len(set(quorum)) != t:
        raise BadInput("a signing quorum has exactly t nodes", field="quorum")
    barred = sorted(set(quorum) & set(node.quarantined()))
    if barred:
        raise PolicyRefused(
            f"this node quarantined {', '.join(barred)} after a protocol violation; an "
            "operator must clear it first",
            field="quorum",
        )
    return {**doc, "quorum": list(quorum)}


async def _authenticated_request(node: NodeState, ws: web.WebSocketResponse) -> Any:
    """The session request, sealed on a KK link with the pinned coordinator key."""

    async def receive() -> bytes:
        msg = await ws.receive(timeout=ROUND_TIMEOUT)
        if msg.type != WSMsgType.BINARY:
            raise BadInput("expected a coordinator-link frame", field="request")
        return bytes(msg.data)

    first = await ws.receive(timeout=ROUND_TIMEOUT)
    if first.type != WSMsgType.TEXT:
        raise BadInput("the first message must name the session", field="request")
    sid = json.loads(first.data).get("session_id") if first.data.startswith("{") else None
    if not isinstance(sid, str) or not NAME_RE.match(sid):
        raise BadInput("session_id is not a valid id", field="session_id")
    channel = link(
        node.config.cluster_id,
        sid,
        node.name,
        node.keypair,
        COORDINATOR,
        node.config.coordinator_key,
    )
    try:
        await handshake(channel, ws.send_bytes, receive)
        doc = json.loads(channel.open(await receive()))
    except MpcError as exc:
        logs.audit(
            "coordinator_refused", f"session refused: {exc.code}", session=sid, code=exc.code
        )
        raise
    if not isinstance(doc, dict) or doc.get("session_id") != sid:
        raise BadInput("the sealed request names another session", field="session_id")
    return doc


def _check_sign(node: NodeState, plan: dict[str, Any]) -> bytes:
    """The digest from the tx itself, the permit, and this node's policy (sync parts)."""
    raw = plan.get("tx")
    tx = parse_tx(raw if isinstance(raw, dict) else {})
    digest = signing_digest(tx)
    ctx = {
        "session": plan["session_id"],
        "op": "sign",
        "key_id": plan["keyset_id"],
        "digest": digest.hex(),
    }
    try:
        permit = SigningPermit.from_json(plan.get("permit"))
        check_permit(
            permit, permit_key=node.config.permit_key, keyset_id=plan["keyset_id"], digest=digest
        )
        node.use_permit(permit.nonce)
    except MpcError as exc:
        logs.audit("sign_permit_rejected", f"permit refused: {exc.code}", code=exc.code, **ctx)
        raise
    logs.audit("sign_permit_accepted", "signing permit accepted", permit=permit.nonce, **ctx)
    plan["_tx"] = tx
    plan["_nonce"] = permit.nonce
    return digest


async def node_endpoint(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE]
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=None)
    await ws.prepare(request)
    loop = asyncio.get_running_loop()
    sid = "-"
    try:
        plan = _plan(node, await _authenticated_request(node, ws))
        sid = plan["session_id"]
        digest = b""
        if plan["op"] == "sign":
            digest = _check_sign(node, plan)
            facts = tx_facts(
                plan["_tx"], key_id=plan["keyset_id"], digest=digest, key_name=plan["keyset_id"]
            )
            decision = await request.app[SERVICE].guard.check_sign(facts, session=sid)
        run = NodeRun(
            node.config,
            node.name,
            node.keypair,
            sid,
            plan["parties"],
            plan["quorum"],
            threadsafe_sender(loop, ws.send_bytes, ROUND_TIMEOUT),
            op=plan["op"],
            timeout=float(plan.get("round_timeout", ROUND_TIMEOUT)),
        )
    except (MpcError, ValueError) as exc:
        err = exc if isinstance(exc, MpcError) else BadInput("the request is not JSON")
        await _send(
            ws,
            {
                "type": "error",
                "code": err.code,
                "class": "permanent",
                "message": str(err),
                "peer": None,
                "proven": False,
            },
        )
        await ws.close()
        return ws
    # The run is checked (and a sign's permit too): lift the front door's handshake deadline.
    mark_authenticated(request)
    logs.log(
        "node_session_started",
        f"{plan['op']} started",
        session=sid,
        op=plan["op"],
        key_id=plan["keyset_id"],
    )
    ctl: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    reader = asyncio.create_task(_read(ws, run, ctl))
    try:
        outcome = await asyncio.to_thread(_protocol, node, run, plan, digest)
    except BaseException as exc:  # noqa: BLE001 - every failure is reported, then re-raised below
        report = classify(exc, run)
        if plan["op"] == "sign":
            await request.app[SERVICE].guard.record(decision, error=exc)
        _audit_failure(node, plan, report)
        await _send(ws, {"type": "error", **report})
        reader.cancel()
        await ws.close()
        return ws
    if plan["op"] == "sign":
        node.permit_done(plan["_nonce"])
        await request.app[SERVICE].guard.record(decision)
        logs.audit(
            "sign_completed",
            "cluster sign completed",
            session=sid,
            op="sign",
            key_id=plan["keyset_id"],
            digest=digest.hex(),
        )
        await _send(ws, {"type": "result", **outcome})
    else:
        await _two_phase(node, ws, ctl, plan, outcome)
    reader.cancel()
    with contextlib.suppress(Exception):
        await ws.close()
    return ws


def _protocol(node: NodeState, run: NodeRun, plan: dict[str, Any], digest: bytes) -> dict[str, Any]:
    from mpcwallet.engine import get_mp_engine

    engine = get_mp_engine("cb-mpc")
    run.handshake()
    parties = plan["parties"]
    job = MpJob(
        tuple(parties),
        parties.index(node.name),
        threshold(plan["t"], parties),
        tuple(plan["quorum"]),
        run,
        session_id=plan["session_id"].encode(),
    )
    if plan["op"] == "keygen":
        if node.has_share(plan["keyset_id"]):
            raise BadInput("this node already holds a share of that key set", field="keyset_id")
        blob = engine.dkg(job)
        pub = engine.public_key(blob)
        node.save_pending(plan["keyset_id"], blob, pub)
        return {
            "public_key": pub.hex(),
            "address": address_from_public_key(pub),
            **backup_fields(node.config, node.name, plan, engine, blob),
        }
    share = node.load_share(plan["keyset_id"])
    try:
        if plan["op"] == "refresh":
            new = engine.refresh(job, bytes(share))
            pub = engine.public_key(new)
            node.save_pending(plan["keyset_id"], new, pub)
            return {
                "public_key": pub.hex(),
                "address": address_from_public_key(pub),
                **backup_fields(node.config, node.name, plan, engine, new),
            }
        der = engine.sign(job, bytes(share), digest, plan.get("receiver", plan["quorum"][0]))
        return {"signature": der.hex() if der else None, "digest": digest.hex()}
    finally:
        zeroise(share)


async def _two_phase(
    node: NodeState,
    ws: web.WebSocketResponse,
    run_ctl: asyncio.Queue[dict[str, Any]],
    plan: dict[str, Any],
    outcome: dict[str, Any],
) -> None:
    keyset = plan["keyset_id"]
    await _send(ws, {"type": "prepared", **outcome})
    try:
        msg = await asyncio.wait_for(run_ctl.get(), timeout=ROUND_TIMEOUT * 4)
    except TimeoutError:
        msg = {}
    if msg.get("type") == "commit":
        node.commit(keyset)
        logs.audit(
            f"{plan['op']}_completed",
            f"cluster {plan['op']} committed",
            session=plan["session_id"],
            op=plan["op"],
            key_id=keyset,
            address=outcome["address"],
        )
        await _send(ws, {"type": "committed"})
    else:
        node.abort(keyset)
        logs.audit(
            f"{plan['op']}_failed",
            f"cluster {plan['op']} aborted; pending removed",
            session=plan["session_id"],
            op=plan["op"],
            key_id=keyset,
        )


async def _read(
    ws: web.WebSocketResponse, run: NodeRun, ctl: asyncio.Queue[dict[str, Any]]
) -> None:
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                run.deliver(bytes(msg.data))
            elif msg.type == WSMsgType.TEXT:
                with contextlib.suppress(ValueError):
                    doc = json.loads(msg.data)
                    if isinstance(doc, dict):
                        ctl.put_nowait(doc)
    finally:
        run.cancel()
        ctl.put_nowait({"type": "closed"})


def _audit_failure(node: NodeState, plan: dict[str, Any], report: dict[str, Any]) -> None:
    sid = plan["session_id"]
    logs.audit(
        f"{plan['op']}_failed",
        f"cluster {plan['op']} failed: {report['code']}",
        session=sid,
        op=plan["op"],
        key_id=plan["keyset_id"],
        code=report["code"],
    )
    if report.get("proven") and report.get("peer"):
        node.quarantine(report["peer"], report["code"], sid)
        logs.audit(
            "peer_quarantined",
            f"node {report['peer']} quarantined: {report['code']}",
            session=sid,
            name=report["peer"],
            code=report["code"],
        )
        logs.log(
            "peer_quarantined",
            f"node {report['peer']} quarantined",
            session=sid,
            level=logging.WARNING,
            name=report["peer"],
        )


async def _send(ws: web.WebSocketResponse, doc: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):
        await ws.send_str(json.dumps(doc))


__all__ = ["NODE", "NODE_PATH", "attach", "node_dir"]
