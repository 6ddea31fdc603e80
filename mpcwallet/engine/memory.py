"""In-memory transport pair and a helper running both parties in one process.

For tests and benchmarks (``mpc bench``); the wallet itself talks over the session layer.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from mpcwallet.engine.base import MAX_MESSAGE_BYTES, Job, Role
from mpcwallet.errors import PeerTimeout, PeerUnreachable, ProtocolViolation

T1 = TypeVar("T1")
T2 = TypeVar("T2")

_CLOSED = object()


@dataclass
class MemoryTransport:
    """One end of an in-memory channel. ``receive`` times out after ``timeout`` seconds."""

    inbox: queue.Queue[object]
    outbox: queue.Queue[object]
    timeout: float = 30.0
    max_message: int = MAX_MESSAGE_BYTES
    sent_bytes: int = 0
    sent_messages: int = 0
    closed: bool = field(default=False)

    def send(self, data: bytes) -> None:
        if self.closed:
            raise PeerUnreachable("the transport is closed")
        if len(data) > self.max_message:
            raise ProtocolViolation(
                f"refusing to send a {len(data)}-byte message (limit {self.max_message})"
            )
        self.sent_bytes += len(data)
        self.sent_messages += 1
        self.outbox.put(bytes(data))

    def receive(self) -> bytes:
        try:
            item = self.inbox.get(timeout=self.timeout)
        except queue.Empty:
            raise PeerTimeout(f"the peer sent nothing for {self.timeout:g} s") from None
        if item is _CLOSED:
            raise PeerUnreachable("the peer closed the channel")
        assert isinstance(item, bytes)
        if len(item) > self.max_message:
            raise ProtocolViolation(
                f"received a {len(item)}-byte message (limit {self.max_message})"
            )
        return item

    def close(self) -> None:
        """Tell the peer nothing more will come; its pending ``receive`` fails at once."""
        if not self.closed:
            self.closed = True
            self.outbox.put(_CLOSED)


def memory_transport_pair(
    timeout: float = 30.0, max_message: int = MAX_MESSAGE_BYTES
) -> tuple[MemoryTransport, MemoryTransport]:
    a_to_b: queue.Queue[object] = queue.Queue()
    b_to_a: queue.Queue[object] = queue.Queue()
    return (
        MemoryTransport(inbox=b_to_a, outbox=a_to_b, timeout=timeout, max_message=max_message),
        MemoryTransport(inbox=a_to_b, outbox=b_to_a, timeout=timeout, max_message=max_message),
    )


def make_jobs(
    timeout: float = 30.0,
    party_names: tuple[str, str] = ("client", "cosigner"),
    session_id: bytes | None = None,
) -> tuple[Job, Job]:
    """A P1 job and a P2 job joined by a fresh in-memory channel."""
    sid = session_id if session_id is not None else os.urandom(32)
    t1, t2 = memory_transport_pair(timeout)
    return Job(Role.P1, party_names, sid, t1), Job(Role.P2, party_names, sid, t2)


def run_two_party(
    p1: Callable[[Job], T1],
    p2: Callable[[Job], T2],
    *,
    timeout: float = 30.0,
    session_id: bytes | None = None,
) -> tuple[T1, T2]:
    """Run ``p1`` and ``p2`` in two threads over an in-memory channel.

    If either side raises, its channel is closed so the other side does not wait for the
    timeout, and the error that happened first is re-raised (the root cause: the other side
    then only sees :class:`PeerUnreachable`).
    """
    job1, job2 = make_jobs(timeout, session_id=session_id)
    return run_jobs(p1, p2, job1, job2)


def run_jobs(
    p1: Callable[[Job], T1], p2: Callable[[Job], T2], job1: Job, job2: Job
) -> tuple[T1, T2]:
    """:func:`run_two_party` over given jobs (e.g. to read the transports' byte counters)."""
    results: dict[int, object] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def runner(idx: int, fn: Callable[[Job], object], job: Job) -> None:
        try:
            results[idx] = fn(job)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            with lock:
                errors.append(exc)
            close = getattr(job.transport, "close", None)
            if callable(close):
                close()

    threads = [
        threading.Thread(target=runner, args=(1, p1, job1), name="mpc-P1", daemon=True),
        threading.Thread(target=runner, args=(2, p2, job2), name="mpc-P2", daemon=True),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results[1], results[2]  # type: ignore[return-value]
