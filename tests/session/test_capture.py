"""What a network observer sees: a recording TCP proxy between a real `mpc` and a real daemon.

One capture covers keygen (`mpc keygen`), sign (`mpc sign`) and refresh (``run_refresh``), all
through the proxy. Then:

* after each session's clear hello, no plaintext appears on the wire: no JSON key, no field of
  the signed transaction, no digest, public key, address, key id, secret, or any 16-byte window
  of a message the engine sent or received;
* a passive observer who also holds the pairing token and the co-signer's static public key
  replays the Noise symmetric state from the capture (it can: everything but the ``es`` and
  ``ee`` DH is public or the PSK) and computes the session id, but cannot read message 1 (``es``
  needs the co-signer's static private key), and neither the old design's derivation (HKDF over
  the token and the nonces) nor any derivation from what it knows opens a captured frame or
  gives the per-key secret keygen and refresh established.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSPHRASE
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from support.cosigner import Cosigner
from support.proc import json_result, run_mpc
from support.relay import LoopbackRelay

from mpcwallet.session import channel as channel_mod
from mpcwallet.session import secure, wire
from mpcwallet.storage.store import load_share

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"
REPLAY_DEADLINE = 4.0  # the daemon's handshake deadline in this module (seconds)


# --- the recording proxy ----------------------------------------------------------------------


@dataclass
class Conn:
    up: bytearray = field(default_factory=bytearray)  # client -> daemon
    down: bytearray = field(default_factory=bytearray)  # daemon -> client


class RecordingProxy(LoopbackRelay):
    """A loopback TCP proxy on its own event loop thread; records every byte per connection."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.conns: list[Conn] = []

    def accept(self) -> tuple[bytearray | None, bytearray | None] | None:
        conn = Conn()
        self.conns.append(conn)
        return conn.up, conn.down


# --- reading WebSocket messages back out of a byte stream (RFC 6455 section 5.2) -------------


def ws_messages(stream: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """(HTTP head, [(opcode, unmasked payload)]) of one direction of one connection."""
    head, sep, rest = stream.partition(b"\r\n\r\n")
    assert sep, "no HTTP head"
    out: list[tuple[int, bytes]] = []
    i = 0
    while i + 2 <= len(rest):
        b0, b1 = rest[i], rest[i + 1]
        opcode, masked, n = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
        i += 2
        if n == 126:
            (n,) = struct.unpack(">H", rest[i : i + 2])
            i += 2
        elif n == 127:
            (n,) = struct.unpack(">Q", rest[i : i + 8])
            i += 8
        mask = rest[i : i + 4] if masked else b""
        i += 4 if masked else 0
        payload = rest[i : i + n]
        i += n
        if masked:
            payload = bytes(c ^ mask[j % 4] for j, c in enumerate(payload))
        assert b0 & 0x80, "unexpected fragmented WebSocket message (websockets, aiohttp send none)"
        out.append((opcode, payload))
    return head, out


@dataclass
class Session:
    hello: str
    up: list[bytes]  # BINARY client -> daemon: Noise message 1, then transport messages
    down: list[bytes]  # BINARY daemon -> client: Noise message 2, then transport messages


def sessions(conns: list[Conn]) -> list[Session]:
    out = []
    for conn in conns:
        if b"GET /v1/session" not in bytes(conn.up[:200]):
            continue  # /healthz
        head_up, up = ws_messages(bytes(conn.up))
        head_down, down = ws_messages(bytes(conn.down))
        assert b"permessage-deflate" not in head_up + head_down  # nothing hides in compression
        texts = [p for op, p in up if op == 0x1]
        assert len(texts) == 1 and up[0][0] == 0x1, "exactly one clear message: the hello"
        assert all(op != 0x1 for op, _ in down)
        out.append(
            Session(
                texts[0].decode(),
                [p for op, p in up if op == 0x2],
                [p for op, p in down if op == 0x2],
            )
        )
    return out


# --- the scenario -----------------------------------------------------------------------------


@dataclass
class Capture:
    sessions: list[Session]
    token: bytes
    static_public: bytes  # the co-signer's (public: /healthz)
    header: dict[str, Any]
    keygen_secret: bytes
    refresh_secret: bytes
    client_install_id: str
    digest: bytes
    engine_messages: list[bytes]
    session_ids: list[str]  # as the daemon logged them (the first 16 bytes, hex)
    cosigner: Cosigner
    proxy: RecordingProxy


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capture]:
    import os

    from conftest import TEST_COSIGNER_PASSPHRASE
    from support.cosigner import running_cosigner

    home = tmp_path_factory.mktemp("capture") / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPC_")}
    env.update(
        MPC_HOME=str(home),
        MPC_PASSPHRASE=TEST_PASSPHRASE,
        MPC_COSIGNER_PASSPHRASE=TEST_COSIGNER_PASSPHRASE,
        MPC_COSIGNER_HANDSHAKE_DEADLINE=str(REPLAY_DEADLINE),
    )
    if os.environ.get("MPC_ENGINE"):
        env["MPC_ENGINE"] = os.environ["MPC_ENGINE"]
    with running_cosigner(env) as cs, RecordingProxy(cs.port) as proxy:
        yield _run_scenario(cs, proxy)


