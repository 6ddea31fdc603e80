"""The aiohttp application of ``mpc serve`` and its guards.

Every request, in this order: a request id (``X-Request-Id``); Host must be
``127.0.0.1:PORT`` or ``localhost:PORT`` (421: a DNS-rebinding page sends its own name); an
``Origin`` header is refused (403) unless ``--allow-origin`` names it (then CORS headers are
added and a preflight is answered); the bearer token (401, constant-time compare); the route
(404/405); the body: at most ``MAX_BODY`` bytes (413), strict JSON of depth at most
``MAX_DEPTH`` through :func:`mpcwallet.jsonio.loads` (400), the route's request model (422);
then the wallet call in a worker thread. Every refusal is ``{"error": {...}}`` with the status
from :mod:`mpcwallet.api.status`, and one JSON log line per request.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mpcwallet.api import logs
from mpcwallet.api.idempotency import Answer, IdempotencyStore, check_key
from mpcwallet.api.status import as_error, error_body, http_status
from mpcwallet.errors import (
    BodyTooLarge,
    HostRefused,
    InvalidRequest,
    MalformedBody,
    MethodNotAllowed,
    MpcError,
    OriginRefused,
    RouteNotFound,
    Unauthorized,
)

if TYPE_CHECKING:
    from aiohttp import web

    from mpcwallet.api.routes import Context, Route

MAX_BODY = 256 * 1024
MAX_DEPTH = 32
# Use cases running at once; more requests wait in line. Each holds up to two connections to
# the co-signer while it authenticates (its /healthz and the session), and the co-signer's front
# door admits 16 unauthenticated connections per peer address (MPC_COSIGNER_MAX_UNAUTH_PER_PEER).
WORKERS = 8


@dataclass
class Server:
    """What the handlers share; ``port`` is set once the socket is bound."""

    token: str
    context: Context
    idempotency: IdempotencyStore
    allow_origins: frozenset[str] = frozenset()
    port: int = 0
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(WORKERS, thread_name_prefix="mpc-api")
    )
    openapi: bytes = b""

    def hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}


def _json(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    from aiohttp import web

    return web.Response(
        status=status, body=body, content_type="application/json", headers=headers or {}
    )


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _error_answer(exc: BaseException) -> Answer:
    err = as_error(exc)
    if not isinstance(exc, MpcError):
        logs.log("internal_error", level="error", exception=type(exc).__name__)
    session_id = getattr(exc, "session_id", None)
    logs.log(
        "refused",
        level="warning",
        code=err.code,
        field=err.field,
        session_id=session_id[:32] if isinstance(session_id, str) else None,
    )
    return http_status(err), _dump(error_body(err))


def _log_session(session_id: str) -> None:
    # the form the co-signer records (`mpc cosigner sessions`, its log): 16 bytes of the hash
    logs.log("cosigner_session", session_id=session_id[:32])


def _validate(route: Route, raw: bytes) -> Any:
    from pydantic import ValidationError

    from mpcwallet.jsonio import loads

    if route.request is None:
        return None
    obj = loads(
        raw or b"",
        what="request body",
        max_bytes=MAX_BODY,
        max_depth=MAX_DEPTH,
        error=MalformedBody,
        field="body",
    )
    if not isinstance(obj, dict):
        raise InvalidRequest("request body: give a JSON object", field="body")
    try:
        return route.request.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidRequest(f"{where}: {first['msg']}", field=where) from None


def _serialize(route: Route, result: dict[str, Any]) -> bytes:
    return _dump(route.response.model_validate(result).model_dump(mode="json", by_alias=True))


async def _call(server: Server, route: Route, raw: bytes) -> Answer:
    """Validate, run the use case, serialize; every failure becomes an error answer."""
    try:
        req = _validate(route, raw)
        loop = asyncio.get_running_loop()
        from mpcwallet.session.client import session_observer

        session_observer.set(_log_session)
        ctx = contextvars.copy_context()
        if route.blocking:
            result = await loop.run_in_executor(
                server.pool, ctx.run, route.run, req, server.context
            )
        else:
            result = route.run(req, server.context)
        return 200, _serialize(route, result)
    except Exception as exc:  # noqa: BLE001 - every failure is an answer (type only if foreign)
        return _error_answer(exc)


def _keep(route: Route) -> Callable[[Answer], bool]:
    """Which answers an Idempotency-Key remembers: all but transient failures of a route that
    made no signature (a failed /tx/send may have signed before its broadcast failed)."""

    def keep(answer: Answer) -> bool:
        status = answer[0]
        return route.path == "/tx/send" or status not in (502, 503, 504)

    return keep


def _http_error(exc: web.HTTPException, method: str, path: str) -> MpcError:
    """aiohttp's own refusals (routing, size, a body it cannot read) as errors of the tree."""
    if exc.status == 404:
        return RouteNotFound(f"no route {path}", field="path")
    if exc.status == 405:
        return MethodNotAllowed(f"{method} is not allowed on {path}", field="method")
    if exc.status == 413:
        return BodyTooLarge(f"request body: larger than {MAX_BODY} bytes", field="body")
    return MalformedBody(f"the request could not be read (HTTP {exc.status})", field="body")


