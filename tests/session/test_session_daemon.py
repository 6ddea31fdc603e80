"""The session layer against a REAL co-signer subprocess over a real loopback WebSocket.

Each attack is performed on the wire (raw frames encrypted with the session's real Noise cipher
state, then altered, replayed, reordered or dropped), and the test checks the error both sides
see and that the daemon keeps serving afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.cosigner import Cosigner, wait_for

from mpcwallet.errors import (
    AuthFailed,
    EngineMismatch,
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


async def _raw_answer(cs: Cosigner, hello: dict[str, Any], psk: bytes) -> tuple[str, Any]:
    """Send a hello and a Noise message 1 made with ``psk``; the daemon's raw answer."""
    from mpcwallet.session import secure

    text = json.dumps(hello, separators=(",", ":"))
    conn = secure.start_handshake(
        initiator=True, psk=psk, prologue=wire.prologue(text), static_key=cs.static_public
    )
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(cs.url + "/v1/session")
        await ws.send_str(text)
        await ws.send_bytes(bytes(conn.write_message(wire.identity_payload("ab" * 16))))
        msg = await ws.receive(timeout=10)
        return msg.type.name, msg.data


def _hello(cs: Cosigner, auth: str, key_id: str | None, v: int = wire.PROTOCOL_VERSION) -> Any:
    return {"type": "hello", "v": v, "engine": cs.engine, "auth": auth, "key_id": key_id}


def test_unknown_key_and_wrong_secret_get_the_same_answer(cosigner: Cosigner) -> None:
    """Pre-authentication, a known key id and an unknown one are indistinguishable."""
    from support.proc import json_result, run_mpc

    cp = run_mpc(["--json", "keygen"], cosigner.env)
    assert cp.returncode == 0, cp.stdout
    from conftest import TEST_PASSPHRASE

    from mpcwallet.storage.store import load_share

    header, _ = load_share(Path(json_result(cp)["data"]["share"]), TEST_PASSPHRASE)
    known = header["key_id"]
    answers = [
        asyncio.run(_raw_answer(cosigner, _hello(cosigner, "key", key_id), os.urandom(32)))
        for key_id in (known, "cd" * 16, known, "ef" * 16)
    ]
    kinds = {kind for kind, _ in answers}
    bodies = {data for _, data in answers}
    assert kinds == {"TEXT"} and len(bodies) == 1, answers
    doc = json.loads(bodies.pop())
    assert doc["code"] == "auth_failed" and "did not prove knowledge" in doc["message"]
    assert known not in doc["message"]
    with pytest.raises(AuthFailed, match="did not prove knowledge"):
        asyncio.run(_session(cosigner, _ping, secret=os.urandom(32), auth="key", key_id="ab" * 16))
    wait_for(
        lambda: sum(line.get("event") == "handshake_failed" for line in cosigner.log_lines()) >= 5,
        10,
        "the daemon to log the failed handshakes",
    )
    _still_serving(cosigner)


