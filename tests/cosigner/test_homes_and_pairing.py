"""Homes, ports and remote pairing, with real `mpc` and real daemon processes.

* Two MPC_HOMEs side by side each run their own co-signer (the default port is taken, so each
  falls back to a free one) and keygen and sign against it; pointing one home at the other's
  daemon is ``wrong_cosigner`` naming the URL and the home, never ``auth_failed``.
* A port given with ``--port`` is remembered.
* A co-signer on another address (127.0.0.2) pairs with a client home (connecting from
  127.0.0.3) through a one-time code; the client then runs keygen, sign and health against
  it. Expired and reused codes, the loser of two clients racing for one code, and a client
  that never paired, get ``auth_failed``.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import subprocess_env
from support.cosigner import wait_for
from support.proc import json_result, mpc_cmd, run_mpc

from mpcwallet.homes.paths import DEFAULT_PORT

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"
REMOTE_HOST = "127.0.0.2"  # the co-signer's machine
CLIENT_SOURCE = "127.0.0.3"  # the client's machine


def home_env(home: Path) -> dict[str, str]:
    env = subprocess_env(home)
    if os.environ.get("MPC_ENGINE"):
        env["MPC_ENGINE"] = os.environ["MPC_ENGINE"]
    return env


def run_in(
    prefix: list[str], args: list[str], env: dict[str, str], stdin: str | None = None
) -> Any:
    if not prefix:
        return run_mpc(args, env, input=stdin)
    return subprocess.run(
        [*prefix, *mpc_cmd(), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(
    args: list[str], env: dict[str, str], prefix: list[str] | None = None, stdin: str | None = None
) -> dict[str, Any]:
    cp = run_in(prefix or [], ["--json", *args], env, stdin)
    assert cp.returncode == 0, (args, cp.stdout, cp.stderr)
    data = json_result(cp)["data"]
    assert isinstance(data, dict)
    return data


def fails(
    args: list[str],
    env: dict[str, str],
    exit_code: int,
    prefix: list[str] | None = None,
    stdin: str | None = None,
) -> dict[str, Any]:
    cp = run_in(prefix or [], ["--json", *args], env, stdin)
    assert cp.returncode == exit_code, (args, cp.stdout, cp.stderr)
    error = json_result(cp)["error"]
    assert isinstance(error, dict)
    return error


def state(home: Path) -> dict[str, Any]:
    doc = json.loads((home / "cosigner" / "state.json").read_text())
    assert isinstance(doc, dict)
    return doc


@contextlib.contextmanager
def default_port_taken() -> Iterator[None]:
    """Hold the default port for the test (if someone else holds it, it is taken anyway)."""
    sock = socket.socket()
    try:
        with contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", DEFAULT_PORT))
            sock.listen()
        yield
    finally:
        sock.close()


@contextlib.contextmanager
def stopping(*envs: dict[str, str]) -> Iterator[None]:
    try:
        yield
    finally:
        for env in envs:
            run_mpc(["cosigner", "stop"], env)


def sign(env: dict[str, str], out: Path, prefix: list[str] | None = None) -> dict[str, Any]:
    return ok(["sign", "--tx", str(EXAMPLE), "--out", str(out)], env, prefix)


def test_two_homes_side_by_side_each_use_their_own_cosigner(tmp_path: Path) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    env_a, env_b = home_env(home_a), home_env(home_b)
    with default_port_taken(), stopping(env_a, env_b):
        # keygen starts each home's co-signer; the default port is taken, so each picks a free
        # one and records it in its state file.
        key_a = ok(["keygen"], env_a)
        key_b = ok(["keygen"], env_b)
        port_a, port_b = state(home_a)["port"], state(home_b)["port"]
        assert DEFAULT_PORT not in (port_a, port_b) and port_a != port_b
        assert key_a["cosigner"] == state(home_a)["url"] != state(home_b)["url"]
        for home in (home_a, home_b):
            install_id = home / "cosigner" / "install.id"
            assert stat.S_IMODE(install_id.stat().st_mode) == 0o600
        assert sign(env_a, tmp_path / "a.sig")["from"] == key_a["address"]
        assert sign(env_b, tmp_path / "b.sig")["from"] == key_b["address"]
        assert ok(["health"], env_a)["checks"]["home"] == "ok"

        # Home A pointed at home B's daemon: a clear error naming both, before any session.
        url_b = state(home_b)["url"]
        crossed = dict(env_a, MPC_COSIGNER_URL=url_b)
        error = fails(["sign", "--tx", str(EXAMPLE)], crossed, 12)
        assert error["code"] == "wrong_cosigner"
        assert url_b in error["message"] and str(home_a) in error["message"]
        assert fails(["keygen", "--name", "x"], crossed, 12)["code"] == "wrong_cosigner"
        health = fails(["health"], crossed, 14)
        assert health["field"] == "home" and url_b in health["message"]

        # A stale state file of home A that points at home B's daemon: the same clear error.
        run_mpc(["cosigner", "stop"], env_a)
        (home_a / "cosigner" / "state.json").write_text(json.dumps(state(home_b)))
        error = fails(["sign", "--tx", str(EXAMPLE)], env_a, 12)
        assert error["code"] == "wrong_cosigner" and url_b in error["message"]
        (home_a / "cosigner" / "state.json").unlink()
        # B never noticed any of it.
        assert sign(env_b, tmp_path / "b2.sig")["from"] == key_b["address"]


def test_a_port_given_with_port_is_remembered(tmp_path: Path) -> None:
    env = home_env(tmp_path / "home")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with stopping(env):
        assert ok(["cosigner", "start", "--port", str(port)], env)["port"] == port
        ok(["cosigner", "stop"], env)
        settings = json.loads((tmp_path / "home" / "cosigner" / "config.json").read_text())
        assert settings["port"] == port
        # A start without --port (as keygen's automatic start does) listens there again.
        assert ok(["cosigner", "start"], env)["port"] == port


# --- a co-signer on another address -----------------------------------------------------------


@dataclass
class Machines:
    """Where the co-signer's and the client's commands run: two network namespaces joined by
    a veth pair (127.0.0.2 and 127.0.0.3) where the machine allows it, else one network with
    the client's connections coming from 127.0.0.3."""

    kind: str
    server: list[str]
    client: list[str]
    client_env: dict[str, str]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def two_machines() -> Iterator[Machines]:
    ns_a, ns_b = f"mpcfd{os.getpid()}a", f"mpcfd{os.getpid()}b"
    veth_a, veth_b = f"mfd{os.getpid() % 100000}a", f"mfd{os.getpid() % 100000}b"
    made: list[str] = []
    try:
        for ns in (ns_a, ns_b):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip("link", "add", veth_a, "netns", ns_a, "type", "veth", "peer", "name", veth_b,
            "netns", ns_b)  # fmt: skip
        for ns, veth, mine, peer in ((ns_a, veth_a, REMOTE_HOST, CLIENT_SOURCE),
                                     (ns_b, veth_b, CLIENT_SOURCE, REMOTE_HOST)):  # fmt: skip
            # 127.0.0.0/8 on a real link needs route_localnet in both namespaces.
            for conf in ("all", veth):
                _ip("netns", "exec", ns, "sysctl", "-qw", f"net.ipv4.conf.{conf}.route_localnet=1")
            _ip("-n", ns, "addr", "add", f"{mine}/32", "dev", veth)
            _ip("-n", ns, "link", "set", veth, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "route", "add", f"{peer}/32", "dev", veth, "src", mine)
    except (OSError, subprocess.SubprocessError):
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        yield Machines("loopback", [], [], {"MPC_COSIGNER_SOURCE_ADDRESS": CLIENT_SOURCE})
        return
    try:
        yield Machines("netns", ["ip", "netns", "exec", ns_a], ["ip", "netns", "exec", ns_b], {})
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def started_static(home: Path) -> str:
    from mpcwallet.session.secure import static_public

    private = bytes.fromhex((home / "cosigner" / "static.key").read_text().strip())
    return static_public(private).hex()


