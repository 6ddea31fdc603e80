"""One session as the coordinator runs it: a WebSocket to each participating node, the start
request, then a relay of opaque node-channel frames until every node reports.

The coordinator reads only a frame's clear route
(:func:`mpcwallet.session.node_channel.parse_route`) and forwards it to the recipient's
socket. One task per sending node forwards its frames in order, so each sender -> recipient
direction is a FIFO (the channel needs it, docs/cluster.md).
The first failure ends the run: a node that reports an error, a socket that closes without a
report (a dead node), a node that cannot be reached, or the deadline. Every other socket is then
closed, which cancels the nodes' runs at once; nodes discard ``.pending`` shares.

Keygen and refresh are two-phase: every node must report ``prepared`` with the same public key
before any gets ``commit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from mpcwallet.errors import MpcError
from mpcwallet.session.coordinator_link import COORDINATOR, handshake, link
from mpcwallet.session.node_channel import parse_route
from mpcwallet.session.node_keys import StaticKeypair
from mpcwallet.testhooks import relay_hook
from mpcwallet.topology.config import ClusterConfig

MAX_FRAME = 16 * 1024 * 1024
CONNECT_TIMEOUT = 3.0


@dataclass
class Outcome:
    """``results`` per node on success; otherwise ``error`` = {code, class, node, proven,
    reporter}: ``node`` is the node to blame or exclude (if known)."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _http_url(url: str) -> str:
    return url.replace("ws://", "http://", 1).replace("wss://", "https://", 1).rstrip("/")


