"""The aiohttp application: ``GET /healthz`` and the session endpoint ``GET /v1/session``.

Every route first passes :func:`guard_request`: the Host header must name an address this
daemon serves (DNS rebinding: a browser page on evil.example resolving to 127.0.0.1 sends
``Host: evil.example``), and a browser Origin is refused. Connection limits and the handshake
deadline live in :mod:`mpcwallet.cosigner.frontdoor`.

``create_app(config, kek=...)`` builds everything from a config and the unlocked KEK, so tests
can run it in-process or as a real subprocess (:mod:`mpcwallet.cosigner.daemon`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import WSCloseCode, web

from mpcwallet import __version__
from mpcwallet.cosigner import logs
from mpcwallet.cosigner.clients import prepare_home
from mpcwallet.cosigner.config import CosignerConfig
from mpcwallet.cosigner.frontdoor import FRONT_DOOR, FrontDoor, mark_authenticated
from mpcwallet.cosigner.keystore import KeyStore
from mpcwallet.cosigner.presigner import Presigner
from mpcwallet.cosigner.service import Service
from mpcwallet.engine import get_engine
from mpcwallet.errors import MpcError
from mpcwallet.homes.token import read_static_key, read_token
from mpcwallet.session import wire
from mpcwallet.session.channel import Channel
from mpcwallet.session.handshake import server_handshake
from mpcwallet.session.install_id import cosigner_install_id
from mpcwallet.session.secure import static_public
from mpcwallet.storage.envelope import DerivedKey
from mpcwallet.storage.files import ensure_dir

CONFIG = web.AppKey("config", CosignerConfig)
SERVICE = web.AppKey("service", Service)
SESSIONS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sessions")
STARTED_AT = web.AppKey("started_at", float)
# Host names this daemon answers to (lower case, IPv6 in brackets); filled once it is bound.
ALLOWED_HOSTS: web.AppKey[set[str]] = web.AppKey("allowed_hosts")

SESSION_PATH = "/v1/session"


def create_app(config: CosignerConfig, *, kek: DerivedKey) -> web.Application:
    paths = config.paths
    ensure_dir(paths.root)
    if prepare_home(paths):
        logs.log("token_rotated", "replaced the token shared by clients paired by an older release")
    engine = get_engine(config.engine_name)
    app = web.Application(middlewares=[guard_request])
    app[CONFIG] = config
    sessions: set[web.WebSocketResponse] = set()
    app[SESSIONS] = sessions
    app[SERVICE] = Service(
        engine,
        KeyStore(paths, kek),
        read_token(paths.token_file),
        cosigner_install_id(paths.root),
        presigner=Presigner(engine, idle=lambda: not sessions),
        static_key=read_static_key(paths.static_key_file),
    )
    app[FRONT_DOOR] = FrontDoor(
        max_unauthenticated=config.max_unauthenticated,
        max_per_peer=config.max_unauthenticated_per_peer,
        handshake_deadline=config.handshake_deadline,
    )
    app[ALLOWED_HOSTS] = set()
    app[STARTED_AT] = time.monotonic()
    app.router.add_get("/healthz", healthz)
    app.router.add_get(SESSION_PATH, session_endpoint)
    app.cleanup_ctx.append(_keystore_housekeeping)
    app.on_shutdown.append(_going_away)
    app.on_cleanup.append(_stop_presigning)
    from mpcwallet.cosigner import node_role  # the cluster-node role, when this home is a node

    node_role.attach(app, paths.root, kek)
    return app


def serve_addresses(app: web.Application, host: str) -> None:
    """Record the host names this daemon answers to: every loopback spelling and the listen
    address.

    The port in the Host header is not compared: DNS rebinding is stopped by the name (a
    rebinding page sends its own domain), and a port forward (``ssh -L 9000:127.0.0.1:7447``)
    or a local relay legitimately shows another port.
    """
    names = {"127.0.0.1", "localhost", "[::1]"}
    names.add(f"[{host}]" if ":" in host else host)
    app[ALLOWED_HOSTS].update(name.lower() for name in names)


def _host_name(header: str) -> str:
    """The name part of a Host header, lower case (``[::1]:7447`` -> ``[::1]``)."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[: end + 1] if end > 0 else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _refuse(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def guard_request(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    host = _host_name(request.headers.get("Host", ""))
    if not host or host not in request.app[ALLOWED_HOSTS]:
        logs.log("host_refused", "refused a request for another Host", level=logging.WARNING)
        return _refuse(
            421, "host_refused", "this co-signer answers only to its own address (Host header)"
        )
    # A browser page can open a WebSocket to localhost; browsers always send Origin, our
    # client never does. Refuse before anything else.
    if "Origin" in request.headers:
        logs.log("origin_refused", "refused a request with an Origin header", level=logging.WARNING)
        return _refuse(403, "origin_refused", "browser origins are refused")
    return await handler(request)


