"""A running 2-of-3 cluster for end-to-end tests: three node daemons (each its own MPC_HOME,
the node role on) and a coordinator, real processes on loopback (mpcwallet.wallet.cluster_demo).
"""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mpcwallet.cosigner.daemon import running_pid
from mpcwallet.homes.paths import CosignerPaths
from mpcwallet.wallet import cluster_demo as demo

SEPOLIA = 11155111
TO = "0x" + "22" * 20


class Cluster:
    def __init__(self, directory: Path, store: str | None) -> None:
        self.dir = directory
        self.store = store
        self.url = ""

    def start(self, **kw: Any) -> Cluster:
        demo.init_demo(self.dir)
        demo.start_nodes(self.dir)
        self.url = demo.start_coordinator(self.dir, store=self.store, retry_bound=20.0, **kw)["url"]
        return self

    def stop(self) -> None:
        demo.stop_coordinator(self.dir)
        demo.stop_coordinator(self.dir, state="tamper.json")
        for home in sorted((self.dir / "nodes").glob("*")):
            pid = running_pid(CosignerPaths.for_home(home))
            if pid and pid > 0:
                os.kill(pid, signal.SIGKILL)

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, url: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(
            (url or self.url) + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def node_pid(self, name: str) -> int:
        pid = running_pid(CosignerPaths.for_home(self.dir / "nodes" / name))
        assert pid and pid > 0, f"{name} is not running"
        return pid

    def kill(self, name: str) -> None:
        pid = self.node_pid(name)
        os.kill(pid, signal.SIGKILL)
        # the kernel releases the dead daemon's flock; wait for exactly that
        paths = CosignerPaths.for_home(self.dir / "nodes" / name)
        fd = os.open(paths.lock_file, os.O_RDONLY)
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_SH)  # blocks until the killed process is gone
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def restart(self, name: str, env: dict[str, str] | None = None) -> None:
        saved = dict(os.environ)
        os.environ.update(env or {})
        try:
            demo.start_nodes(self.dir, [name])
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def tx(self, nonce: int, value: int = 1000) -> dict[str, Any]:
        return {
            "chainId": SEPOLIA,
            "nonce": nonce,
            "to": TO,
            "value": value,
            "gas": 21000,
            "maxFeePerGas": 2_000_000_000,
            "maxPriorityFeePerGas": 1_000_000_000,
            "type": 2,
        }

    def permit(self, keyset_id: str, tx: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return demo.demo_permit(self.dir, keyset_id, tx, **kw)

    def sign(self, keyset_id: str, tx: dict[str, Any], **kw: Any) -> tuple[int, dict[str, Any]]:
        body = {"tx": tx, "permit": kw.pop("permit", None) or self.permit(keyset_id, tx), **kw}
        return self.call("POST", f"/v1/keysets/{keyset_id}/sign", body, url=kw.get("url"))


@contextmanager
def running_cluster(directory: Path, store: str | None = None) -> Iterator[Cluster]:
    cluster = Cluster(directory, store)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
