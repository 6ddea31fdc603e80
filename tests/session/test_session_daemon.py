"""The session layer against a REAL co-signer subprocess over a real loopback WebSocket.

Each attack is performed on the wire (raw frames built with the real codec), and the test
checks the error both sides see and that the daemon keeps serving afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from support.cosigner import Cosigner, wait_for

from mpcwallet.errors import (
    AuthFailed,
    EngineMismatch,
    NotFound,
    PeerTimeout,
    SessionViolation,
)
from mpcwallet.session import wire
from mpcwallet.session.channel import Channel
from mpcwallet.session.client import health
from mpcwallet.session.handshake import client_handshake


def _token(cs: Cosigner) -> bytes:
    return bytes.fromhex((cs.dir / "auth.token").read_text().strip())


async def _session(
    cs: Cosigner,
    fn: Callable[[Channel, Any], Awaitable[Any]],
    *,
    secret: bytes | None = None,
    engine: str | None = None,
    auth: wire.AuthMode = "pairing",
    key_id: str | None = None,
    round_timeout: float = 10.0,
) -> Any:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(cs.url + "/v1/session")
        try:
            ch = await client_handshake(
                ws,
                secret=_token(cs) if secret is None else secret,
                engine=engine or cs.engine,
                auth=auth,
                key_id=key_id,
                round_timeout=round_timeout,
            )
            return await fn(ch, ws)
        finally:
            await ws.close()


async def _ping(ch: Channel, ws: Any) -> dict[str, Any]:
    await ch.send_control({"op": "ping"})
    return await ch.recv_control()


def _still_serving(cs: Cosigner) -> None:
    assert asyncio.run(_session(cs, _ping))["type"] == "pong"


def test_authenticated_ping(cosigner: Cosigner) -> None:
    pong = asyncio.run(_session(cosigner, _ping))
    assert pong == {"type": "pong", "engine": cosigner.engine, "keys": 0}


def test_wrong_pairing_token_is_refused(cosigner: Cosigner) -> None:
    with pytest.raises(AuthFailed, match="did not prove knowledge"):
        asyncio.run(_session(cosigner, _ping, secret=os.urandom(32)))
    _still_serving(cosigner)


def test_server_checks_the_client_proof(cosigner: Cosigner) -> None:
    """A client that skips the server-proof check and sends a bogus proof is refused."""

    async def run() -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(cosigner.url + "/v1/session")
            await ws.send_str(
                json.dumps(
                    {
                        "type": "hello",
                        "v": 1,
                        "engine": cosigner.engine,
                        "auth": "pairing",
                        "key_id": None,
                        "nonce": os.urandom(32).hex(),
                    }
                )
            )
            challenge = json.loads((await ws.receive()).data)
            assert challenge["type"] == "challenge"
            await ws.send_str(json.dumps({"type": "proof", "proof": os.urandom(32).hex()}))
            msg = await ws.receive()
            return json.loads(msg.data)

    answer = asyncio.run(run())
    assert answer["type"] == "error" and answer["code"] == "auth_failed"
    wait_for(
        lambda: any(line.get("event") == "handshake_failed" for line in cosigner.log_lines()),
        10,
        "the daemon to log the failed handshake",
    )


def test_wrong_per_key_secret_and_unknown_key(cosigner: Cosigner) -> None:
    with pytest.raises(NotFound, match="holds no key"):
        asyncio.run(_session(cosigner, _ping, secret=os.urandom(32), auth="key", key_id="ab" * 16))


def test_engine_and_version_mismatch_say_which(cosigner: Cosigner) -> None:
    other = "portable" if cosigner.engine == "cb-mpc" else "cb-mpc"
    with pytest.raises(EngineMismatch, match=f"engine differs: client '{other}'"):
        asyncio.run(_session(cosigner, _ping, engine=other))

    async def old_version() -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(cosigner.url + "/v1/session")
            await ws.send_str(
                json.dumps(
                    {
                        "type": "hello",
                        "v": 99,
                        "engine": cosigner.engine,
                        "auth": "pairing",
                        "key_id": None,
                        "nonce": os.urandom(32).hex(),
                    }
                )
            )
            return json.loads((await ws.receive()).data)

    answer = asyncio.run(old_version())
    assert answer["code"] == "engine_mismatch"
    assert "protocol version differs: client 99" in answer["message"]


def test_tampered_frame_ends_the_session(cosigner: Cosigner) -> None:
    async def tamper(ch: Channel, ws: Any) -> None:
        frame = bytearray(ch.codec.seal(wire.control_payload({"op": "ping"})))
        frame[9] ^= 0x40
        await ws.send_bytes(bytes(frame))
        await ch.recv_control()

    with pytest.raises(SessionViolation, match="MAC"):
        asyncio.run(_session(cosigner, tamper))
    _still_serving(cosigner)


def test_replayed_frame_mid_keygen_ends_the_session_and_nothing_is_kept(
    cosigner: Cosigner,
) -> None:
    """Replay the keygen request while the daemon waits for the commit: violation, no share."""
    from mpcwallet.engine import Role, get_engine

    engine = get_engine(cosigner.engine)

    async def replay(ch: Channel, ws: Any) -> None:
        request = ch.codec.seal(wire.control_payload({"op": "keygen", "name": "r"}))
        await ws.send_bytes(request)
        assert (await ch.recv_control())["type"] == "accepted"
        await ch.run_engine(Role.P1, ("client", "cosigner"), engine.dkg)
        assert (await ch.recv_control())["type"] == "keygen_done"
        await ws.send_bytes(request)  # the same bytes again instead of a commit
        await ch.recv_control()

    with pytest.raises(SessionViolation, match="out of sequence"):
        asyncio.run(_session(cosigner, replay))
    shares = cosigner.dir / "shares"
    wait_for(lambda: not list(shares.iterdir()), 10, "the daemon to drop its pending share")
    _still_serving(cosigner)


def test_oversized_frame_ends_the_session(cosigner: Cosigner) -> None:
    async def big(ch: Channel, ws: Any) -> None:
        await ws.send_bytes(b"\x00" * (wire.MAX_FRAME_BYTES + 1))
        await ch.recv_control()

    with pytest.raises(SessionViolation, match="oversized"):
        asyncio.run(_session(cosigner, big))


def test_origin_header_is_refused_before_upgrade(cosigner: Cosigner) -> None:
    async def run() -> int:
        async with aiohttp.ClientSession() as http:
            try:
                await http.ws_connect(
                    cosigner.url + "/v1/session", headers={"Origin": "https://evil.example"}
                )
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status
        return 101

    assert asyncio.run(run()) == 403


def test_silent_peer_is_a_timeout_in_the_engine_thread(cosigner: Cosigner) -> None:
    """The engine's blocking receive() gives PeerTimeout after the per-round timeout."""

    async def wait_engine(ch: Channel, ws: Any) -> bytes:
        from mpcwallet.engine import Role

        return await ch.run_engine(
            Role.P1, ("client", "cosigner"), lambda job: job.transport.receive()
        )

    with pytest.raises(PeerTimeout, match=r"sent nothing for 0\.3 s"):
        asyncio.run(_session(cosigner, wait_engine, round_timeout=0.3))


def test_health_reports_the_failing_check(cosigner: Cosigner) -> None:
    result = health(cosigner.url, token=_token(cosigner))
    assert result["checks"] == {"healthz": "ok", "engine": "ok", "auth": "ok"}
    from mpcwallet.errors import Unhealthy

    with pytest.raises(Unhealthy) as info:
        health(cosigner.url, token=os.urandom(32))
    assert info.value.field == "auth"
