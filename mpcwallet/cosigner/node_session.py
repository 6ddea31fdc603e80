"""One protocol run on a signer node: cb-mpc's blocking ``MpTransport`` over KK node channels
whose frames go through the coordinator's WebSocket (the untrusted relay).

The engine runs in a worker thread and calls :meth:`NodeRun.send` / :meth:`NodeRun.receive`;
the daemon's event loop feeds received frames in (:meth:`NodeRun.deliver`) and writes the
frames this node seals. One :class:`~mpcwallet.session.node_channel.NodeChannel` per peer in
the run, keyed by the pinned static keys of cluster.json; its prologue binds cluster, session
and both names. Every wait is bounded (``timeout``: :class:`PeerTimeout`); a closed relay
cancels the run at once (:class:`PeerUnreachable`).

Blame (:func:`classify`): a frame that fails the channel (Noise AEAD, order, route) may be the
relay's doing, so it is a violation without a culprit. A message that authenticated on the
channel and then fails a cb-mpc check is the sender's: provable when the run has exactly one
peer (a two-party quorum); with more peers cb-mpc does not say which one, so no one is blamed.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from mpcwallet.errors import (
    MpcError,
    PeerTimeout,
    PeerUnreachable,
    ProtocolViolation,
    SessionViolation,
)
from mpcwallet.session.node_channel import Binding, ChannelViolation, NodeChannel, parse_route
from mpcwallet.session.node_keys import StaticKeypair
from mpcwallet.testhooks import node_send_hook
from mpcwallet.topology.config import ClusterConfig

SendFrame = Callable[[bytes], None]


class NodeRun:
    def __init__(
        self,
        config: ClusterConfig,
        me: str,
        keypair: StaticKeypair,
        session_id: str,
        parties: Sequence[str],
        participants: Sequence[str],
        send_frame: SendFrame,
        *,
        op: str,
        timeout: float,
    ) -> None:
        self.me = me
        self.op = op
        self.parties = tuple(parties)
        self.peers = tuple(p for p in participants if p != me)
        self.timeout = timeout
        self._send_frame = send_frame
        self.channels = {
            p: NodeChannel(
                Binding(config.cluster_id, session_id, me, p), keypair, config.node(p).static_key
            )
            for p in self.peers
        }
        self.inbox: dict[str, queue.Queue[bytes | None]] = {p: queue.Queue() for p in self.peers}
        self.cancelled = threading.Event()
        self.stray: ChannelViolation | None = None
        self._sent = 0

    # --- from the event loop -----------------------------------------------------------------

    def deliver(self, frame: bytes) -> None:
        try:
            route = parse_route(frame)
        except MpcError:
            self.stray = ChannelViolation("the relay sent a frame that is not a node frame")
            self.cancel()
            return
        if route.recipient != self.me or route.sender not in self.inbox:
            self.stray = ChannelViolation.about(route.sender, "a frame routed to the wrong run")
            self.cancel()
            return
        self.inbox[route.sender].put(frame)

    def cancel(self) -> None:
        self.cancelled.set()
        for q in self.inbox.values():
            q.put(None)

    # --- from the protocol thread -------------------------------------------------------------

    def _next(self, peer: str) -> bytes:
        if self.cancelled.is_set() and self.inbox[peer].empty():
            raise PeerUnreachable("the session was cancelled (a node or the relay went away)")
        try:
            frame = self.inbox[peer].get(timeout=self.timeout)
        except queue.Empty:
            exc = PeerTimeout(f"node {peer} sent nothing for {self.timeout:g} s")
            exc.peer = peer  # type: ignore[attr-defined]  # whom this node waited for
            raise exc from None
        if frame is None:
            if self.stray is not None:
                raise self.stray
            raise PeerUnreachable("the session was cancelled (a node or the relay went away)")
        return frame

    def handshake(self) -> None:
        """KK with every peer: all hellos out first, then replies, so no pair waits on another."""
        for p in self.peers:
            if self.channels[p].binding.initiator:
                self._send_frame(self.channels[p].hello())
        for p in self.peers:
            if not self.channels[p].binding.initiator:
                self._send_frame(self.channels[p].accept(self._next(p)))
        for p in self.peers:
            if self.channels[p].binding.initiator:
                self.channels[p].complete(self._next(p))

    def send(self, to: int, data: bytes) -> None:
        self._sent += 1
        data = node_send_hook(self.op, self._sent, data)
        self._send_frame(self.channels[self.parties[to]].seal(data))

    def receive(self, sender: int) -> bytes:
        name = self.parties[sender]
        return self.channels[name].open(self._next(name))

    def receive_all(self, senders: Sequence[int]) -> list[bytes]:
        return [self.receive(s) for s in senders]


def threadsafe_sender(
    loop: asyncio.AbstractEventLoop, send: Callable[[bytes], Any], timeout: float
) -> SendFrame:
    """A blocking frame writer for the protocol thread over the loop's WebSocket."""

    def write(frame: bytes) -> None:
        fut = asyncio.run_coroutine_threadsafe(send(frame), loop)
        try:
            fut.result(timeout)
        except Exception:  # noqa: BLE001 - any failure to write means the relay is gone
            raise PeerUnreachable("the relay connection is gone") from None

    return write


def classify(exc: BaseException, run: NodeRun) -> dict[str, Any]:
    """The error report a node sends the coordinator: code, class, and a culprit if provable."""
    if isinstance(exc, ChannelViolation | SessionViolation):
        peer = getattr(exc, "peer", "") or None
        return {
            "code": "session_violation",
            "class": "violation",
            "peer": peer,
            "proven": False,
            "message": str(exc),
        }
    if isinstance(exc, ProtocolViolation):
        peer = run.peers[0] if len(run.peers) == 1 else None
        return {
            "code": exc.code,
            "class": "violation",
            "peer": peer,
            "proven": peer is not None,
            "message": str(exc),
        }
    if isinstance(exc, MpcError):
        cls = "transient" if exc.kind == "transient" else "permanent"
        return {
            "code": exc.code,
            "class": cls,
            "peer": getattr(exc, "peer", None),  # a timeout names the node waited for
            "proven": False,
            "message": str(exc),
        }
    return {
        "code": "internal_error",
        "class": "transient",
        "peer": None,
        "proven": False,
        "message": "the node failed internally",
    }
