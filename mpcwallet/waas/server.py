"""``mpc waas serve``: the WaaS API against the demo cluster in a directory (``mpc cluster up``).

From the cluster directory: ``cluster.json`` (cluster id), ``coordinator.json`` (the running
coordinator's URL), ``permit.key`` (the orchestrator's permit key, whose public half every node
has pinned) and the store (``store.sqlite``, or ``--store postgresql://...``: the coordinator's).
Writes ``waas.json`` ``{url, pid}`` once listening (0600) and removes it on exit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from mpcwallet.store import Store
from mpcwallet.waas.kyt import DenyListKyt
from mpcwallet.waas.permit import PermitIssuer
from mpcwallet.waas.service import Service, Settings

__all__ = ["build_service", "serve"]

STATE = "waas.json"


def build_service(
    directory: Path,
    *,
    store: str | None = None,
    policy: Path | None = None,
    kyt_deny: Path | None = None,
    dev: bool = False,
    local_cluster: bool = False,
    settings: dict[str, Any] | None = None,
    rpc_url: str | None = None,
) -> Service:
    from mpcwallet.cosigner.policy import Policy, load_policy
    from mpcwallet.waas.ports import Coordinator

    issuer = PermitIssuer.from_file(directory / "permit.key")
    db = Store.open(store or str(directory / "store.sqlite"))
    coordinator: Coordinator
    if local_cluster:
        from mpcwallet.waas.localcluster import LocalCluster

        coordinator = LocalCluster(issuer.public_key)
    else:
        from mpcwallet.topology.config import load_config
        from mpcwallet.waas.remote import HttpCoordinator
        from mpcwallet.wallet.cluster_demo import coordinator_url

        config = load_config(directory / "cluster.json")
        coordinator = HttpCoordinator(coordinator_url(directory), config.cluster_id, db)
    svc = Service(
        db,
        coordinator,
        issuer,
        policy=load_policy(policy) if policy else Policy.empty(),
        kyt=DenyListKyt.from_file(kyt_deny) if kyt_deny else DenyListKyt(),
        settings=Settings(dev_mode=dev, **(settings or {})),
    )
    if rpc_url:
        from mpcwallet.waas.chainlink import ChainLink

        svc.chain = ChainLink.connect(rpc_url, db, svc.settings.chain_id)
    return svc


def _follower(svc: Service, stop: threading.Event, interval: float, deposits: Any) -> None:
    """Every ``interval`` s: moves BROADCAST/CONFIRM requests by what the chain reports, and
    runs one deposit listener step (at most its window of blocks) for every ACTIVE wallet."""
    from mpcwallet.waas.chainlink import follow

    log = logging.getLogger("mpcwallet.waas")
    while not stop.wait(interval):
        try:
            follow(svc.store, svc.chain)
        except Exception as exc:  # noqa: BLE001 - logged by type; the next pass retries
            log.warning("chain follow pass failed: %s", type(exc).__name__)
        try:
            result = deposits.step()
        except Exception as exc:  # noqa: BLE001 - logged by type; the next pass retries
            log.warning("deposit listener step failed: %s", type(exc).__name__)
            continue
        for d in result.new:
            log.info("deposit %s:%d in block %d", d.tx_hash, d.log_index, d.block_number)
        for d in result.dropped:
            log.info("deposit %s:%d dropped by a reorg", d.tx_hash, d.log_index)


def serve(
    svc: Service,
    directory: Path,
    port: int = 0,
    poll_interval: float = 1.0,
    deposit_window: int = 100,
) -> None:
    from aiohttp import web

    from mpcwallet.waas.app import build_app
    from mpcwallet.waas.openapi import document

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = build_app(svc, document(url))
    state = directory / STATE

    async def main() -> None:
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        tmp = state.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"url": url, "pid": os.getpid()}, f)
        os.replace(tmp, state)
        logging.getLogger("mpcwallet.waas").info("WaaS API on %s", url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            state.unlink(missing_ok=True)
            await runner.cleanup()

    halt = threading.Event()
    if svc.chain is not None:
        from mpcwallet.waas.deposits import DepositWatch

        deposits = DepositWatch(svc.store, svc.chain, svc.settings.chain_id, deposit_window)
        try:
            number, _ = deposits.begin()
            logging.getLogger("mpcwallet.waas").info("deposit listener: after block %d", number)
        except Exception as exc:  # noqa: BLE001 - the first step tries again
            logging.getLogger("mpcwallet.waas").warning(
                "deposit listener not started yet: %s", type(exc).__name__
            )
        threading.Thread(
            target=_follower,
            args=(svc, halt, poll_interval, deposits),
            name="waas-chain",
            daemon=True,
        ).start()
    try:
        asyncio.run(main())
    finally:
        halt.set()
        svc.store.close()