def test_version_mismatch_is_one_clear_line_on_both_sides(
    cosigner: Cosigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "portable" if cosigner.engine == "cb-mpc" else "cb-mpc"
    with pytest.raises(EngineMismatch, match=f"engine differs: client '{other}'") as info:
        asyncio.run(_session(cosigner, _ping, engine=other))
    assert info.value.field == "engine"
    # An old (v1) client: its hello gets one clear line back.
    kind, data = asyncio.run(_raw_answer(cosigner, _hello(cosigner, "pairing", None, 1), b"x" * 32))
    answer = json.loads(data)
    assert kind == "TEXT" and answer["code"] == "engine_mismatch" and answer["field"] == "version"
    assert answer["message"].startswith("protocol version differs: client 1, co-signer 3")
    # A newer client: the same line, raised as EngineMismatch(field="version").
    monkeypatch.setattr(wire, "PROTOCOL_VERSION", 4)
    with pytest.raises(EngineMismatch) as info:
        asyncio.run(_session(cosigner, _ping))
    assert info.value.field == "version" and "\n" not in info.value.message
    assert "protocol version differs: client 4, co-signer 3" in info.value.message
    monkeypatch.undo()
    assert any(line.get("code") == "engine_mismatch" for line in cosigner.log_lines()), (
        "the daemon logs the mismatch too"
    )


def _sealed(ch: Channel, obj: dict[str, Any]) -> bytes:
    [frame] = ch.codec.seal(wire.control_payload(obj))
    return frame


def test_tampered_frame_ends_the_session(cosigner: Cosigner) -> None:
    async def tamper(ch: Channel, ws: Any) -> None:
        frame = bytearray(_sealed(ch, {"op": "ping"}))
        frame[9] ^= 0x40
        await ws.send_bytes(bytes(frame))
        await ch.recv_control()

    with pytest.raises(SessionViolation, match="failed to decrypt"):
        asyncio.run(_session(cosigner, tamper))
    _still_serving(cosigner)


@pytest.mark.parametrize("attack", ["reorder", "drop"])
def test_reordered_or_dropped_frame_ends_the_session(cosigner: Cosigner, attack: str) -> None:
    async def run(ch: Channel, ws: Any) -> None:
        first = _sealed(ch, {"op": "ping"})
        second = _sealed(ch, {"op": "ping"})
        await ws.send_bytes(second)
        if attack == "reorder":
            await ws.send_bytes(first)
        await ch.recv_control()

    with pytest.raises(SessionViolation, match="failed to decrypt"):
        asyncio.run(_session(cosigner, run))


def test_replayed_frame_mid_keygen_ends_the_session_and_nothing_is_kept(
    cosigner: Cosigner,
) -> None:
    """Replay the keygen request while the daemon waits for the commit: violation, no share."""
    from mpcwallet.engine import Role, get_engine

    engine = get_engine(cosigner.engine)

    async def replay(ch: Channel, ws: Any) -> None:
        request = _sealed(ch, {"op": "keygen", "name": "r"})
        await ws.send_bytes(request)
        assert (await ch.recv_control())["type"] == "accepted"
        await ch.run_engine(Role.P1, ch.party_names, engine.dkg)
        assert (await ch.recv_control())["type"] == "keygen_done"
        await ws.send_bytes(request)  # the same bytes again instead of a commit
        await ch.recv_control()

    with pytest.raises(SessionViolation, match="failed to decrypt"):
        asyncio.run(_session(cosigner, replay))
    shares = cosigner.dir / "shares"
    wait_for(lambda: not list(shares.iterdir()), 10, "the daemon to drop its pending share")
    _still_serving(cosigner)


def test_oversized_frames_end_the_session(cosigner: Cosigner) -> None:
    from mpcwallet.session import secure

    async def big(ch: Channel, ws: Any) -> None:
        await ws.send_bytes(b"\x00" * (secure.MAX_NOISE_MESSAGE + 1))
        await ch.recv_control()

    with pytest.raises(SessionViolation, match="oversized"):
        asyncio.run(_session(cosigner, big))

    async def endless(ch: Channel, ws: Any) -> None:
        # Valid, encrypted "more follows" fragments past the reassembly bound.
        chunk = bytes([secure.MORE]) + b"\x02" * secure.MAX_CHUNK
        for _ in range(wire.MAX_PAYLOAD_BYTES // secure.MAX_CHUNK + 1):
            await ws.send_bytes(ch.codec.conn.encrypt(chunk))
        await ch.recv_control()

    with pytest.raises(SessionViolation, match="oversized"):
        asyncio.run(_session(cosigner, endless))
    _still_serving(cosigner)


def test_deeply_nested_control_message_is_a_violation_at_once(cosigner: Cosigner) -> None:
    async def nested(ch: Channel, ws: Any) -> None:
        body = b'{"op":' + b"[" * 5000 + b"]" * 5000 + b"}"
        for frame in ch.codec.seal(bytes([wire.CONTROL]) + body):
            await ws.send_bytes(frame)
        await ch.recv_control(timeout=10)

    with pytest.raises(SessionViolation, match="nested deeper than 32 levels"):
        asyncio.run(_session(cosigner, nested))
    text = (cosigner.dir / "cosigner.log").read_text()
    assert "RecursionError" not in text and "Traceback" not in text
    _still_serving(cosigner)


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

        return await ch.run_engine(Role.P1, ch.party_names, lambda job: job.transport.receive())

    with pytest.raises(PeerTimeout, match=r"sent nothing for 0\.3 s"):
        asyncio.run(_session(cosigner, wait_engine, round_timeout=0.3))


def test_health_reports_the_failing_check(cosigner: Cosigner) -> None:
    result = health(cosigner.url, token=_token(cosigner))
    assert result["checks"] == {"healthz": "ok", "home": "ok", "engine": "ok", "auth": "ok"}
    from mpcwallet.errors import Unhealthy

    with pytest.raises(Unhealthy) as info:
        health(cosigner.url, token=os.urandom(32))
    assert info.value.field == "auth"
