"""A fake co-signer for attack tests: a real aiohttp server on loopback, on its own thread.

It answers ``/healthz`` with a copy of the real daemon's answer (the install id, engine and
static key there are public) and hands every ``/v1/session`` WebSocket to ``handler``: the
attacker's side of the session, written by the test with whatever the attacker knows.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.WebSocketResponse], Awaitable[None]]


class Impostor:
    def __init__(self, healthz: dict[str, Any], handler: Handler) -> None:
        self.healthz = healthz
        self.handler = handler
        self.sessions = 0
        self.errors: list[BaseException] = []
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response(self.healthz)

    async def _session(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=4 * 65535)
        await ws.prepare(request)
        self.sessions += 1
        try:
            await self.handler(ws)
        except Exception as exc:
            self.errors.append(exc)
        finally:
            await ws.close()
        return ws

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/v1/session", self._session)
        self._runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._runner.cleanup())

    def __enter__(self) -> Impostor:
        self._thread.start()
        assert self._ready.wait(10), "the impostor did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
