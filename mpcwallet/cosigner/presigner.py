"""Idle-time precomputation in the co-signer: after a signature with a key, the next ones'
message-independent work for P2 is done while no session runs.

Only engines that offer it take part (the portable engine: :mod:`mpcwallet.engine.portable.
presign`; cb-mpc's public API has no offline phase). What is kept between signatures is the
engine's public handle (P1's Paillier modulus N), never a decrypted share. Elements are computed
one at a time in a worker thread, and only while no session is open, so a request never waits
behind this work for longer than one element. The pool is in memory only: a crash or a restart
starts empty, and each element is taken (removed) by exactly one signature.

``MPC_COSIGNER_PRESIGN=0`` turns it off.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from mpcwallet.cosigner import logs


class Presigner:
    def __init__(self, engine: Any, idle: Callable[[], bool]) -> None:
        enabled = os.environ.get("MPC_COSIGNER_PRESIGN", "1") != "0"
        self._engine = engine if enabled and hasattr(engine, "presign_handle") else None
        self._idle = idle
        self._wanted: list[Any] = []  # handles to fill, oldest first
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def stats(self) -> dict[str, Any] | None:
        """``{held, used}`` for /healthz, or None when this engine precomputes nothing."""
        return None if self._engine is None else dict(self._engine.presign_stats())

    def after_sign(self, key_blob: bytes) -> None:
        """A signature with this key just ended: fill its pool when the daemon is idle."""
        if self._engine is None:
            return
        handle = self._engine.presign_handle(key_blob)
        if handle not in self._wanted:
            self._wanted.append(handle)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    def session_ended(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        engine = self._engine
        assert engine is not None
        while self._wanted:
            if not self._idle():
                self._wake.clear()
                await self._wake.wait()
                continue
            handle = self._wanted[0]
            if not engine.presign_wanted(handle):
                self._wanted.pop(0)
                continue
            try:
                await asyncio.to_thread(engine.presign_fill, handle, 1)
            except Exception as exc:  # noqa: BLE001 - idle work never takes the daemon down
                logs.log(
                    "presign_failed",
                    f"idle-time precomputation stopped ({type(exc).__name__})",
                    level=logging.WARNING,
                )
                self._wanted.clear()
                return

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
