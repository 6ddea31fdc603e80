"""The coordinator's HTTP JSON API (aiohttp) over the Coordinator (cluster/coordinator.py).

- ``POST /v1/keysets`` ``{t, n, tenant, wallet_id}`` -> keyset id, public key, address, key_ref
- ``POST /v1/keysets/{id}/sign`` ``{tx, permit, request_id?}`` -> signature and raw tx
- ``POST /v1/keysets/{id}/refresh`` -> the same address
- ``GET /v1/status``, ``POST /v1/nodes/{name}/clear`` (operator), ``GET /healthz``,
  ``GET /metrics`` (Prometheus text)

Errors: ``{"error": {"code", "message", "kind", "field"}}`` with 400 (bad input, permanent),
409 (busy), 422 (refused), 502 (a violation), 503 (transient: nodes missing).
Logs: one JSON object per line on stderr, with the session id where there is one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from mpcwallet.cluster import metrics
from mpcwallet.cluster.coordinator import Coordinator
from mpcwallet.errors import BadInput, MpcError, NotFound
from mpcwallet.session.node_keys import StaticKeypair
from mpcwallet.store.repo import Store
from mpcwallet.topology.config import load_config

COORD = web.AppKey("coordinator", Coordinator)
_STATUS = {"transient": 503, "violation": 502}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "session": None,
        }
        doc.update(getattr(record, "ctx", {}) or {})
        return json.dumps(doc, default=str)


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    logger = logging.getLogger("mpcwallet.cluster")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _fail(exc: MpcError) -> web.Response:
    status = 409 if exc.code == "busy" else _STATUS.get(exc.kind, 400)
    if exc.code.startswith("permit") or exc.code in ("policy_refused", "approval_required"):
        status = 422
    if isinstance(exc, NotFound):
        status = 404
    return web.json_response({"error": exc.to_dict()}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        doc = await request.json()
    except ValueError:
        raise BadInput("the request body is not JSON", field="body") from None
    if not isinstance(doc, dict):
        raise BadInput("the request body must be a JSON object", field="body")
    return doc


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except MpcError as exc:
        return _fail(exc)
    except (ValueError, TypeError) as exc:  # a body field of the wrong type
        return _fail(BadInput(f"the request is not valid: {type(exc).__name__}", field="body"))


async def create_keyset(request: web.Request) -> web.Response:
    doc = await _body(request)
    c = request.app[COORD]
    out = await c.create_keyset(
        int(doc.get("t", c.config.t)),
        int(doc.get("n", c.config.n)),
        str(doc.get("tenant", "default")),
        str(doc.get("wallet_id", "w-" + os.urandom(6).hex())),
    )
    return web.json_response(out)


async def sign(request: web.Request) -> web.Response:
    doc = await _body(request)
    if not isinstance(doc.get("tx"), dict):
        raise BadInput("tx must be a transaction object (tx.json)", field="tx")
    rid = doc.get("request_id")
    out = await request.app[COORD].sign_tx(
        request.match_info["keyset_id"],
        doc["tx"],
        doc.get("permit"),
        request_id=str(rid) if rid else None,
        prefer=[str(x) for x in doc.get("prefer", []) if isinstance(x, str)],
    )
    return web.json_response(out)


async def refresh(request: web.Request) -> web.Response:
    return web.json_response(await request.app[COORD].refresh(request.match_info["keyset_id"]))


async def status(request: web.Request) -> web.Response:
    return web.json_response(await request.app[COORD].status())


async def clear(request: web.Request) -> web.Response:
    return web.json_response(await request.app[COORD].clear(request.match_info["name"]))


async def healthz(request: web.Request) -> web.Response:
    return web.json_response(
        {"status": "ok", "role": "coordinator", "cluster_id": request.app[COORD].config.cluster_id}
    )


async def prometheus(request: web.Request) -> web.Response:
    return web.Response(body=metrics.exposition(), content_type="text/plain")


def create_app(coordinator: Coordinator) -> web.Application:
    app = web.Application(middlewares=[errors])
    app[COORD] = coordinator
    app.router.add_post("/v1/keysets", create_keyset)
    app.router.add_post("/v1/keysets/{keyset_id}/sign", sign)
    app.router.add_post("/v1/keysets/{keyset_id}/refresh", refresh)
    app.router.add_get("/v1/status", status)
    app.router.add_post("/v1/nodes/{name}/clear", clear)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", prometheus)
    return app


def load_coordinator_key(path: Path) -> StaticKeypair:
    """The coordinator's static X25519 key: 64 hex digits in a 0600 file (the demo's form)."""
    try:
        return StaticKeypair(bytes.fromhex(path.read_text().strip()))
    except (OSError, ValueError):
        raise BadInput(
            f"{path}: cannot read the coordinator's static key (64 hex digits); "
            "`mpc cluster init` writes one",
            field="coordinator_key",
        ) from None


def serve(
    config_path: Path,
    store_location: str,
    host: str,
    port: int,
    state_file: Path,
    *,
    retry_bound: float = 30.0,
    allow_without_backups: bool = False,
    key_file: Path | None = None,
) -> None:
    """Run the coordinator in the foreground until SIGTERM/SIGINT; ``state_file`` gets its URL."""
    setup_logging()
    config = load_config(config_path)
    store = Store.open(store_location)

    keypair = load_coordinator_key(key_file or config_path.parent / "coordinator.key")

    async def main() -> None:
        app = create_app(
            Coordinator(
                config,
                store,
                keypair,
                retry_bound=retry_bound,
                allow_without_backups=allow_without_backups,
            )
        )
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        state_file.write_text(json.dumps({"pid": os.getpid(), "url": f"http://{host}:{bound}"}))
        logging.getLogger("mpcwallet.cluster").info(
            "coordinator_started", extra={"ctx": {"url": f"http://{host}:{bound}"}}
        )
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            state_file.unlink(missing_ok=True)
            await runner.cleanup()

    try:
        asyncio.run(main())
    finally:
        store.close()
