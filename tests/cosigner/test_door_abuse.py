"""Wire abuse against one real daemon (issue 20, items 6, 12, 14, 15): a WebSocket frame without
a mask, engine messages flooded before an op, a peer-chosen op name in the log, and hundreds of
idle connections held open while the owner signs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import subprocess_env
from support.cosigner import Cosigner, running_cosigner, wait_for
from support.proc import json_result, run_mpc
from support.relay import LoopbackRelay

from mpcwallet.errors import MpcError
from mpcwallet.session.channel import Channel

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"
UPGRADE = (
    "GET /v1/session HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cosigner, dict[str, Any]]]:
    """One daemon for the module, default front-door caps, one key made by a real `mpc keygen`."""
    home = tmp_path_factory.mktemp("door-abuse") / "home"
    env = subprocess_env(home)
    if os.environ.get("MPC_ENGINE"):
        env["MPC_ENGINE"] = os.environ["MPC_ENGINE"]
    with running_cosigner(env) as cs:
        keygen = run_mpc(["--json", "keygen"], cs.env)
        assert keygen.returncode == 0, keygen.stdout + keygen.stderr
        yield cs, json_result(keygen)["data"]


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set so far (VmHWM), in KiB: what a flood made it hold, even
    if it gave the memory back afterwards."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def pairing_session(cs: Cosigner) -> Channel:
    """A session authenticated with the daemon's pairing token (what any paired client holds)."""
    from mpcwallet.session.handshake import client_handshake
    from mpcwallet.session.ws_client import open_websocket

    token = bytes.fromhex((cs.dir / "auth.token").read_text().strip())
    stack = open_websocket(cs.url + "/v1/session", endpoint=cs.url)
    ws = await stack.__aenter__()
    ch = await client_handshake(
        ws,
        secret=token,
        engine=cs.engine,
        auth="pairing",
        key_id=None,
        round_timeout=30,
        cosigner_static=cs.static_public,
    )
    ch._test_stack = stack  # type: ignore[attr-defined]  # closed with the channel below
    return ch


async def close_session(ch: Channel) -> None:
    await ch.aclose()
    await ch._test_stack.__aexit__(None, None, None)  # type: ignore[attr-defined]


# --- item 15: RFC 6455 section 5.1, a client frame without a mask -------------------------------


def read_frames(sock: socket.socket) -> list[tuple[int, bytes]]:
    """Server frames (opcode, payload) until the daemon closes the TCP connection."""
    buf = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        buf += chunk
    out = []
    i = 0
    while i + 2 <= len(buf):
        opcode, n = buf[i] & 0x0F, buf[i + 1] & 0x7F
        i += 2
        if n == 126:
            (n,) = struct.unpack(">H", buf[i : i + 2])
            i += 2
        out.append((opcode, buf[i : i + n]))
        i += n
    return out


