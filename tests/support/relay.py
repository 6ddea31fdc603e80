"""A loopback TCP relay to a daemon, on its own event loop thread, for tests that stand between a
real client and a real daemon (recording what a network observer sees, closing connections at
accept as the front door's eviction does)."""

from __future__ import annotations

import asyncio
import threading
from typing import Self


async def _pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, rec: bytearray | None) -> None:
    try:
        while data := await r.read(65536):
            if rec is not None:
                rec.extend(data)
            w.write(data)
            await w.drain()
    except ConnectionError:
        pass
    finally:
        w.close()


class LoopbackRelay:
    """Relays every accepted connection to ``target_port`` on 127.0.0.1. A subclass decides per
    connection in :meth:`accept`: close it at once, or relay it and record either direction."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def accept(self) -> tuple[bytearray | None, bytearray | None] | None:
        """None closes the new connection at accept; else the buffers that record the client ->
        daemon and daemon -> client bytes (None: not recorded). Runs on the relay's loop."""
        return None, None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._server = server
        self._ready.set()
        self.loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        recs = self.accept()
        if recs is None:
            writer.transport.abort()
            return
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(_pipe(reader, up_w, recs[0]), _pipe(up_r, writer, recs[1]))

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self._server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