class _Run:
    def __init__(
        self,
        config: ClusterConfig,
        participants: list[str],
        start: dict[str, Any],
        deadline: float,
        keypair: StaticKeypair,
    ) -> None:
        self.config = config
        self.keypair = keypair
        self.participants = participants
        self.start = start
        self.deadline = deadline
        self.socks: dict[str, aiohttp.ClientWebSocketResponse] = {}
        self.out = Outcome()
        self.failed = asyncio.Event()
        self.reports: dict[str, dict[str, Any]] = {}
        self.finished: set[str] = set()  # nodes whose last message arrived (then they close)

    def fail(self, error: dict[str, Any]) -> None:
        if self.out.error is None:
            self.out.error = error
        self.failed.set()

    async def connect(self, http: aiohttp.ClientSession) -> bool:
        async def one(name: str) -> None:
            url = _http_url(self.config.node(name).url) + "/v1/node/session"
            try:
                ws = await asyncio.wait_for(
                    http.ws_connect(
                        url,
                        max_msg_size=MAX_FRAME,
                        heartbeat=None,
                        timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                    ),
                    timeout=CONNECT_TIMEOUT,  # a hung node (SIGSTOP, overload) is replaced
                )
            except (aiohttp.ClientError, OSError, TimeoutError):
                self.fail(
                    {
                        "code": "peer_unreachable",
                        "class": "transient",
                        "node": name,
                        "message": f"node {name} is not reachable",
                    }
                )
                return
            self.socks[name] = ws

        await asyncio.gather(*(one(n) for n in self.participants))
        return self.out.error is None

    async def pump(self, name: str, phase_done: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
        ws = self.socks[name]
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                frame = bytes(msg.data)
                try:
                    route = parse_route(frame)
                except MpcError:
                    self.fail(
                        {
                            "code": "malformed_message",
                            "class": "violation",
                            "node": name,
                            "proven": True,
                            "message": f"node {name} sent a bad route",
                        }
                    )
                    return
                dest = self.socks.get(route.recipient)
                if route.sender != name or dest is None:
                    self.fail(
                        {
                            "code": "malformed_message",
                            "class": "violation",
                            "node": name,
                            "proven": True,
                            "message": f"node {name} misrouted a frame",
                        }
                    )
                    return
                with contextlib.suppress(Exception):
                    await dest.send_bytes(relay_hook(frame))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                doc = json.loads(msg.data)
                if doc.get("type") == "error":
                    self.reports[name] = doc
                    # a violation names the peer it can pin (or none); a timeout names the peer
                    # waited for; any other failure is the reporter's own
                    peer = doc.get("peer")
                    blame = peer if peer in self.participants and peer != name else None
                    self.fail(
                        {
                            "code": doc.get("code", "error"),
                            "class": doc.get("class"),
                            "node": blame
                            if blame
                            else (None if doc.get("class") == "violation" else name),
                            "proven": bool(doc.get("proven")),
                            "reporter": name,
                            "message": str(doc.get("message", ""))[:300],
                        }
                    )
                    return
                if doc.get("type") in ("result", "committed"):
                    self.finished.add(name)
                await phase_done.put((name, doc))
        if not self.failed.is_set() and name not in self.finished:
            # closed without a report: the node (or its link) is gone
            self.fail(
                {
                    "code": "peer_unreachable",
                    "class": "transient",
                    "node": name,
                    "message": f"node {name} dropped out of the session",
                }
            )

    async def run(self, http: aiohttp.ClientSession, two_phase: bool) -> Outcome:
        if not await self.connect(http):
            await self.close()
            return self.out
        phase: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        try:
            await asyncio.gather(*(self._authenticate(n) for n in self.participants))
        except (MpcError, aiohttp.ClientError, OSError, TimeoutError, ValueError):
            await self.close()
            return self.out
        pumps = [asyncio.create_task(self.pump(n, phase)) for n in self.participants]
        try:
            await self._collect(phase, "prepared" if two_phase else "result")
            if self.out.ok and two_phase:
                pubs = {d.get("public_key") for d in self.out.results.values()}
                if len(pubs) != 1:
                    self.fail(
                        {
                            "code": "protocol_violation",
                            "class": "violation",
                            "node": None,
                            "message": "the nodes ended with different public keys",
                        }
                    )
                else:
                    for ws in self.socks.values():
                        await ws.send_str(json.dumps({"type": "commit"}))
                    committed = dict(self.out.results)
                    await self._collect(phase, "committed")
                    self.out.results = committed
        finally:
            await self.close()
            for p in pumps:
                p.cancel()
        return self.out

    async def _collect(self, phase: asyncio.Queue[tuple[str, dict[str, Any]]], kind: str) -> None:
        got: dict[str, dict[str, Any]] = {}
        loop = asyncio.get_running_loop()
        while len(got) < len(self.participants) and not self.failed.is_set():
            left = self.deadline - loop.time()
            if left <= 0:
                missing = sorted(set(self.participants) - set(got))
                self.fail(
                    {
                        "code": "peer_timeout",
                        "class": "transient",
                        "node": missing[0] if missing else None,
                        "message": f"no {kind} from {', '.join(missing)} in time",
                    }
                )
                return
            get = asyncio.create_task(phase.get())
            stop = asyncio.create_task(self.failed.wait())
            done, _ = await asyncio.wait(
                {get, stop}, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            stop.cancel()
            if get not in done:
                get.cancel()
                continue
            name, doc = get.result()
            if doc.get("type") == kind:
                got[name] = doc
        if not self.failed.is_set():
            self.out.results = got

    async def _authenticate(self, name: str) -> None:
        """KK with the node under the pinned coordinator key, then the sealed request."""
        ws = self.socks[name]
        sid = str(self.start["session_id"])

        async def receive() -> bytes:
            msg = await ws.receive(timeout=CONNECT_TIMEOUT)
            if msg.type != aiohttp.WSMsgType.BINARY:
                raise ValueError(f"node {name} did not answer the link handshake")
            return bytes(msg.data)

        try:
            await ws.send_str(json.dumps({"session_id": sid}))
            channel = link(
                self.config.cluster_id,
                sid,
                COORDINATOR,
                self.keypair,
                name,
                self.config.node(name).static_key,
            )
            await handshake(channel, ws.send_bytes, receive)
            await ws.send_bytes(channel.seal(json.dumps(self.start).encode()))
        except (MpcError, aiohttp.ClientError, OSError, TimeoutError, ValueError):
            self.fail(
                {
                    "code": "peer_unreachable",
                    "class": "transient",
                    "node": name,
                    "message": f"node {name} did not complete the coordinator link",
                }
            )
            raise

    async def close(self) -> None:
        for ws in self.socks.values():
            with contextlib.suppress(Exception):
                await ws.close()


async def run_session(
    config: ClusterConfig,
    participants: list[str],
    start: dict[str, Any],
    *,
    timeout: float,
    two_phase: bool,
    keypair: StaticKeypair,
) -> Outcome:
    """Run one session among ``participants``; never raises for a node's failure."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as http:
        return await _Run(config, participants, start, deadline, keypair).run(http, two_phase)


async def node_health(config: ClusterConfig, timeout: float = 2.0) -> dict[str, bool]:
    """Whether each node's /healthz answers ok."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:

        async def one(name: str) -> bool:
            try:
                async with http.get(_http_url(config.node(name).url) + "/healthz") as r:
                    return r.status == 200
            except (aiohttp.ClientError, OSError, TimeoutError):
                return False

        names = list(config.party_names)
        return dict(zip(names, await asyncio.gather(*(one(n) for n in names)), strict=True))
