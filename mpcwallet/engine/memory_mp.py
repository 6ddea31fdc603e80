"""An in-memory network for multi-party jobs, and a helper running one thread per party.

For tests and benchmarks (``mpc bench``); the cluster talks over the session layer. Every
receive waits at most ``timeout`` seconds (then :class:`PeerTimeout`), every message is at most
``max_message`` bytes, and :meth:`MemoryNetwork.cancel` wakes every pending receive at once with
:class:`PeerUnreachable`, so an abandoned session leaves no thread blocked.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

from mpcwallet.engine.base import MAX_MESSAGE_BYTES
from mpcwallet.engine.base_mp import AccessStructure, MpJob, check_names
from mpcwallet.errors import PeerTimeout, PeerUnreachable, ProtocolViolation

T = TypeVar("T")


class MemoryNetwork:
    """Ordered channels between ``len(names)`` parties, one lock for all of them."""

    def __init__(
        self, names: Sequence[str], timeout: float = 30.0, max_message: int = MAX_MESSAGE_BYTES
    ) -> None:
        self.names = tuple(names)
        self.timeout = timeout
        self.max_message = max_message
        self.sent_bytes = 0
        self.sent_messages = 0
        self._cond = threading.Condition()
        n = len(self.names)
        self._queues = {(i, j): deque[bytes]() for i in range(n) for j in range(n) if i != j}
        self._cancelled: str | None = None

    def endpoint(self, index: int) -> MemoryMpTransport:
        return MemoryMpTransport(self, index)

    def cancel(self, reason: str = "the session was cancelled") -> None:
        """Fail every pending and later send/receive with :class:`PeerUnreachable`."""
        with self._cond:
            if self._cancelled is None:
                self._cancelled = reason
            self._cond.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._cancelled is not None

    def _check(self, a: int, b: int) -> tuple[int, int]:
        if not (0 <= b < len(self.names)) or a == b:
            raise ProtocolViolation(f"no channel from party {a} to party {b}")
        return a, b

    def _send(self, frm: int, to: int, data: bytes) -> None:
        key = self._check(frm, to)
        if len(data) > self.max_message:
            raise ProtocolViolation(
                f"refusing to send a {len(data)}-byte message (limit {self.max_message})"
            )
        with self._cond:
            if self._cancelled is not None:
                raise PeerUnreachable(self._cancelled)
            self._queues[key].append(bytes(data))
            self.sent_bytes += len(data)
            self.sent_messages += 1
            self._cond.notify_all()

    def _receive(self, me: int, sender: int, deadline: float) -> bytes:
        self._check(me, sender)
        q = self._queues[(sender, me)]
        with self._cond:
            while not q:
                if self._cancelled is not None:
                    raise PeerUnreachable(self._cancelled)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PeerTimeout(
                        f"party {self.names[sender]!r} sent nothing for {self.timeout:g} s"
                    )
                self._cond.wait(remaining)
            data = q.popleft()
        if len(data) > self.max_message:
            raise ProtocolViolation(
                f"received a {len(data)}-byte message (limit {self.max_message})"
            )
        return data


class MemoryMpTransport:
    """Party ``index``'s end of a :class:`MemoryNetwork` (an :class:`MpTransport`)."""

    def __init__(self, network: MemoryNetwork, index: int) -> None:
        self.network = network
        self.index = index

    def send(self, to: int, data: bytes) -> None:
        self.network._send(self.index, to, data)

    def receive(self, sender: int) -> bytes:
        return self.network._receive(self.index, sender, time.monotonic() + self.network.timeout)

    def receive_all(self, senders: Sequence[int]) -> list[bytes]:
        # One timeout for the whole set: the slowest sender bounds the wait.
        deadline = time.monotonic() + self.network.timeout
        return [self.network._receive(self.index, s, deadline) for s in senders]


def make_mp_jobs(
    names: Sequence[str],
    access: AccessStructure,
    quorum: Sequence[str] | None = None,
    *,
    timeout: float = 30.0,
    session_id: bytes = b"",
) -> tuple[MemoryNetwork, list[MpJob]]:
    """One job per party of ``names`` over a fresh network (quorum: every party by default)."""
    names = check_names(names)
    network = MemoryNetwork(names, timeout)
    q = tuple(quorum) if quorum is not None else names
    jobs = [MpJob(names, i, access, q, network.endpoint(i), session_id) for i in range(len(names))]
    return network, jobs


def run_parties(
    fns: Sequence[Callable[[MpJob], T]],
    jobs: Sequence[MpJob],
    network: MemoryNetwork,
) -> list[T | BaseException]:
    """Run ``fns[i](jobs[i])`` in one thread each; each party's result or exception.

    The first party to fail cancels the network, so the others stop at their next receive
    instead of waiting for the timeout. Every thread has ended when this returns.
    """
    out: list[T | BaseException] = [PeerUnreachable("did not run")] * len(fns)

    def runner(i: int) -> None:
        try:
            out[i] = fns[i](jobs[i])
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            out[i] = exc
            network.cancel(f"party {jobs[i].my_name!r} failed ({type(exc).__name__})")

    threads = [
        threading.Thread(target=runner, args=(i,), name=f"mpc-{jobs[i].my_name}", daemon=True)
        for i in range(len(fns))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def results(outcomes: Sequence[T | BaseException]) -> list[T]:
    """The results of :func:`run_parties`, or the first root-cause error raised.

    A party that failed first cancels the others, which then see PeerUnreachable; that party's
    own error is the one raised."""
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        root = [e for e in errors if not isinstance(e, PeerUnreachable)]
        raise (root or errors)[0]
    return list(outcomes)  # type: ignore[arg-type]
