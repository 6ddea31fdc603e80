"""The client side (party P1) of every co-signer operation.

Public API (kept stable for the CLI and the EVM engineer's ``mpc sign``), re-exported here from
one module per use case (:mod:`.client_core`: endpoint and the session itself;
:mod:`.client_keys`: keygen, refresh, self-test, key info, pairing; :mod:`.client_sign`;
:mod:`.client_health`):

* :func:`resolve_endpoint` - ``MPC_COSIGNER_URL``, else the pairing record (a remote
  co-signer, :func:`run_pair`), else the running daemon's state file, else the remembered port,
  else ``ws://127.0.0.1:7447``.

Every session first asks ``/healthz`` for the co-signer's install id and compares it with this
home's (its own ``cosigner/install.id``, or the one stored at pairing): a client only ever talks
to the co-signer of its own ``MPC_HOME``, and reaching another is :class:`WrongCosigner`. The
handshake then authenticates the co-signer's static key this home pins, and this client's own
secret; identity, credentials and pairing live in :mod:`mpcwallet.session.peer`.
* :func:`run_keygen` - DKG with the co-signer; two-phase commit (see
  :mod:`mpcwallet.cosigner.service`): ``write_pending(result)`` must durably write the client's
  share under a temporary name; after it returns the client commits, and only when the daemon
  acks is the result returned (the caller then renames its share into place).
* :func:`run_sign` - sign one transaction; returns the DER signature (P1 output).
* :func:`run_refresh` - new shares of the same key (two-phase commit, like keygen).
* :func:`run_selftest` - the refreshed pair signs the fixed self-test digest.
* :func:`key_info` - whether the co-signer holds a key, and its generation.
* :func:`health` - ``/healthz``, an authenticated ping, optionally the per-key check.

Each call runs its own event loop (``asyncio.run``) with the engine in a worker thread.
The WebSocket is ``websockets``' asyncio client (:mod:`mpcwallet.session.ws_client`; the
co-signer keeps aiohttp), imported inside the functions so ``mpc --help`` does not load it.
"""

from __future__ import annotations

from mpcwallet.session.client_core import (
    SESSION_PATH,
    default_endpoint,
    engine_for_home,
    read_state,
    resolve_endpoint,
    session_observer,
)
from mpcwallet.session.client_health import health
from mpcwallet.session.client_keys import (
    KeygenResult,
    key_info,
    pairing_request,
    run_keygen,
    run_refresh,
    run_selftest,
)
from mpcwallet.session.client_sign import (
    run_sign,
    run_sign_message,
    run_sign_request,
    run_sign_typed_data,
)

__all__ = [
    "SESSION_PATH",
    "KeygenResult",
    "default_endpoint",
    "engine_for_home",
    "health",
    "key_info",
    "pairing_request",
    "read_state",
    "resolve_endpoint",
    "run_keygen",
    "run_refresh",
    "run_selftest",
    "run_sign",
    "run_sign_message",
    "run_sign_request",
    "run_sign_typed_data",
    "session_observer",
]
