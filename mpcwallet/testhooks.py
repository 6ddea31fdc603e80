"""A test hook: stop the process at a named step so a test can kill it exactly there.

With ``MPC_TEST_PAUSE_AT=<step>`` and ``MPC_TEST_PAUSE_DIR=<dir>``, reaching ``<step>`` writes
``<dir>/<step>.reached`` (containing the pid) and blocks until ``<dir>/<step>.release`` exists.
Without both variables this is a no-op. It never touches secrets.

Every fault hook of the project lives here (at the bottom: it imports nothing of mpcwallet, so
storage, session, the daemon and the coordinator can all call it).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

TEST_HOOK_VARIABLES = ("MPC_TEST_PAUSE_AT", "MPC_TEST_PAUSE_DIR", "MPC_TEST_TAMPER")
# MPC_TEST_TAMPER values: "sign" (co-signer P2), "node_sign" (a cluster node's cb-mpc message,
# before its channel seals it), "relay" (the coordinator flips a bit of a relayed frame).


def active_test_hooks() -> list[str]:
    """The test-hook variables set in this process's environment (names only)."""
    return [name for name in TEST_HOOK_VARIABLES if os.environ.get(name)]


def pause_point(step: str) -> None:
    if os.environ.get("MPC_TEST_PAUSE_AT") != step:
        return
    where = os.environ.get("MPC_TEST_PAUSE_DIR")
    if not where:
        return
    directory = Path(where)
    (directory / f"{step}.reached").write_text(str(os.getpid()))
    release = directory / f"{step}.release"
    while not release.exists():
        time.sleep(0.05)


class _SignHookTransport:
    """Test hooks on the co-signer's sign transport (P2), active only via env variables.

    ``MPC_TEST_PAUSE_AT=daemon_sign_before_last_send`` pauses (see :func:`pause_point`) before
    P2's last message, so a test can kill the daemon mid-sign. ``MPC_TEST_TAMPER=sign`` flips
    one bit of P2's last message (both engines send two in sign) before the session encryption
    layer, so it arrives intact-looking: a misbehaving co-signer, which the client must detect and
    quarantine. Never touches secrets; no-op without the variables.
    """

    LAST_SEND = 2

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._sent = 0

    def send(self, data: bytes) -> None:
        self._sent += 1
        if self._sent == self.LAST_SEND:
            pause_point("daemon_sign_before_last_send")
            if os.environ.get("MPC_TEST_TAMPER") == "sign" and data:
                data = data[:-1] + bytes([data[-1] ^ 0x01])
        self._inner.send(data)

    def receive(self) -> bytes:
        data: bytes = self._inner.receive()
        return data


def sign_test_hooks(job: Any) -> Any:
    """``job`` (an engine Job) unchanged unless a sign test hook is set in the environment."""
    if os.environ.get("MPC_TEST_TAMPER") != "sign" and not os.environ.get("MPC_TEST_PAUSE_AT"):
        return job
    return dataclasses.replace(job, transport=_SignHookTransport(job.transport))


def node_send_hook(op: str, count: int, data: bytes) -> bytes:
    """A cluster node's outgoing cb-mpc message, before its node channel seals it.

    ``MPC_TEST_PAUSE_AT=node_sign_before_send`` pauses before the node's first sign message (a
    test kills it there). ``MPC_TEST_TAMPER=node_sign`` flips one bit of its first sign message:
    it authenticates on the channel and fails the peer's cb-mpc check. No-op without them."""
    if op != "sign" or count != 1:
        return data
    pause_point("node_sign_before_send")
    if os.environ.get("MPC_TEST_TAMPER") == "node_sign" and data:
        return data[:-1] + bytes([data[-1] ^ 0x01])
    return data


def relay_hook(frame: bytes) -> bytes:
    """The coordinator's relay: ``MPC_TEST_TAMPER=relay`` flips the last bit of every frame it
    forwards (a relay that tampers). No-op without it."""
    if os.environ.get("MPC_TEST_TAMPER") == "relay" and frame:
        return frame[:-1] + bytes([frame[-1] ^ 0x01])
    return frame
