"""``Idempotency-Key``: a retried request returns the first answer and never signs twice.

Entries are kept in memory, keyed by the key; each remembers the route and a SHA-256 of the
body. The first request with a key runs; a concurrent duplicate waits for it and gets the same
status and body; a later one gets the stored answer. The same key with another route or body is
refused (409 ``idempotency_conflict``). A first request that failed with a transient error is
forgotten, so a retry runs again (nothing was signed); any other answer is kept.
Entries expire after ``ttl`` seconds; at most ``max_entries`` are kept (oldest dropped first).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mpcwallet.errors import BadInput, IdempotencyConflict

MAX_KEY_CHARS = 255
Answer = tuple[int, bytes]  # status, JSON body


@dataclass
class _Entry:
    route: str
    body_hash: bytes
    created: float
    done: asyncio.Future[Answer] = field(repr=False)


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_CHARS or not key.isascii() or not key.isprintable():
        raise BadInput(
            f"Idempotency-Key: give 1-{MAX_KEY_CHARS} printable ASCII characters",
            field="Idempotency-Key",
        )
    return key


class IdempotencyStore:
    def __init__(self, ttl: float = 24 * 3600, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if now - oldest.created < self.ttl and len(self._entries) < self.max_entries:
                break
            if not oldest.done.done():
                break  # never drop a request still running
            self._entries.popitem(last=False)

    async def run(
        self,
        key: str,
        route: str,
        body: bytes,
        handler: Callable[[], Awaitable[Answer]],
        *,
        keep: Callable[[Answer], bool],
    ) -> tuple[Answer, bool]:
        """The answer for ``key`` and whether it was replayed (not computed by this call)."""
        body_hash = hashlib.sha256(body).digest()
        now = time.monotonic()
        self._expire(now)
        entry = self._entries.get(key)
        if entry is not None:
            if entry.route != route or entry.body_hash != body_hash:
                raise IdempotencyConflict(
                    "Idempotency-Key was already used with another "
                    f"{'route' if entry.route != route else 'body'}; use a new key for a new "
                    "request",
                    field="Idempotency-Key",
                )
            return await asyncio.shield(entry.done), True
        # The handler runs as its own task: a caller that disconnects does not lose an answer
        # already being made (the signature is stored for the retry that will come).
        task = asyncio.ensure_future(handler())
        self._entries[key] = _Entry(route, body_hash, now, task)

        def settle(t: asyncio.Future[Answer]) -> None:
            if t.cancelled() or t.exception() is not None or not keep(t.result()):
                if self._entries.get(key) is not None and self._entries[key].done is t:
                    del self._entries[key]

        task.add_done_callback(settle)
        return await asyncio.shield(task), False
