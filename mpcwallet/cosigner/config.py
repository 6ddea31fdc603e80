"""The co-signer's configuration (immutable, no secrets)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from mpcwallet.errors import BadInput
from mpcwallet.homes.paths import DEFAULT_HOST, DEFAULT_PORT, CosignerPaths
from mpcwallet.session.channel import DEFAULT_ROUND_TIMEOUT

# Front-door limits (see mpcwallet.cosigner.frontdoor); env overrides exist for tests and for
# operators who know their load.
DEFAULT_MAX_UNAUTHENTICATED = 64
DEFAULT_MAX_UNAUTHENTICATED_PER_PEER = 16
DEFAULT_HANDSHAKE_DEADLINE = 10.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _env_number(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadInput(f"{name} must be a number in [{low:g}, {high:g}], got {raw!r}", field=name)
    return value


def front_door_from_env() -> tuple[int, int, float]:
    """``(max_unauthenticated, max_per_peer, handshake_deadline)`` from the environment
    (``MPC_COSIGNER_MAX_UNAUTH``, ``MPC_COSIGNER_MAX_UNAUTH_PER_PEER``,
    ``MPC_COSIGNER_HANDSHAKE_DEADLINE``), else the defaults."""
    total = int(_env_number("MPC_COSIGNER_MAX_UNAUTH", DEFAULT_MAX_UNAUTHENTICATED, 1, 100000))
    per_peer = int(
        _env_number(
            "MPC_COSIGNER_MAX_UNAUTH_PER_PEER", DEFAULT_MAX_UNAUTHENTICATED_PER_PEER, 1, 100000
        )
    )
    deadline = _env_number("MPC_COSIGNER_HANDSHAKE_DEADLINE", DEFAULT_HANDSHAKE_DEADLINE, 0.1, 600)
    return total, min(per_peer, total), deadline


@dataclass(frozen=True)
class CosignerConfig:
    home: Path
    engine_name: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # The port was not asked for explicitly: if it is taken, listen on a free one instead.
    port_fallback: bool = False
    # Write the port to MPC_HOME/cosigner/config.json once bound (it was given with --port).
    remember_port: bool = False
    round_timeout: float = DEFAULT_ROUND_TIMEOUT
    shutdown_timeout: float = 10.0
    max_unauthenticated: int = DEFAULT_MAX_UNAUTHENTICATED
    max_unauthenticated_per_peer: int = DEFAULT_MAX_UNAUTHENTICATED_PER_PEER
    handshake_deadline: float = DEFAULT_HANDSHAKE_DEADLINE
    paths: CosignerPaths = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", CosignerPaths.for_home(self.home))
        if not 0 <= self.port <= 65535:
            raise BadInput(f"port {self.port} is not in 0..65535", field="port")
        check_listen_host(self.host)


def check_listen_host(host: str) -> None:
    """A listen address must name one interface: loopback by default, or an address given with
    ``--host`` on purpose. Wildcards are refused: the daemon checks every request's Host header
    against the address it serves (DNS rebinding), which needs one known address."""
    if host == "localhost":
        return
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise BadInput(
            f"--host {host!r} is not an IP address; give the address of the interface to "
            "listen on (e.g. 127.0.0.1, or this machine's LAN address for a remote client)",
            field="host",
        ) from None
    if addr.is_unspecified or addr.is_multicast:
        raise BadInput(
            f"refusing to listen on {host!r}: give the one address of the interface to listen "
            "on, not a wildcard (remote clients pair with `mpc cosigner pair`)",
            field="host",
        )
