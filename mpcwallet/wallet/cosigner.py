"""This home's co-signer as the use cases need it: its daemon config, and starting it in the
background when a keygen finds none running (moved here from ``cli/cosigner.py`` so ``mpc
serve`` starts it the same way)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from mpcwallet.errors import BadInput, PassphraseRequired

# The co-signer passphrase: ``first_start`` (no keyring yet) means it protects a new keyring.
CosignerPassphrase = Callable[[bool], str]

_ENV_NAME = "MPC_COSIGNER_PASSPHRASE"


def passphrase_from_env(first_start: bool) -> str:
    """The co-signer passphrase from MPC_COSIGNER_PASSPHRASE, for front ends that cannot ask."""
    del first_start
    value = os.environ.get(_ENV_NAME)
    if value is None:
        raise PassphraseRequired(
            f"no co-signer passphrase: set {_ENV_NAME} (or start the co-signer "
            "with `mpc cosigner start`)",
            field=_ENV_NAME,
        )
    if not value:
        raise BadInput(
            f"{_ENV_NAME} is set but empty; unset it or set a passphrase",
            field=_ENV_NAME,
        )
    return value


def make_config(
    host: str, port: int | None, engine: str | None, *, remember_port: bool = False
) -> Any:
    """The daemon's config. Without ``port``: the remembered one (``--port`` of an earlier
    start), else the default port, falling back to a free one if it is taken."""
    from mpcwallet.config import mpc_home
    from mpcwallet.cosigner.config import CosignerConfig, front_door_from_env
    from mpcwallet.engine import default_engine_name, get_engine
    from mpcwallet.homes.paths import DEFAULT_PORT, CosignerPaths
    from mpcwallet.homes.settings import remembered_port
    from mpcwallet.session.channel import round_timeout_from_env

    if engine is not None:
        get_engine(engine)
    home = mpc_home()
    fallback = False
    if port is None:
        port = remembered_port(CosignerPaths.for_home(home))
        if port is None:
            port, fallback = DEFAULT_PORT, True
    max_unauth, max_per_peer, deadline = front_door_from_env()
    return CosignerConfig(
        home=home,
        engine_name=engine or default_engine_name(),
        host=host,
        port=port,
        port_fallback=fallback,
        remember_port=remember_port and port != 0,
        round_timeout=round_timeout_from_env(),
        max_unauthenticated=max_unauth,
        max_unauthenticated_per_peer=max_per_peer,
        handshake_deadline=deadline,
    )


def ensure_running(
    endpoint: str, passphrase: CosignerPassphrase = passphrase_from_env
) -> dict[str, Any] | None:
    """Start this home's co-signer in the background unless it is already running.

    Returns the new daemon's state, or None if nothing was started (it runs already, or this
    home is paired with a remote co-signer, or ``MPC_COSIGNER_URL`` points at an answering one).
    ``passphrase(first_start)`` is called only when a daemon is about to be started.
    """
    from mpcwallet.config import mpc_home
    from mpcwallet.cosigner.daemon import running_pid, start_background
    from mpcwallet.errors import PeerUnreachable
    from mpcwallet.homes.pairing import read_pairing
    from mpcwallet.homes.paths import CosignerPaths
    from mpcwallet.session.endpoint import fetch_healthz, parse_endpoint

    home = mpc_home()
    if read_pairing(home) is not None:
        return None  # a remote co-signer: never start a local one
    if running_pid(CosignerPaths.for_home(home)) is not None:
        return None  # the session checks it answers where its state says
    if os.environ.get("MPC_COSIGNER_URL"):
        try:
            fetch_healthz(endpoint)
            return None
        except PeerUnreachable:
            pass
        host, port = parse_endpoint(endpoint)
        config = make_config(host, port, None)
    else:
        # The default port may belong to another home's daemon: start ours where it can listen.
        config = make_config(parse_endpoint(endpoint)[0], None, None)
    first = not config.paths.keyring_file.exists()
    state: dict[str, Any] = start_background(config, passphrase(first))
    return state
