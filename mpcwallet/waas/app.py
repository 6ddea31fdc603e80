"""The WaaS /v1 HTTP API (aiohttp): routes, bearer API keys, one error shape.

Every request: the bearer API key (``Authorization: Bearer mpcw_...``; stored hashed) names a
principal with a role and a tenant (401 without one); the body is at most ``MAX_BODY`` bytes of
JSON validated by the route's model (422 naming the field); the use case runs in a worker
thread; every refusal is ``{"error": {code, message, kind, field}}`` with the status from
:data:`STATUS`. A principal sees only its tenant's wallets and requests (others are 404).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from mpcwallet import errors as e
from mpcwallet.store.waas_records import Principal
from mpcwallet.waas import models as m
from mpcwallet.waas import pipeline, wallets
from mpcwallet.waas.errors import Forbidden, RequestIdReused, WrongState
from mpcwallet.waas.service import Service

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("mpcwallet.waas")
MAX_BODY = 256 * 1024
WORKERS = 16

STATUS: dict[type[e.MpcError], int] = {
    e.BadInput: 422,
    e.Unauthorized: 401,
    Forbidden: 403,
    e.NotFound: 404,
    e.AlreadyExists: 409,
    RequestIdReused: 409,
    WrongState: 409,
    e.PolicyRefused: 403,
    e.Busy: 409,
    e.TransientError: 503,
    e.PeerTimeout: 504,
    e.ProtocolViolation: 502,
    e.EngineUnavailable: 501,
    e.InternalError: 500,
    e.MethodNotAllowed: 405,
    e.MalformedBody: 400,
    e.BodyTooLarge: 413,
}


def http_status(err: e.MpcError) -> int:
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return {"transient": 503, "violation": 502}.get(err.kind, 400)


def error_body(err: e.MpcError) -> dict[str, Any]:
    return {
        "error": {"code": err.code, "message": err.message, "kind": err.kind, "field": err.field}
    }


Handler = Callable[[Service, Principal, dict[str, str], Any], tuple[int, BaseModel]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    response: type[BaseModel]
    handler: Handler
    request: type[BaseModel] | None = None
    query: tuple[str, ...] = ()
    created: bool = False  # 201 on a new record, 200 on an idempotent replay


def _tx_view(svc: Service, row: Any) -> m.TxRequestView:
    return m.TxRequestView.of(
        row, svc.store.history(row.tx_request_id), svc.store.approvers_of(row.tx_request_id)
    )


def _create_wallet(svc: Service, who: Principal, _: dict[str, str], body: Any) -> Any:
    row, created = wallets.create_wallet(svc, who, body.model_dump())
    return (201 if created else 200), m.Wallet.of(row)


def _limit(q: dict[str, str]) -> int:
    try:
        limit = int(q.get("limit", "50"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 500:
        raise e.BadInput("limit must be an integer 1..500", field="limit")
    return limit


def _list_wallets(svc: Service, who: Principal, q: dict[str, str], _: Any) -> Any:
    limit = _limit(q)
    rows, nxt = wallets.list_wallets(svc, who, limit, q.get("after"))
    return 200, m.WalletPage(wallets=[m.Wallet.of(r) for r in rows], next_after=nxt)


def _get_wallet(svc: Service, who: Principal, q: dict[str, str], _: Any) -> Any:
    return 200, m.Wallet.of(wallets.get_wallet(svc, who, q["wallet_id"]))


def _deposits(svc: Service, who: Principal, q: dict[str, str], _: Any) -> Any:
    from mpcwallet.waas.deposits import deposits_page

    rows, nxt = deposits_page(svc, who, q["wallet_id"], _limit(q), q.get("after"))
    return 200, m.DepositPage(deposits=[m.DepositView.of(d) for d in rows], next_after=nxt)


def _mpc(svc: Service, who: Principal, q: dict[str, str], _: Any) -> Any:
    return 200, m.MpcMeta(**wallets.mpc_meta(svc, who, q["wallet_id"]))


def _refresh(svc: Service, who: Principal, q: dict[str, str], _: Any) -> Any:
    return 200, m.MpcMeta(**wallets.refresh_wallet(svc, who, q["wallet_id"]))


def _submit(svc: Service, who: Principal, _: dict[str, str], body: Any) -> Any:
    row, created = pipeline.submit(svc, who, body.model_dump(exclude_none=True))
    return (201 if created else 200), _tx_view(svc, row)


def _get_tx(svc: Service, who: Principal, q: dict[str, str], _: Any) -> Any:
    return 200, _tx_view(svc, svc.store.get_tx(q["tx_request_id"], who.tenant))


def _approve(svc: Service, who: Principal, q: dict[str, str], body: Any) -> Any:
    return 200, _tx_view(svc, pipeline.approve(svc, who, q["tx_request_id"], body.signature))


def _speed_up(svc: Service, who: Principal, q: dict[str, str], _: Any) -> Any:
    from mpcwallet.waas.replace import replace_tx

    return 200, _tx_view(svc, replace_tx(svc, who, q["tx_request_id"], "speed-up"))


def _cancel(svc: Service, who: Principal, q: dict[str, str], _: Any) -> Any:
    from mpcwallet.waas.replace import replace_tx

    return 200, _tx_view(svc, replace_tx(svc, who, q["tx_request_id"], "cancel"))


ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/v1/wallets",
        "Create a wallet (t-of-n DKG on the cluster)",
        m.Wallet,
        _create_wallet,
        m.CreateWalletRequest,
        created=True,
    ),
    Route(
        "GET",
        "/v1/wallets",
        "The tenant's wallets, paged",
        m.WalletPage,
        _list_wallets,
        query=("limit", "after"),
    ),
    Route("GET", "/v1/wallets/{wallet_id}", "One wallet", m.Wallet, _get_wallet),
    Route(
        "GET",
        "/v1/wallets/{wallet_id}/deposits",
        "Deposits to the wallet (ETH and ERC-20), paged, oldest block first",
        m.DepositPage,
        _deposits,
        query=("limit", "after"),
    ),
    Route("GET", "/v1/wallets/{wallet_id}/mpc", "Key set status and meta", m.MpcMeta, _mpc),
    Route(
        "POST",
        "/v1/wallets/{wallet_id}/mpc/refresh",
        "Refresh the key set's shares (admin)",
        m.MpcMeta,
        _refresh,
    ),
    Route(
        "POST",
        "/v1/tx-requests",
        "Submit a transaction request to the pipeline",
        m.TxRequestView,
        _submit,
        m.CreateTxRequest,
        created=True,
    ),
    Route(
        "GET",
        "/v1/tx-requests/{tx_request_id}",
        "A request: state, history, reason",
        m.TxRequestView,
        _get_tx,
    ),
    Route(
        "POST",
        "/v1/tx-requests/{tx_request_id}/approvals",
        "Add a signed approval",
        m.TxRequestView,
        _approve,
        m.ApprovalRequest,
    ),
    Route(
        "POST",
        "/v1/tx-requests/{tx_request_id}/speed-up",
        "Replace a stuck (BROADCAST) transaction: same nonce, fees +10 % (requester or admin)",
        m.TxRequestView,
        _speed_up,
    ),
    Route(
        "POST",
        "/v1/tx-requests/{tx_request_id}/cancel",
        "Cancel a stuck (BROADCAST) transaction: a zero-value self-transfer at its nonce",
        m.TxRequestView,
        _cancel,
    ),
)


def _json(status: int, obj: Any) -> web.Response:
    from aiohttp import web

    return web.Response(
        status=status, body=json.dumps(obj).encode(), content_type="application/json"
    )


def _field_of(exc: ValidationError) -> str | None:
    for err in exc.errors():
        return ".".join(str(p) for p in err.get("loc", ())) or None
    return None


def build_app(svc: Service, openapi: dict[str, Any]) -> Any:
    from aiohttp import web

    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="waas")

    @web.middleware
    async def unknown_routes(request: web.Request, handler: Any) -> web.StreamResponse:
        """aiohttp's own 404/405 in the one error shape."""
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except web.HTTPNotFound:
            err: e.MpcError = e.RouteNotFound(
                f"no route {request.path}; see /openapi.json", field="path"
            )
        except web.HTTPMethodNotAllowed:
            err = e.MethodNotAllowed(f"{request.method} is not allowed on {request.path}")
        return _json(http_status(err), error_body(err))

    app = web.Application(client_max_size=MAX_BODY, middlewares=[unknown_routes])

    def wrap(route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            loop = asyncio.get_running_loop()
            try:
                auth = request.headers.get("Authorization", "")
                key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
                who = await loop.run_in_executor(pool, svc.authenticate, key) if key else None
                if who is None:
                    raise e.Unauthorized(
                        "a valid API key is needed: Authorization: Bearer "
                        "<key> (`mpc waas principal-add` makes one)",
                        field="Authorization",
                    )
                body = None
                if route.request is not None:
                    raw = await request.read()
                    try:
                        doc = json.loads(raw)
                    except ValueError:
                        raise e.MalformedBody("the body is not JSON", field="body") from None
                    try:
                        body = route.request.model_validate(doc)
                    except ValidationError as exc:
                        first = exc.errors()[0]
                        raise e.InvalidRequest(
                            f"{_field_of(exc)}: {first.get('msg', 'invalid')}; see "
                            "/openapi.json for the schema",
                            field=_field_of(exc),
                        ) from None
                params = {**dict(request.query), **dict(request.match_info)}
                status, out = await loop.run_in_executor(
                    pool, route.handler, svc, who, params, body
                )
                return _json(status, out.model_dump(mode="json"))
            except web.HTTPRequestEntityTooLarge:
                err: e.MpcError = e.BodyTooLarge(f"the body is over {MAX_BODY} bytes")
            except e.MpcError as exc:
                err = exc
            except Exception as exc:  # type only, never arguments
                log.exception("internal error in %s %s", route.method, route.path)
                err = e.InternalError(f"internal error ({type(exc).__name__}); see the log")
            return _json(http_status(err), error_body(err))

        return handle

    async def serve_openapi(request: web.Request) -> web.Response:
        return _json(200, openapi)

    for route in ROUTES:
        app.router.add_route(route.method, route.path, wrap(route))
    app.router.add_get("/openapi.json", serve_openapi)
    app.on_cleanup.append(lambda _app: asyncio.to_thread(pool.shutdown, wait=False))
    return app
