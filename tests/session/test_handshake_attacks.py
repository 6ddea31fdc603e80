"""The session handshake under attack: a real daemon, real `mpc` processes, a real impostor.

* Issue 20 item 3: a client paired with the co-signer runs its own server and tries to pass for
  the co-signer to another paired client (it holds its own pairing secret and everything public).
* Item 4: an impostor with no secret answers the hello with a forged clear-text error; nothing
  received before the handshake completes may quarantine the key.
* Item 13: a low-order X25519 ephemeral in message 1 (with the right PSK) gets a clean
  ``auth_failed`` answer and one bounded log line from the daemon.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import subprocess_env
from support.cosigner import Cosigner, running_cosigner, wait_for
from support.impostor import Impostor
from support.proc import json_result, run_mpc

from mpcwallet.errors import AuthFailed, MpcError, ProtocolViolation
from mpcwallet.session import secure, wire

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"


@dataclass
class World:
    cs: Cosigner
    share: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("attacks") / "home"
    env = subprocess_env(home)
    if os.environ.get("MPC_ENGINE"):
        env["MPC_ENGINE"] = os.environ["MPC_ENGINE"]
    with running_cosigner(env) as cs:
        cp = run_mpc(["--json", "keygen"], cs.env)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        yield World(cs, Path(json_result(cp)["data"]["share"]))


def _token(cs: Cosigner) -> bytes:
    return bytes.fromhex((cs.dir / "auth.token").read_text().strip())


def _quarantined(home: Path) -> list[Path]:
    return [*home.rglob("*.quarantine"), *(home / "quarantine").glob("*.json")]


# --- item 4: a forged clear-text error -------------------------------------------------------


def test_a_forged_clear_error_never_quarantines_the_key(world: World) -> None:
    cs = world.cs
    _, doc = cs.healthz()

    async def forge(ws: Any) -> None:
        assert (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT  # the hello
        assert (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.BINARY  # message 1
        forged = {"type": "error", "code": "invalid_proof", "message": "forged"}
        await ws.send_str(json.dumps(forged))

    with Impostor(doc, forge) as fake:
        env = {**cs.env, "MPC_COSIGNER_URL": fake.url}
        cp = run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], env)
    assert fake.sessions >= 1 and not fake.errors
    error = json_result(cp)["error"]
    assert (cp.returncode, error["code"]) == (13, "auth_failed"), cp.stdout
    assert not _quarantined(cs.home)
    # The key still signs with its real co-signer.
    cp = run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], cs.env)
    assert cp.returncode == 0, cp.stdout + cp.stderr


@pytest.mark.parametrize(
    "answer",
    [
        ("text", json.dumps({"type": "error", "code": "signature_invalid", "message": "x"})),
        ("text", json.dumps({"type": "error", "code": "session_violation", "message": "x"})),
        ("text", "not json at all"),
        ("text", json.dumps({"type": "error", "code": "invalid_proof", "message": "x" * 9000})),
        ("bytes", b"\x00" * (wire.MAX_HANDSHAKE_BYTES + 1)),
        ("bytes", b"\x01" * 48),
    ],
    ids=[
        "signature_invalid",
        "session_violation",
        "garbage",
        "oversized-text",
        "oversized-binary",
        "bad-message-2",
    ],
)
def test_nothing_before_the_handshake_completes_is_a_violation(
    world: World, answer: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mpcwallet.session.handshake import client_handshake

    cs = world.cs
    _, doc = cs.healthz()
    kind, data = answer

    async def forge(ws: Any) -> None:
        await ws.receive(timeout=10)
        await ws.receive(timeout=10)
        await (ws.send_str(data) if kind == "text" else ws.send_bytes(data))

    async def attempt(url: str) -> None:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(url + "/v1/session")
            await client_handshake(
                ws,
                secret=_token(cs),
                engine=cs.engine,
                auth="pairing",
                key_id=None,
                round_timeout=10,
            )

    monkeypatch.setenv("MPC_HOME", str(cs.home))
    with Impostor(doc, forge) as fake, pytest.raises(MpcError) as info:
        asyncio.run(attempt(fake.url))
    assert not isinstance(info.value, ProtocolViolation), info.value
    assert isinstance(info.value, AuthFailed), info.value
    assert len(info.value.message) < 700


# --- item 13: a low-order ephemeral in message 1 ---------------------------------------------

# Curve25519 points of small order (RFC 7748 section 7; the list libsodium refuses).
LOW_ORDER = [
    bytes(32),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
]


def _low_order_message_1(cs: Cosigner, hello_text: str, point: bytes) -> bytes:
    """Noise message 1 under the right PSK whose ephemeral public key is ``point``."""
    from cryptography.hazmat.primitives.asymmetric import x25519
    from noise.backends.default.keypairs import KeyPair25519

    conn = secure.start_handshake(
        initiator=True,
        psk=_token(cs),
        prologue=wire.prologue(hello_text),
        static_key=cs.static_public,
    )
    fake = KeyPair25519(
        private=x25519.X25519PrivateKey.generate(),
        public=x25519.X25519PublicKey.from_public_bytes(point),
        public_bytes=point,
    )
    conn.noise_protocol.handshake_state.e = fake
    return bytes(conn.write_message(wire.identity_payload("ab" * 16)))


def test_a_low_order_ephemeral_gets_a_clean_refusal_and_one_log_line(world: World) -> None:
    cs = world.cs
    out_files = list(cs.home.parent.glob("cosigner-*.out"))
    assert out_files, "the daemon's stdout/stderr file"
    out_before = {p: p.read_bytes() for p in out_files}
    mark = len(cs.log_lines())
    hello = {"type": "hello", "v": wire.PROTOCOL_VERSION, "engine": cs.engine,
             "auth": "pairing", "key_id": None}  # fmt: skip
    text = json.dumps(hello, separators=(",", ":"))

    async def send(point: bytes) -> tuple[str, Any]:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(cs.url + "/v1/session")
            await ws.send_str(text)
            await ws.send_bytes(_low_order_message_1(cs, text, point))
            msg = await ws.receive(timeout=10)
            return msg.type.name, msg.data

    for point in LOW_ORDER:
        kind, data = asyncio.run(send(point))
        assert kind == "TEXT", (kind, data)
        answer = json.loads(data)
        assert answer["code"] == "auth_failed", answer

    def logged() -> list[dict[str, Any]] | None:
        new = cs.log_lines()[mark:]
        return new if len(new) >= len(LOW_ORDER) else None

    # Exactly one line per refused handshake, a warning, and nothing else.
    new = wait_for(logged, 10, "the daemon to log the refused handshakes")
    assert [(line["event"], line["level"], line["code"]) for line in new] == [
        ("handshake_failed", "warning", "auth_failed")
    ] * len(LOW_ORDER), new
    # The daemon still serves.
    assert run_mpc(["--json", "health"], cs.env).returncode == 0
    raw = cs.log_file.read_text().splitlines()[mark:]
    assert all(len(line) < 1024 for line in raw)
    for path, before in out_before.items():
        grown = path.read_bytes()[len(before) :]
        assert b"Traceback" not in grown and b"Error handling request" not in grown, grown[:500]


# --- item 3: one paired client passes for the co-signer to another ---------------------------


def _pair(cs: Cosigner, home: Path, label: str) -> dict[str, str]:
    env = {k: v for k, v in subprocess_env(home).items() if k != "MPC_ENGINE"}
    cp = run_mpc(["--json", "cosigner", "pair", "--label", label], cs.env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    code = json_result(cp)["data"]["code"]
    cp = run_mpc(["--json", "pair", "--url", cs.url], env, input=code + "\n")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return env


def test_a_paired_client_cannot_pass_for_the_cosigner(world: World, tmp_path: Path) -> None:
    """The attacker holds its own pairing record (its client id and secret, the co-signer's
    install id and static public key) and runs our own server side with all of it, plus a
    static key of its own: the victim refuses it, before sending any request."""
    from mpcwallet.session.handshake import server_handshake

    cs = world.cs
    victim = _pair(cs, tmp_path / "victim", "victim laptop")
    _pair(cs, tmp_path / "attacker", "attacker laptop")
    record = json.loads((tmp_path / "attacker" / "pairing.json").read_text())
    mine = json.loads((tmp_path / "victim" / "pairing.json").read_text())
    assert record["client_id"] != mine["client_id"] and record["secret"] != mine["secret"]
    assert record["cosigner_static"] == mine["cosigner_static"] == cs.static_public.hex()
    _, doc = cs.healthz()
    requests: list[Any] = []

    async def pass_for_the_cosigner(ws: Any) -> None:
        async def secret(hello: Any) -> bytes:
            return bytes.fromhex(record["secret"])

        ch, _ = await server_handshake(
            ws,
            engine=cs.engine,
            resolve_secret=secret,
            round_timeout=10,
            install_id=record["install_id"],
            static_key=secure.new_static_key(),
        )
        requests.append(await ch.recv_control())
        await ch.send_control({"type": "pong", "engine": cs.engine, "keys": 0})
        await ch.aclose()

    with Impostor(doc, pass_for_the_cosigner) as fake:
        fooled = {**victim, "MPC_COSIGNER_URL": fake.url}
        cp = run_mpc(["--json", "health"], fooled)
        error = json_result(cp)["error"] if cp.returncode else {}
        assert cp.returncode == 14 and error["field"] == "auth", cp.stdout
        assert "auth_failed" in error["message"]
        cp = run_mpc(["--json", "keygen", "--name", "stolen"], fooled)
        assert json_result(cp)["error"]["code"] == "auth_failed", cp.stdout
    assert requests == [] and fake.sessions >= 2
    assert not list((tmp_path / "victim" / "shares").glob("*.enc"))
    # The real co-signer serves both; removing the attacker's pairing leaves the victim's.
    assert run_mpc(["--json", "health"], victim).returncode == 0
    cp = run_mpc(["--json", "cosigner", "pairings", "list"], cs.env)
    listed = {row["label"]: row["id"] for row in json_result(cp)["data"]["clients"]}
    assert listed["attacker laptop"] == record["client_id"]
    assert "secret" not in cp.stdout and record["secret"] not in cp.stdout
    cp = run_mpc(["--json", "cosigner", "pairings", "remove", record["client_id"]], cs.env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    cp = run_mpc(
        ["--json", "health"],
        {k: v for k, v in subprocess_env(tmp_path / "attacker").items() if k != "MPC_ENGINE"},
    )
    assert cp.returncode == 14 and "auth_failed" in json_result(cp)["error"]["message"]
    assert run_mpc(["--json", "health"], victim).returncode == 0
    assert run_mpc(["--json", "health"], cs.env).returncode == 0  # the local client too


def test_an_old_shared_token_pairing_is_refused_with_what_to_run(tmp_path: Path) -> None:
    home = tmp_path / "old-client"
    home.mkdir()
    old = {"url": "ws://192.0.2.10:7447", "token": "ab" * 32, "install_id": "cd" * 16,
           "engine": "portable", "paired_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    (home / "pairing.json").write_text(json.dumps(old))
    cp = run_mpc(["--json", "health"], subprocess_env(home))
    assert cp.returncode != 0
    message = json_result(cp)["error"]["message"]
    assert "\n" not in message and "older release" in message
    assert "mpc cosigner pair" in message and "mpc pair --url ws://192.0.2.10:7447" in message


# --- item 11: the pairing code is a secret -----------------------------------------------------


def test_a_pairing_code_never_on_argv_and_wrong_equals_unknown(
    world: World, tmp_path: Path
) -> None:
    from mpcwallet.homes.pairing import PairingCode, parse_code

    cs = world.cs
    env = {k: v for k, v in subprocess_env(tmp_path / "client").items() if k != "MPC_ENGINE"}

    def issue() -> str:
        cp = run_mpc(["--json", "cosigner", "pair"], cs.env)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        return str(json_result(cp)["data"]["code"])

    code = issue()
    # On argv it would sit in shell history and `ps`: refused before any connection.
    cp = run_mpc(["--json", "pair", "--url", cs.url, "--code", code], env)
    assert cp.returncode == 2, cp.stdout + cp.stderr
    assert "stdin" in cp.stdout + cp.stderr
    assert not (tmp_path / "client" / "pairing.json").exists()
    # A known code id with a wrong secret, and an unknown id: the very same refusal.
    known = parse_code(issue()).code_id
    answers = []
    for guess in (PairingCode(known, os.urandom(20)), PairingCode("AAAAAAAA", os.urandom(20))):
        cp = run_mpc(["--json", "pair", "--url", cs.url], env, input=guess.text() + "\n")
        assert cp.returncode == 13, cp.stdout + cp.stderr
        answers.append(json_result(cp)["error"])
    assert answers[0] == answers[1], answers
    assert answers[0]["code"] == "auth_failed"
    # The code refused on argv was not burnt: from a file (for scripts; stdin works too) it pairs.
    code_file = tmp_path / "code.txt"
    code_file.write_text(code + "\n")
    cp = run_mpc(["--json", "pair", "--url", cs.url, "--code-file", str(code_file)], env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert (tmp_path / "client" / "pairing.json").exists()
