"""The co-signer's configuration (immutable, no secrets)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from mpcwallet.cosigner.paths import DEFAULT_HOST, DEFAULT_PORT, CosignerPaths
from mpcwallet.errors import BadInput
from mpcwallet.session.channel import DEFAULT_ROUND_TIMEOUT


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class CosignerConfig:
    home: Path
    engine_name: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_remote: bool = False
    round_timeout: float = DEFAULT_ROUND_TIMEOUT
    shutdown_timeout: float = 10.0
    paths: CosignerPaths = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", CosignerPaths.for_home(self.home))
        if not 0 <= self.port <= 65535:
            raise BadInput(f"port {self.port} is not in 0..65535", field="port")
        if not self.allow_remote and not is_loopback(self.host):
            raise BadInput(
                f"refusing to listen on non-loopback host {self.host!r}: anyone who can reach "
                "it could try to use the co-signer. Pass --allow-remote-i-know-what-i-am-doing "
                "only behind a firewall you control.",
                field="host",
            )