async def _keystore_housekeeping(app: web.Application) -> AsyncIterator[None]:
    """At start, remove pending shares left by a killed keygen (they were never committed)."""
    removed = app[SERVICE].keystore.cleanup_pending()
    if removed:
        logs.log("pending_removed", "removed uncommitted keygen shares", removed=len(removed))
    yield


async def _stop_presigning(app: web.Application) -> None:
    await app[SERVICE].presigner.close()


async def _going_away(app: web.Application) -> None:
    """Graceful stop: every open session gets a going-away close (1001)."""
    sessions = app[SESSIONS]
    for ws in tuple(sessions):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"co-signer shutting down")


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    service = app[SERVICE]
    shares = app[CONFIG].paths.shares_dir
    if not (shares.is_dir() and os.access(shares, os.W_OK)):
        return web.json_response(
            {"status": "fail", "check": "shares_dir", "message": f"{shares} is not writable"},
            status=503,
        )
    if not app[CONFIG].paths.token_file.exists():
        return web.json_response(
            {"status": "fail", "check": "token", "message": "the pairing token is missing"},
            status=503,
        )
    return web.json_response(
        {
            "status": "ok",
            "engine": service.engine.name,
            "version": __version__,
            "protocol": wire.PROTOCOL_VERSION,
            "uptime_s": round(time.monotonic() - app[STARTED_AT], 3),
            "keys": service.keystore.count(),
            "shares_loaded": service.keystore.loads,  # shares decrypted since start
            "pid": os.getpid(),
            "install_id": service.install_id,
            # public: the static key a client pins at pairing (the handshake proves it)
            "static_key": static_public(service.auth.static_key).hex(),
            "connections": dataclasses.asdict(app[FRONT_DOOR].stats),
            # idle-time precomputation (portable engine): counts only
            "presign": service.presigner.stats(),
        }
    )


async def session_endpoint(request: web.Request) -> web.StreamResponse:
    app = request.app
    config = app[CONFIG]
    service = app[SERVICE]
    ws = web.WebSocketResponse(max_msg_size=wire.WS_MAX_MSG_SIZE, autoping=True)
    await ws.prepare(request)
    app[SESSIONS].add(ws)
    channel: Channel | None = None
    try:
        try:
            channel, hello = await server_handshake(
                ws,
                engine=service.engine.name,
                resolve_secret=service.resolve_secret,
                round_timeout=config.round_timeout,
                install_id=service.install_id,
                static_key=service.auth.static_key,
            )
        except MpcError as exc:
            logs.log(
                "handshake_failed",
                f"handshake failed: {exc.code}",
                level=logging.WARNING,
                code=exc.code,
                remote=request.remote or "unix",
            )
            return ws
        # Message 1 verified, but it may be a replay: the connection counts as authenticated
        # (no deadline, no unauthenticated slot) only once the client's first transport frame
        # decrypts, which takes the keys of this handshake's message 2.
        channel.on_proven = lambda: mark_authenticated(request)
        logs.log(
            "session_opened",
            "handshake complete",
            session=channel.session_id.hex()[:32],
            remote=request.remote or "unix",
        )
        await service.serve(channel, hello)
    except (ConnectionError, RuntimeError) as exc:
        # The client went away mid-write; reported by type only.
        logs.log("connection_lost", f"connection lost ({type(exc).__name__})")
    finally:
        app[SESSIONS].discard(ws)
        service.presigner.session_ended()
        if channel is not None:
            await channel.aclose()
        elif not ws.closed:
            await ws.close()
    return ws