def _run_scenario(cs: Cosigner, proxy: RecordingProxy) -> Capture:
    from mpcwallet.evm.txjson import parse_tx, signing_digest
    from mpcwallet.session.client import run_refresh

    env = {**cs.env, "MPC_COSIGNER_URL": f"ws://127.0.0.1:{proxy.port}"}
    cp = run_mpc(["--json", "keygen"], env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    share_path = Path(json_result(cp)["data"]["share"])
    header, body = load_share(share_path, TEST_PASSPHRASE)
    cp = run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], env)
    assert cp.returncode == 0, cp.stdout + cp.stderr

    # Refresh in-process, recording every engine message the client sends or receives.
    seen: list[bytes] = []
    send, receive = channel_mod.EngineTransport.send, channel_mod.EngineTransport.receive

    def rec_send(self: Any, data: bytes) -> None:
        seen.append(bytes(data))
        send(self, data)

    def rec_receive(self: Any) -> bytes:
        data = receive(self)
        seen.append(bytes(data))
        return data

    mp = pytest.MonkeyPatch()
    # The in-process client belongs to the daemon's home (it only talks to its own co-signer).
    mp.setenv("MPC_HOME", str(cs.home))
    mp.setattr(channel_mod.EngineTransport, "send", rec_send)
    mp.setattr(channel_mod.EngineTransport, "receive", rec_receive)
    try:
        new, _generation = run_refresh(
            env["MPC_COSIGNER_URL"],
            share_header=header,
            body=body,
            write_pending=lambda b, g: None,
        )
    finally:
        mp.undo()
    assert seen, "the refresh exchanged engine messages"
    token = bytes.fromhex((cs.dir / "auth.token").read_text().strip())
    tx = json.loads(EXAMPLE.read_text())
    logged = [
        line["session"]
        for line in cs.log_lines()
        if line.get("event") == "request" and isinstance(line.get("session"), str)
    ]
    return Capture(
        sessions=sessions(proxy.conns),
        token=token,
        static_public=cs.static_public,
        header=header,
        keygen_secret=body.auth_secret,
        refresh_secret=new.auth_secret,
        client_install_id=(Path(cs.env["MPC_HOME"]) / "install.id").read_text().strip(),
        digest=signing_digest(parse_tx(tx)),
        engine_messages=seen,
        session_ids=logged,
        cosigner=cs,
        proxy=proxy,
    )


