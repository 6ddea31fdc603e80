"""The coordinator's authenticated link to a node: the same KK channel as between two nodes
(:mod:`mpcwallet.session.node_channel`), with the coordinator as the party named
``coordinator`` and its static key pinned in cluster.json (``coordinator_key``).

Before a node starts any run, the coordinator sends ``{"session_id"}`` in clear, both sides
run the KK handshake for (cluster, session, coordinator, node), and the session request comes
sealed on that channel: a node only runs what the pinned coordinator asked for. The
coordinator stays untrusted for everything else (permits, digests and the node-to-node
channels are checked by the nodes themselves).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mpcwallet.session.node_channel import Binding, NodeChannel
from mpcwallet.session.node_keys import StaticKeypair

COORDINATOR = "coordinator"


def link(
    cluster_id: str,
    session_id: str,
    local: str,
    keypair: StaticKeypair,
    peer: str,
    peer_public: bytes,
) -> NodeChannel:
    return NodeChannel(Binding(cluster_id, session_id, local, peer), keypair, peer_public)


async def handshake(
    channel: NodeChannel,
    send: Callable[[bytes], Awaitable[object]],
    receive: Callable[[], Awaitable[bytes]],
) -> None:
    """KK over any frame transport; the party whose name sorts first initiates."""
    if channel.binding.initiator:
        await send(channel.hello())
        channel.complete(await receive())
    else:
        await send(channel.accept(await receive()))
