"""A cluster on one machine (``mpc cluster up``): n signer nodes, each the co-signer daemon in its
own MPC_HOME with the node role, and one coordinator, all on loopback, store in SQLite.

Layout of the demo directory::

    cluster.json        the cluster configuration (public), also in each node's home
    coordinator.key     the coordinator's static X25519 key (0600; cluster.json pins it)
    recovery.key        the demo recovery key (ECIES P-256, private half under the passphrase in
                        ``recovery.passphrase``); cluster.json pins its public half. A real
                        deployment keeps recovery keys offline (``mpc cluster recovery-key new``).
    permit.key          the demo permit key (Ed25519 private, 0600): `mpc cluster sign` issues
                        permits with it. A real deployment keeps it in the WaaS orchestrator.
    store.sqlite        the coordinator's session store
    coordinator.json    the running coordinator's pid and URL
    nodes/<name>/       each node's MPC_HOME; ``passphrase`` (0600) is the demo's node passphrase

The demo writes node passphrases to files so that one command starts everything; a real node
gets its passphrase at start (the KEK provider) and never from a file next to its shares.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mpcwallet.errors import AlreadyExists, CosignerError, NotFound
from mpcwallet.storage.files import ensure_dir, write_atomic

NAMES = ("node-a", "node-b", "node-c", "node-d", "node-e")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_demo(directory: Path, *, t: int = 2, n: int = 3, cluster_id: str = "demo") -> Path:
    """Create the keys, homes and cluster.json of a t-of-n cluster in ``directory``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from mpcwallet.cosigner.node_state import PassphraseKek, create_identity, node_dir
    from mpcwallet.homes.paths import CosignerPaths
    from mpcwallet.session.node_keys import StaticKeypair
    from mpcwallet.topology.config import NodeEntry, new_config, save_config

    directory = Path(directory)
    if (directory / "cluster.json").exists():
        raise AlreadyExists(
            f"{directory} already holds a cluster; `mpc cluster down` and remove "
            "it, or choose another --dir",
            field="dir",
        )
    ensure_dir(directory)
    permit = Ed25519PrivateKey.generate()
    permit_pub = permit.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    write_atomic(directory / "permit.key", permit.private_bytes_raw().hex().encode())
    coord = StaticKeypair.generate()
    write_atomic(directory / "coordinator.key", coord.private_bytes().hex().encode())
    config = new_config(cluster_id, t, n, coord.public, permit_pub)
    entries = []
    for name in NAMES[:n]:
        home = directory / "nodes" / name
        ensure_dir(home)
        passphrase = secrets.token_urlsafe(24)
        write_atomic(home / "passphrase", passphrase.encode())
        root = CosignerPaths.for_home(home).root
        ensure_dir(root)
        kek = PassphraseKek(passphrase).unlock(CosignerPaths.for_home(home).keyring_file)
        pub = create_identity(root, name, kek)
        entries.append(NodeEntry(name, f"http://127.0.0.1:{_free_port()}", pub, f"zone-{name[-1]}"))
    from mpcwallet.wallet.cluster_recovery import demo_recovery

    recovery = demo_recovery(directory)
    config = config.__class__(**{**config.__dict__, "nodes": tuple(entries), "recovery": recovery})
    save_config(directory / "cluster.json", config)
    for name in NAMES[:n]:
        home = directory / "nodes" / name
        save_config(node_dir(CosignerPaths.for_home(home).root) / "cluster.json", config)
    return directory / "cluster.json"


def start_nodes(directory: Path, names: list[str] | None = None) -> list[dict[str, Any]]:
    from mpcwallet.cosigner.config import CosignerConfig
    from mpcwallet.cosigner.daemon import start_background
    from mpcwallet.topology.config import load_config

    config = load_config(Path(directory) / "cluster.json")
    out = []
    for node in config.nodes:
        if names and node.name not in names:
            continue
        home = Path(directory) / "nodes" / node.name
        port = int(node.url.rsplit(":", 1)[1])
        cfg = CosignerConfig(home, "cb-mpc", port=port)
        state = start_background(cfg, (home / "passphrase").read_text())
        out.append({"node": node.name, "pid": state["pid"], "url": node.url})
    return out


def stop_nodes(directory: Path, names: list[str] | None = None) -> list[str]:
    from mpcwallet.cosigner.daemon import running_pid, stop
    from mpcwallet.homes.paths import CosignerPaths

    stopped = []
    for home in sorted((Path(directory) / "nodes").glob("*")):
        if names and home.name not in names:
            continue
        paths = CosignerPaths.for_home(home)
        if running_pid(paths) is not None:
            stop(paths)
            stopped.append(home.name)
    return stopped