def test_an_unmasked_client_frame_closes_the_connection(
    daemon: tuple[Cosigner, dict[str, Any]],
) -> None:
    cs, _ = daemon
    hello = json.dumps(
        {"type": "hello", "v": 2, "engine": "no-such-engine", "auth": "pairing", "key_id": None}
    ).encode()
    with socket.create_connection(("127.0.0.1", cs.port), timeout=10) as sock:
        sock.sendall(UPGRADE.format(port=cs.port).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        # FIN + TEXT, mask bit clear: a server MUST close the connection (RFC 6455 section 5.1).
        sock.sendall(bytes([0x81, len(hello)]) + hello)
        frames = read_frames(sock)
    # The hello was never read (an engine mismatch would be answered in a TEXT frame); the
    # daemon's only word is a close with 1002, protocol error (section 7.4.1).
    assert frames and all(op == 0x8 for op, _ in frames), frames
    assert struct.unpack(">H", frames[0][1][:2])[0] == 1002
    assert cs.healthz()[1]["connections"]["wire_refused"] == 1


def _frame(payload: bytes, *, masked: bool = True, opcode: int = 0x2) -> bytes:
    n = len(payload)
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack(">Q", n)
    return head + (b"\x01\x02\x03\x04" if masked else b"") + payload  # payload left unmasked


def test_the_mask_check_follows_frames_split_anywhere() -> None:
    from mpcwallet.cosigner.maskcheck import MaskCheck

    healthz = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    upgrade = UPGRADE.format(port=1).encode()
    frames = b"".join(_frame(b"x" * n) for n in (0, 5, 125, 126, 300, 65535, 65536, 70000))
    stream = healthz + upgrade + frames
    for step in (1, 2, 3, 7, 64, 4096, len(stream)):
        check = MaskCheck()
        for i in range(0, len(stream), step):
            assert check.feed(stream[i : i + step]) is None, step
        assert check.frames
        assert check.feed(_frame(b"late", masked=False)) == "an unmasked frame"
    # Before the upgrade the bytes are HTTP, never read as frames; a head that never ends is cut.
    check = MaskCheck()
    assert check.feed(healthz + healthz) is None and not check.frames
    assert check.feed(b"X-A: " + b"a" * 70_000) == "an oversized request head"


# --- item 14: a peer-chosen op name never reaches a log line whole or raw ------------------------


def test_a_huge_odd_op_name_is_bounded_and_escaped_in_the_log(
    daemon: tuple[Cosigner, dict[str, Any]],
) -> None:
    cs, _ = daemon
    op = '\x1b[2J\x1b[31mFAKE\r\n{"level":"error"}\x00\u202e' + "Q" * 120_000

    async def scenario() -> MpcError:
        ch = await pairing_session(cs)
        try:
            await ch.send_control({"op": op})
            with pytest.raises(MpcError) as err:
                await ch.recv_control()
            return err.value
        finally:
            await close_session(ch)

    err = asyncio.run(scenario())
    assert err.code == "bad_input"
    assert len(err.message) < 1000  # the refusal does not echo the name whole either
    log = cs.log_file.read_bytes()
    out = b"".join(p.read_bytes() for p in cs.home.parent.glob("cosigner-*.out"))  # text stderr
    for where, text in (("cosigner.log", log), ("stderr", out)):
        assert (
            b"QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ" not in text
        )
        assert b"\x1b" not in text and b"\x00" not in text and "\u202e".encode() not in text, where
        assert b"FAKE\r" not in text and b"FAKE\n" not in text, where
        assert max(len(line) for line in text.splitlines()) < 2048, where
    # The JSON log stays one valid object per line, and names the refusal.
    lines = [json.loads(line) for line in log.splitlines()]
    assert any(x.get("event") == "failed" and x.get("code") == "bad_input" for x in lines)


# --- item 12: engine messages before an op are bounded ----------------------------------------


def test_engine_messages_before_an_op_end_the_session_and_memory_stays_bounded(
    daemon: tuple[Cosigner, dict[str, Any]],
) -> None:
    cs, _ = daemon
    before = peak_rss_kib(cs.pid)
    chunk = os.urandom(1 << 20)  # the largest engine message there is
    total = 400  # 400 MiB if nothing stops it

    async def scenario() -> tuple[int, MpcError | None]:
        ch = await pairing_session(cs)
        sent = 0
        err: MpcError | None = None
        try:
            while sent < total:
                try:
                    await ch.send_engine(chunk)
                except MpcError:
                    break  # the daemon closed; its reason is read below
                sent += 1
            try:
                await ch.recv_control(timeout=30)
            except MpcError as exc:
                err = exc
        finally:
            await close_session(ch)
        return sent, err

    sent, err = asyncio.run(scenario())
    after = peak_rss_kib(cs.pid)
    # The daemon never held the flood in memory (the bound is a few MiB; 400 MiB was sent) ...
    assert after - before < 96 * 1024, f"peak RSS {before} KiB -> {after} KiB, {sent} MiB sent"
    # ... because it ended the session as a violation well before the flood was through. (The
    # client may not read the daemon's abort: the daemon closes with the flood unread, and the
    # kernel's reset can overtake it.)
    assert sent < total
    assert err is not None
    assert err.code == "session_violation" or err.code == "peer_unreachable", err
    if err.code == "session_violation":
        assert "queue" in err.message, err.message
    failed = [x for x in cs.log_lines() if x.get("event") == "failed"]
    assert failed and failed[-1]["code"] == "session_violation", failed[-1:]
    status, doc = cs.healthz()
    assert status == 200 and doc["status"] == "ok"


# --- item 6: idle connections held open do not lock the owner out ------------------------------


def test_three_hundred_idle_connections_do_not_stop_a_sign(
    daemon: tuple[Cosigner, dict[str, Any]], tmp_path: Path
) -> None:
    cs, made = daemon
    idle: list[socket.socket] = []
    try:
        for _ in range(300):
            try:
                idle.append(socket.create_connection(("127.0.0.1", cs.port), timeout=10))
            except OSError:
                break
        assert len(idle) == 300

        # The door has seen all of them (each was admitted, refused or evicted by now).
        def seen_all() -> bool:
            try:
                conns = cs.healthz()[1]["connections"]
            except OSError:
                return True  # the door refuses: it is full, it has seen them
            return conns["unauthenticated"] + conns["refused"] + conns.get("evicted", 0) >= 300

        wait_for(seen_all, 30, "the door to see the idle connections")
        # Over TCP on the same loopback address as the flood (localhost: not the daemon's own
        # recorded URL, so no local socket is used) ...
        tcp_env = {**cs.env, "MPC_COSIGNER_URL": f"ws://localhost:{cs.port}"}
        out = tmp_path / "sig-tcp.json"
        cp = run_mpc(["--json", "sign", "--tx", str(EXAMPLE), "--out", str(out)], tcp_env)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert json_result(cp)["data"]["from"] == made["address"]
        # ... and the owner's usual way in: this home's own co-signer, through its Unix socket
        # (0600, in the home's private directory), where the flood takes no slot at all.
        sock = cs.dir / "cosigner.sock"
        assert sock.is_socket() and sock.stat().st_mode & 0o777 == 0o600
        out = tmp_path / "sig.json"
        cp = run_mpc(["--json", "sign", "--tx", str(EXAMPLE), "--out", str(out)], cs.env)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        opened = [x for x in cs.log_lines() if x.get("event") == "session_opened"]
        assert opened[-1]["remote"] == "unix"
        conns = cs.healthz()[1]["connections"]
        assert conns["peak_unauthenticated"] <= 64
        assert conns["evicted"] >= 2
    finally:
        for sock in idle:
            sock.close()


class EvictFirstTry(LoopbackRelay):
    """A loopback TCP relay to the daemon that closes every odd-numbered connection at accept,
    as the front door does to the connection it evicts, and relays the others."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.accepted = 0

    def accept(self) -> tuple[bytearray | None, bytearray | None] | None:
        self.accepted += 1
        return None if self.accepted % 2 == 1 else (None, None)


def test_a_client_closed_at_accept_tries_once_more(
    daemon: tuple[Cosigner, dict[str, Any]], tmp_path: Path
) -> None:
    cs, made = daemon
    with EvictFirstTry(cs.port) as relay:
        env = {**cs.env, "MPC_COSIGNER_URL": f"ws://localhost:{relay.port}"}
        out = tmp_path / "sig.json"
        cp = run_mpc(["--json", "sign", "--tx", str(EXAMPLE), "--out", str(out)], env)
        accepted = relay.accepted
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert json_result(cp)["data"]["from"] == made["address"]
    # Every connection (the /healthz checks, the session) was closed at accept once and tried
    # once more.
    assert accepted >= 4 and accepted % 2 == 0, accepted


def test_the_log_names_no_peer_bytes(daemon: tuple[Cosigner, dict[str, Any]]) -> None:
    cs, _ = daemon
    for line in cs.log_file.read_text().splitlines():
        assert len(line) < 2048
        assert not re.search(r"[\x00-\x1f\x7f]", json.loads(line).get("msg", ""))
