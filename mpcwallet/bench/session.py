"""Benchmarks of the session layer for ``mpc bench``: the Noise handshake's share of a sign.

Against the real co-signer of :func:`mpcwallet.bench.e2e.shared_setup` (throwaway home,
loopback), with the client in this process:

* ``session sign``: one :func:`mpcwallet.session.client.run_sign`, everything included (event
  loop, TCP + WebSocket connect, Noise handshake, the two-party signature);
* ``session handshake``: the Noise handshake alone inside such a session (hello + message 1,
  message 2; the connect before it is not counted);
* ``Noise handshake CPU``: both sides' handshake computation in memory (no network).

:func:`handshake_share` turns the medians into the line ``mpc bench`` prints.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from mpcwallet.bench.rows import CPU, HANDSHAKE, SIGN, handshake_share


def _noise_cpu_once() -> None:
    from mpcwallet.session import secure, wire

    psk, hello, static = os.urandom(32), wire.prologue("{}"), secure.new_static_key()
    public = secure.static_public(static)
    c = secure.start_handshake(initiator=True, psk=psk, prologue=hello, static_key=public)
    s = secure.start_handshake(initiator=False, psk=psk, prologue=hello, static_key=static)
    s.read_message(bytes(c.write_message(wire.identity_payload("aa" * 16))))
    c.read_message(bytes(s.write_message(wire.identity_payload("bb" * 16))))
    secure.SessionKeys.from_connection(c, initiator=True)


def register_benchmarks() -> None:
    """Called by :func:`mpcwallet.bench.extra_benchmarks`."""
    from mpcwallet.bench import RunStats, register_benchmark
    from mpcwallet.bench.e2e import shared_setup
    from mpcwallet.evm.txjson import parse_tx, signing_digest
    from mpcwallet.storage.store import load_share

    setup = shared_setup()
    url = setup.env["MPC_COSIGNER_URL"]
    header, body = load_share(
        Path(setup.env["MPC_HOME"]) / "shares" / "default.enc", setup.env["MPC_PASSPHRASE"]
    )
    tx: dict[str, Any] = json.loads(setup.tx.read_text())
    digest = signing_digest(parse_tx(tx))
    engine = str(header["engine"])
    key_id = str(header["key_id"])
    home = setup.env["MPC_HOME"]

    def sign() -> None:
        from mpcwallet.session.client import run_sign

        saved = os.environ.get("MPC_HOME")
        os.environ["MPC_HOME"] = home  # the client install id of the throwaway home
        try:
            run_sign(url, share_header=header, body=body, tx_json=tx, digest=digest)
        finally:
            if saved is None:
                del os.environ["MPC_HOME"]
            else:
                os.environ["MPC_HOME"] = saved

    async def _handshake_once() -> float:
        from mpcwallet.session.handshake import client_handshake
        from mpcwallet.session.install_id import client_install_id
        from mpcwallet.session.peer import pinned_static_key
        from mpcwallet.session.ws_client import open_websocket

        install_id = client_install_id(Path(home))
        async with open_websocket(url + "/v1/session", endpoint=url) as ws:
            start = time.perf_counter()
            ch = await client_handshake(
                ws,
                secret=body.auth_secret,
                engine=engine,
                auth="key",
                key_id=key_id,
                round_timeout=30,
                install_id=install_id,
                cosigner_static=pinned_static_key(Path(home)),
            )
            elapsed = time.perf_counter() - start
            await ch.aclose()
        return elapsed

    def handshake() -> RunStats:
        return RunStats(0, 2, seconds=asyncio.run(_handshake_once()))

    def cpu() -> None:
        _noise_cpu_once()

    register_benchmark(f"{SIGN} [{engine}]", sign)
    register_benchmark(f"{HANDSHAKE} [{engine}]", handshake)
    register_benchmark(CPU, cpu)


__all__ = ["CPU", "HANDSHAKE", "SIGN", "handshake_share", "register_benchmarks"]