def pairing_code(env: dict[str, str], prefix: list[str], *extra: str) -> dict[str, Any]:
    data = ok(["cosigner", "pair", *extra], env, prefix)
    assert len(data["code"].replace("-", "")) == 40
    return data


def test_remote_cosigner_pairing_end_to_end(tmp_path: Path) -> None:
    server_home = tmp_path / "cosigner-machine"
    server = home_env(server_home)
    with two_machines() as net:
        if os.geteuid() == 0 and shutil.which("ip"):
            # Namespaces are possible here: the test must really use two network stacks.
            assert net.kind == "netns"
        on_server, on_client = net.server, net.client
        with stopping(server):
            _remote_scenario(tmp_path, server_home, server, on_server, on_client, net.client_env)


def _remote_scenario(
    tmp_path: Path,
    server_home: Path,
    server: dict[str, str],
    on_server: list[str],
    on_client: list[str],
    client_extra: dict[str, str],
) -> None:
    engine = os.environ.get("MPC_ENGINE") or "portable"
    start = ["cosigner", "start", "--host", REMOTE_HOST, "--port", "0", "--engine", engine]
    started = ok(start, server, on_server)
    url = started["url"]
    assert url.startswith(f"ws://{REMOTE_HOST}:")

    # Pairing: the code travels out of band (here on stdin); the client stores the URL, its own
    # client id and secret, the co-signer's install id and the static key it pinned.
    client_home = tmp_path / "client-machine"
    # No MPC_ENGINE on the client: new keys take the paired co-signer's engine.
    client = {k: v for k, v in home_env(client_home).items() if k != "MPC_ENGINE"}
    client.update(client_extra)
    code = pairing_code(server, on_server)
    assert code["url"] == url
    paired = ok(["pair", "--url", url], client, on_client, stdin=code["code"] + "\n")
    record_file = client_home / "pairing.json"
    assert paired["pairing"] == str(record_file)
    assert stat.S_IMODE(record_file.stat().st_mode) == 0o600
    record = json.loads(record_file.read_text())
    token = (server_home / "cosigner" / "auth.token").read_text().strip()
    install_id = (server_home / "cosigner" / "install.id").read_text().strip()
    registry = json.loads((server_home / "cosigner" / "clients.json").read_text())["clients"]
    assert [row["id"] for row in registry] == [record["client_id"]] == [paired["client_id"]]
    assert record["url"] == url and record["secret"] == registry[0]["secret"] != token
    assert "token" not in record  # the local client's token never leaves the co-signer's home
    assert record["install_id"] == install_id
    assert record["cosigner_static"] == started_static(server_home)
    # The daemon keeps no trace of the code itself.
    raw_code = code["code"].replace("-", "")
    for path in (server_home / "cosigner").rglob("*"):
        if path.is_file():
            data = path.read_text(errors="replace")
            assert raw_code not in data and code["code"] not in data, path

    # keygen, sign and health of the client home use the remote co-signer; no local one.
    key = ok(["keygen"], client, on_client)
    assert key["cosigner"] == url and key["engine"] == engine
    assert not (client_home / "cosigner" / "state.json").exists()
    assert sign(client, tmp_path / "remote.sig", on_client)["from"] == key["address"]
    health = ok(["health"], client, on_client)
    assert health["endpoint"] == url and health["checks"]["auth"] == "ok"

    # A code works once: reusing it is auth_failed.
    other = dict(home_env(tmp_path / "second-client"), **client_extra)
    reused = fails(["pair", "--url", url], other, 13, on_client, stdin=code["code"])
    assert reused["code"] == "auth_failed"
    assert not (tmp_path / "second-client" / "pairing.json").exists()

    # Two clients racing for one fresh code: exactly one pairs, the other is auth_failed.
    race = pairing_code(server, on_server)["code"]
    racers = [dict(home_env(tmp_path / f"racer-{i}"), **client_extra) for i in (1, 2)]
    procs = [
        subprocess.Popen(
            [*on_client, *mpc_cmd(), "--json", "pair", "--url", url],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env in racers
    ]
    outputs = [p.communicate(race + "\n", timeout=120)[0] for p in procs]
    results = [(p.returncode, out) for p, out in zip(procs, outputs, strict=True)]
    assert sorted(rc for rc, _ in results) == [0, 13], results
    loser = next(json.loads(out)["error"] for rc, out in results if rc == 13)
    assert loser["code"] == "auth_failed"
    assert sum((tmp_path / f"racer-{i}" / "pairing.json").exists() for i in (1, 2)) == 1

    # An expired code is auth_failed too.
    short = pairing_code(server, on_server, "--ttl", "1")
    expiry = calendar.timegm(time.strptime(short["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    # expires_at is printed to the second, truncated: the real expiry is up to 1 s later.
    wait_for(lambda: time.time() > expiry + 1.5, 10, "the code to expire")
    expired = fails(["pair", "--url", url], other, 13, on_client, stdin=short["code"])
    assert expired["code"] == "auth_failed" and "expired" in expired["message"]

    # Never paired: the install id is public, so a stranger may copy it, but its own token
    # does not authenticate.
    stranger_home = tmp_path / "stranger"
    # The engine is public (/healthz); the stranger uses the daemon's, so only auth can stop it.
    stranger = dict(
        home_env(stranger_home), MPC_COSIGNER_URL=url, MPC_ENGINE=engine, **client_extra
    )
    unknown = fails(["health"], stranger, 14, on_client)
    assert unknown["field"] == "home" and str(stranger_home) in unknown["message"]
    # A made-up pairing with everything public (install id, the static key /healthz shows) and
    # a client id it invented: refused like a wrong secret.
    forged = {**record, "client_id": os.urandom(8).hex(), "secret": os.urandom(32).hex()}
    stranger_home.mkdir(parents=True, exist_ok=True)
    (stranger_home / "pairing.json").write_text(json.dumps(forged))
    assert fails(["keygen"], stranger, 13, on_client)["code"] == "auth_failed"
    # The real client's id with a wrong secret: the same.
    (stranger_home / "pairing.json").write_text(
        json.dumps({**forged, "client_id": record["client_id"]})
    )
    assert fails(["keygen"], stranger, 13, on_client)["code"] == "auth_failed"

    log = (server_home / "cosigner" / "cosigner.log").read_text()
    reasons = [
        json.loads(line).get("code") for line in log.splitlines() if '"pairing_refused"' in line
    ]
    assert reasons == ["unknown_or_used", "unknown_or_used", "expired"]
    # Every authenticated session (pair, keygen, sign, health) came from the client machine.
    remotes = {
        json.loads(line).get("remote") for line in log.splitlines() if '"session_opened"' in line
    }
    assert remotes == {CLIENT_SOURCE}
    ok(["cosigner", "stop"], server, on_server)