def build_app(server: Server) -> web.Application:
    from aiohttp import web

    from mpcwallet.api.openapi import document
    from mpcwallet.api.routes import ROUTES

    server.openapi = _dump(document(server.port))

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        rid = request.headers.get("X-Request-Id", "")
        if not (0 < len(rid) <= 64 and rid.isascii() and rid.replace("-", "").isalnum()):
            rid = secrets.token_hex(8)
        token = logs.request_id.set(rid)
        start = time.perf_counter()
        origin = request.headers.get("Origin")
        cors: dict[str, str] = {}
        try:
            if request.headers.get("Host", "") not in server.hosts():
                raise HostRefused(
                    "Host: this server answers only 127.0.0.1:PORT or localhost:PORT",
                    field="Host",
                )
            if origin is not None:
                if origin not in server.allow_origins:
                    raise OriginRefused(
                        "Origin: browser requests are refused; start `mpc serve "
                        "--allow-origin ORIGIN` to allow one",
                        field="Origin",
                    )
                cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
                if request.method == "OPTIONS":
                    return web.Response(
                        status=204,
                        headers={
                            **cors,
                            "Access-Control-Allow-Methods": "GET, POST",
                            "Access-Control-Allow-Headers": "Authorization, Content-Type, "
                            "Idempotency-Key, X-Request-Id",
                            "Access-Control-Max-Age": "600",
                        },
                    )
            auth = request.headers.get("Authorization", "")
            presented = auth[7:] if auth[:7].lower() == "bearer " else None
            from mpcwallet.api.token import matches

            if not matches(presented, server.token):
                raise Unauthorized(
                    "Authorization: give `Bearer <token>` with the token in MPC_HOME/api.token",
                    field="Authorization",
                )
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                raise _http_error(exc, request.method, request.path) from None
        except Exception as exc:  # noqa: BLE001 - every refusal is a JSON answer
            status, body = _error_answer(exc)
            response = _json(status, body)
        response.headers["X-Request-Id"] = rid
        response.headers.update(cors)
        logs.log(
            "request",
            method=request.method,
            path=request.path,
            status=response.status,
            ms=round((time.perf_counter() - start) * 1000, 1),
            replayed=response.headers.get("Idempotency-Replayed"),
        )
        logs.request_id.reset(token)
        return response

    def handler_for(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            raw = await request.read() if route.request is not None else b""
            key = request.headers.get("Idempotency-Key")
            if key is None or not route.idempotent:
                status, body = await _call(server, route, raw)
                return _json(status, body)
            check_key(key)
            (status, body), replayed = await server.idempotency.run(
                key, route.path, raw, lambda: _call(server, route, raw), keep=_keep(route)
            )
            return _json(status, body, {"Idempotency-Replayed": "true"} if replayed else None)

        return handle

    async def openapi(_request: web.Request) -> web.StreamResponse:
        return _json(200, server.openapi)

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, handler_for(route))
    app.router.add_get("/openapi.json", openapi, allow_head=False)
    return app