def start_coordinator(
    directory: Path,
    *,
    store: str | None = None,
    port: int = 0,
    retry_bound: float = 30.0,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    state: str = "coordinator.json",
) -> dict[str, Any]:
    """Spawn ``mpc cluster serve`` in the background and wait for its /healthz."""
    import urllib.request

    directory = Path(directory)
    state_file = directory / state
    if state_file.exists():
        raise CosignerError(f"a coordinator is running for {directory} ({state_file})")
    args = [
        sys.executable,
        "-P",
        "-m",
        "mpcwallet",
        "cluster",
        "serve",
        "--dir",
        str(directory),
        "--port",
        str(port),
        "--retry-bound",
        str(retry_bound),
        "--state",
        state,
    ]
    if store:
        args += ["--store", store]
    log = os.open(directory / "coordinator.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=env
        )
    finally:
        os.close(log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CosignerError(f"the coordinator exited at start; see {directory}/coordinator.log")
        if state_file.exists():
            try:
                doc: dict[str, Any] = json.loads(state_file.read_text())
                with urllib.request.urlopen(doc["url"] + "/healthz", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return doc
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(0.05)
    proc.terminate()
    raise CosignerError(f"the coordinator did not answer within {timeout:g} s")


def coordinator_url(directory: Path, state: str = "coordinator.json") -> str:
    try:
        return str(json.loads((Path(directory) / state).read_text())["url"])
    except (OSError, ValueError, KeyError):
        raise NotFound(
            f"no coordinator is running for {directory}; `mpc cluster up` first", field="dir"
        ) from None


def stop_coordinator(
    directory: Path, timeout: float = 15.0, state: str = "coordinator.json"
) -> bool:
    state_file = Path(directory) / state
    try:
        pid = int(json.loads(state_file.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        state_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and state_file.exists():
        time.sleep(0.05)
    return True


def up(directory: Path, **kw: Any) -> dict[str, Any]:
    directory = Path(directory)
    if not (directory / "cluster.json").exists():
        init_demo(directory)
    nodes = start_nodes(directory)
    coord = start_coordinator(directory, **kw)
    return {"dir": str(directory), "nodes": nodes, "coordinator": coord["url"]}


def down(directory: Path) -> dict[str, Any]:
    return {"coordinator": stop_coordinator(directory), "nodes": stop_nodes(directory)}


def demo_permit(
    directory: Path,
    keyset_id: str,
    tx: dict[str, Any],
    *,
    ttl: int = 60,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A permit for ``tx`` signed with the demo permit key (stands in for the WaaS pipeline)."""
    from mpcwallet.evm.txjson import parse_tx, signing_digest
    from mpcwallet.topology.permit import issue_permit

    key = bytes.fromhex((Path(directory) / "permit.key").read_text().strip())
    return issue_permit(
        key,
        tx_request_id=request_id or "demo-" + secrets.token_hex(6),
        wallet_id="demo",
        keyset_id=keyset_id,
        tx_hash=signing_digest(parse_tx(tx)),
        ttl=ttl,
        controls={"source": "mpc cluster sign (demo permit key)"},
    ).to_json()


def clear_node(directory: Path, name: str) -> None:
    """The operator's act on every node of the demo: forget ``name``'s quarantine."""
    from mpcwallet.cosigner.node_state import node_dir
    from mpcwallet.homes.paths import CosignerPaths

    for home in sorted((Path(directory) / "nodes").glob("*")):
        q = node_dir(CosignerPaths.for_home(home).root) / "quarantine.json"
        if q.exists():
            doc = json.loads(q.read_text())
            doc.pop(name, None)
            write_atomic(q, json.dumps(doc).encode(), force=True)


def call(
    directory: Path,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """One JSON call to the directory's running coordinator; its error as an MpcError."""
    import urllib.error
    import urllib.request

    from mpcwallet.errors import MpcError, PeerUnreachable
    from mpcwallet.session.errors import error_from_code

    req = urllib.request.Request(  # noqa: S310 - the coordinator's own http:// URL
        coordinator_url(directory) + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310
            return dict(json.loads(r.read()))
    except urllib.error.HTTPError as exc:
        try:
            err = json.loads(exc.read())["error"]
        except (ValueError, KeyError, TypeError):
            raise PeerUnreachable(f"the coordinator answered {exc.code}") from None
        cls = error_from_code(str(err.get("code", "")))
        e: MpcError = cls(str(err.get("message", "")), field=err.get("field"))
        e.code = str(err.get("code", e.code))  # type: ignore[misc]
        raise e from None
    except OSError as exc:
        raise PeerUnreachable(f"the coordinator is not reachable ({exc})") from None