def test_no_plaintext_after_the_hello(capture: Capture) -> None:
    ops = [json.loads(s.hello) for s in capture.sessions]
    # keygen (pairing), sign and refresh (key); `mpc keygen` may add pairing health checks.
    assert {(h["auth"], h["key_id"]) for h in ops} >= {
        ("pairing", None),
        ("key", capture.header["key_id"]),
    }
    assert len(capture.sessions) >= 3
    tx = json.loads(EXAMPLE.read_text())
    pub = bytes.fromhex(capture.header["public_key"])
    address = capture.header["address"]
    needles: list[bytes] = [
        b'"op"',
        b'"type"',
        b'"key_id"',
        b'"tx"',
        b'"digest"',
        b'"public_key"',
        b"keygen",
        b"commit",
        tx["to"].encode(),
        tx["to"][2:].lower().encode(),
        bytes.fromhex(tx["to"][2:]),
        tx["value"].encode(),
        tx["maxFeePerGas"].encode(),
        capture.digest,
        capture.digest.hex().encode(),
        pub,
        pub.hex().encode(),
        address.encode(),
        address[2:].lower().encode(),
        capture.header["key_id"].encode(),
        capture.token,
        capture.token.hex().encode(),
        capture.keygen_secret,
        capture.refresh_secret,
        capture.client_install_id.encode(),
    ]
    # 16-byte windows of every engine message of the refresh (start, middle, end).
    for m in capture.engine_messages:
        for start in {0, max(0, len(m) // 2 - 8), max(0, len(m) - 16)}:
            if len(m) >= 16:
                needles.append(m[start : start + 16])
    wire_bytes = b"".join(b"".join(s.up) + b"".join(s.down) for s in capture.sessions)
    assert len(wire_bytes) > 10_000  # a real capture: DKG and refresh flights are large
    found = [n for n in needles if n in wire_bytes]
    assert not found, f"plaintext on the wire after the handshake: {found[:3]!r}"
    # The check can fail: the clear hello of a key session does carry its key id.
    assert any(capture.header["key_id"] in s.hello for s in capture.sessions)


# --- the passive observer (Noise spec rev 34, sections 4.3 and 5.2, replayed by hand) ---------


def _hkdf(ck: bytes, ikm: bytes, n: int) -> list[bytes]:
    temp = hmac.new(ck, ikm, hashlib.sha256).digest()
    outs, prev = [], b""
    for i in range(1, n + 1):
        prev = hmac.new(temp, prev + bytes([i]), hashlib.sha256).digest()
        outs.append(prev)
    return outs


def _opens(key: bytes, frame: bytes, nonce: int = 0) -> bool:
    try:
        ChaCha20Poly1305(key).decrypt(b"\0" * 4 + nonce.to_bytes(8, "little"), frame, None)
    except InvalidTag:
        return False
    return True


def test_passive_observer_with_the_token_learns_no_key(capture: Capture) -> None:
    keygen = next(s for s in capture.sessions if json.loads(s.hello)["auth"] == "pairing")
    m1, m2 = keygen.up[0], keygen.down[0]
    c2s, s2c = keygen.up[1], keygen.down[1]  # the first transport frame each way
    # Everything the observer can do: the symmetric state without the es and ee DH.
    assert secure.PROTOCOL_NAME == b"Noise_NKpsk0_25519_ChaChaPoly_SHA256"
    h = hashlib.sha256(secure.PROTOCOL_NAME).digest()
    ck = h
    h = hashlib.sha256(h + wire.prologue(keygen.hello)).digest()
    h = hashlib.sha256(h + capture.static_public).digest()  # pre-message <- s
    ck, temp_h, k = _hkdf(ck, capture.token, 3)  # psk
    h = hashlib.sha256(h + temp_h).digest()
    e_i, ct1 = m1[:32], m1[32:]
    h = hashlib.sha256(h + e_i).digest()
    ck, k = _hkdf(ck, e_i, 2)  # e, with a PSK also MixKey
    nonce0 = b"\0" * 12
    # Message 1 is keyed by es as well: closed to the observer (NNpsk0 let it read this).
    with pytest.raises(InvalidTag):
        ChaCha20Poly1305(k).decrypt(nonce0, ct1, h)
    assert capture.client_install_id.encode() not in m1
    h = hashlib.sha256(h + ct1).digest()
    e_r, ct2 = m2[:32], m2[32:]
    h = hashlib.sha256(h + e_r).digest()
    ck, k = _hkdf(ck, e_r, 2)
    h = hashlib.sha256(h + ct2).digest()
    # The observer knows the session id (it is public) ...
    assert h.hex()[:32] in capture.session_ids
    # ... but message 2's payload needs ee: closed to it.
    assert not _opens(k, ct2)
    # The old design's keys: HKDF over the token, salt = both nonces (now: both ephemerals).
    old_transcript = hashlib.sha256(keygen.hello.encode() + e_i + e_r).digest()
    old = HKDF(
        algorithm=hashes.SHA256(),
        length=96,
        salt=e_i + e_r,
        info=b"mpcwallet/session/v1 keys" + old_transcript,
    ).derive(capture.token)
    candidates = [old[:32], old[32:64], old[64:], k, ck, capture.token]
    candidates += _hkdf(ck, b"", 2)  # Split() without ee
    candidates += _hkdf(capture.token, h, 2) + _hkdf(h, capture.token, 2)
    for key in candidates:
        assert not _opens(key, c2s) and not _opens(key, s2c)
    # Nor the per-key secret keygen established (or the refreshed one).
    pk = bytes.fromhex(capture.header["public_key"])
    info = b"mpcwallet/session/v2 per-key secret\x00" + capture.header["key_id"].encode()
    for ikm in [b"".join(_hkdf(ck, b"", 2)), capture.token, old[64:], ck, k]:
        for salt in (h, e_i + e_r):
            guess = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=salt, info=info + b"\x00" + pk
            ).derive(ikm)
            assert guess not in (capture.keygen_secret, capture.refresh_secret)


# --- a replayed hello and message 1 (issue 20, item 5) -------------------------------------------


def test_a_replayed_hello_and_message_1_never_count_as_authenticated(capture: Capture) -> None:
    """Replaying a real key session's first two messages gets the daemon's message 2 (message 1
    verifies: it was made with the right secret), but nothing more: the connection stays
    unauthenticated, is cut at the handshake deadline, and no share is decrypted for it."""
    import time

    from websockets.asyncio.client import connect

    cs, proxy = capture.cosigner, capture.proxy
    cp = run_mpc(["--json", "keygen", "--name", "replayed"], cs.env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    key_id = json_result(cp)["data"]["key_id"]
    seen = len(proxy.conns)
    env = {**cs.env, "MPC_COSIGNER_URL": f"ws://127.0.0.1:{proxy.port}"}
    cp = run_mpc(["--json", "sign", "--key", "replayed", "--tx", str(EXAMPLE)], env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    recorded = next(
        s for s in sessions(proxy.conns[seen:]) if json.loads(s.hello)["key_id"] == key_id
    )

    def connections() -> dict[str, Any]:
        status, doc = cs.healthz()
        assert status == 200
        return dict(doc["connections"], shares_loaded=doc.get("shares_loaded"))

    before = connections()

    async def replay() -> tuple[float, bytes, list[dict[str, Any]]]:
        samples = []
        async with connect(cs.url + "/v1/session", compression=None) as ws:
            t0 = time.monotonic()
            await ws.send(recorded.hello)
            await ws.send(recorded.up[0])
            answer = await ws.recv()  # message 2: the daemon verified message 1
            assert isinstance(answer, bytes)
            samples.append(await asyncio.to_thread(connections))
            try:
                await asyncio.wait_for(ws.recv(), REPLAY_DEADLINE + 10)
            except Exception:
                pass
            closed_after = time.monotonic() - t0
        samples.append(await asyncio.to_thread(connections))
        return closed_after, answer, samples

    closed_after, answer, (during, after) = asyncio.run(replay())
    assert len(answer) > 32
    # While it waits it is one more unauthenticated connection, never an authenticated one ...
    assert during["authenticated"] == before["authenticated"], (before, during)
    assert during["unauthenticated"] >= before["unauthenticated"] + 1, (before, during)
    # ... it is cut at the deadline like any other stranger ...
    assert REPLAY_DEADLINE * 0.9 <= closed_after < REPLAY_DEADLINE + 5, closed_after
    assert after["expired"] == before["expired"] + 1, (before, after)
    # ... and the daemon decrypted no share for it (the PSK does not come from the share).
    assert after["shares_loaded"] == before["shares_loaded"], (before, after)
