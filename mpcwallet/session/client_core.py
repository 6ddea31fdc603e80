"""What every client session shares: where the co-signer is (:func:`resolve_endpoint`), the
authenticated session itself (:func:`_with_session`: ``/healthz`` identity check, handshake,
then the use case's body), the key-authenticated session of sign, refresh and self-test, the
two-phase commit's second phase, and a one-request control session (:func:`_ping`).

The use cases sit on top, one module each; :mod:`mpcwallet.session.client` re-exports them.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mpcwallet.config import mpc_home
from mpcwallet.engine import Engine, get_engine
from mpcwallet.errors import (
    BadInput,
    CosignerError,
    MpcError,
    PeerUnreachable,
    SessionViolation,
)
from mpcwallet.homes.paths import DEFAULT_HOST, DEFAULT_PORT, CosignerPaths
from mpcwallet.session import wire
from mpcwallet.session.channel import Channel, round_timeout_from_env
from mpcwallet.session.endpoint import fetch_healthz, parse_endpoint, source_address
from mpcwallet.session.handshake import client_handshake
from mpcwallet.session.peer import check_cosigner_identity

if TYPE_CHECKING:
    from mpcwallet.storage.body import ShareBody

T = TypeVar("T")

SESSION_PATH = "/v1/session"

# Told each co-signer session id (public: the handshake hash) once the handshake is done, in the
# context of the caller (``mpc serve`` logs it beside its request id). ``asyncio.run`` copies
# the calling thread's context, so setting it around a wallet call is enough.
session_observer: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "mpc_session_observer", default=None
)


# --- endpoint ------------------------------------------------------------------------------


def default_endpoint() -> str:
    return f"ws://{DEFAULT_HOST}:{DEFAULT_PORT}"


def read_state(home: Path | None = None) -> dict[str, Any] | None:
    path = CosignerPaths.for_home(home or mpc_home()).state_file
    from mpcwallet import jsonio
    from mpcwallet.errors import MpcError

    try:
        obj = jsonio.load_file(path, what="co-signer state file", max_bytes=64 * 1024)
    except MpcError:
        return None
    return obj if isinstance(obj, dict) else None


def resolve_endpoint(home: Path | None = None) -> str:
    env = os.environ.get("MPC_COSIGNER_URL")
    if env:
        parse_endpoint(env)
        return env.rstrip("/")
    from mpcwallet.homes.pairing import read_pairing

    home = home or mpc_home()
    record = read_pairing(home)
    if record is not None:
        return record.url
    state = read_state(home)
    if state and isinstance(state.get("url"), str):
        return str(state["url"])
    from mpcwallet.homes.settings import remembered_port

    port = remembered_port(CosignerPaths.for_home(home))
    if port is not None:
        return f"ws://{DEFAULT_HOST}:{port}"
    return default_endpoint()


def engine_for_home(home: Path | None = None) -> str:
    """The engine new keys use: ``MPC_ENGINE``, else a paired remote co-signer's engine, else
    the first available one."""
    from mpcwallet.engine import default_engine_name
    from mpcwallet.homes.pairing import read_pairing

    if not os.environ.get("MPC_ENGINE"):
        record = read_pairing(home or mpc_home())
        if record is not None:
            return record.engine
    return default_engine_name()


def _http_base(endpoint: str) -> str:
    host, port = parse_endpoint(endpoint)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# --- plumbing --------------------------------------------------------------------------------


def _session_healthz(endpoint: str) -> dict[str, Any]:
    """``/healthz`` before a session; the co-signer's identity comes from it."""
    status, doc = fetch_healthz(endpoint, timeout=10.0)
    if not doc:
        raise PeerUnreachable(f"{endpoint} answered /healthz with HTTP {status}, not a co-signer")
    if status != 200 and "install_id" not in doc:
        # A refusal (e.g. 421 host_refused) or a failing check: say which, not "wrong home".
        nested = doc.get("error")
        err: dict[str, Any] = nested if isinstance(nested, dict) else doc
        raise CosignerError(
            f"the co-signer at {endpoint} answered /healthz with HTTP {status} "
            f"({str(err.get('code', err.get('check', '?')))[:64]}): "
            f"{str(err.get('message', ''))[:200]}"
        )
    return doc


async def _with_session(
    endpoint: str,
    *,
    secret: bytes,
    engine: str,
    auth: wire.AuthMode,
    key_id: str | None,
    round_timeout: float,
    body: Callable[[Channel], Awaitable[T]],
    check_identity: bool = True,
    cosigner_static: bytes | None = None,
) -> T:
    from mpcwallet.session.ws_client import open_websocket

    url = endpoint.rstrip("/") + SESSION_PATH
    if check_identity:
        doc = await asyncio.to_thread(_session_healthz, endpoint)
        check_cosigner_identity(endpoint, doc)
    async with open_websocket(url, endpoint=endpoint, source_address=source_address()) as ws:
        channel: Channel | None = None
        try:
            channel = await client_handshake(
                ws,
                secret=secret,
                engine=engine,
                auth=auth,
                key_id=key_id,
                round_timeout=round_timeout,
                cosigner_static=cosigner_static,
            )
            observer = session_observer.get()
            if observer is not None:
                observer(channel.session_id.hex())
            return await body(channel)
        except MpcError as exc:
            if channel is not None:
                # For the caller's records (e.g. a quarantine note); the id is public.
                exc.session_id = channel.session_id.hex()  # type: ignore[attr-defined]
            raise
        except ConnectionError as exc:
            raise PeerUnreachable(
                f"the connection to the co-signer at {endpoint} broke ({type(exc).__name__})"
            ) from None
        finally:
            if channel is not None:
                await channel.aclose()


def _expect(msg: Mapping[str, Any], kind: str) -> None:
    if msg.get("type") != kind:
        raise SessionViolation(f"the co-signer sent {msg.get('type')!r} where {kind!r} was due")


# --- key sessions (sign, refresh, self-test) and the commit ---------------------------------


async def _commit(ch: Channel) -> None:
    """Phase two of keygen and refresh: the co-signer makes its new share durable and acks.

    An error here leaves the outcome unknown (the ack may be what was lost): it is marked
    ``commit_uncertain`` so the caller keeps its pending share until the co-signer is asked.
    """
    await ch.send_control({"op": "commit"})
    try:
        _expect(await ch.recv_control(), "committed")
    except MpcError as exc:
        exc.commit_uncertain = True  # type: ignore[attr-defined]
        raise


def _share_engine_and_key(share_header: Mapping[str, Any]) -> tuple[Engine, str]:
    """The engine a share was made with (it always runs on it) and its key id."""
    engine = get_engine(str(share_header.get("engine")))
    key_id = share_header.get("key_id")
    if not isinstance(key_id, str):
        raise BadInput("the share header has no key id", field="key_id")
    return engine, key_id


def _run_key_session(
    endpoint: str | None,
    body: ShareBody,
    engine: Engine,
    key_id: str,
    timeout: float | None,
    run: Callable[[Channel], Awaitable[T]],
) -> T:
    """Run ``run`` in a session authenticated with the key's own secret (sign, refresh)."""
    return asyncio.run(
        _with_session(
            endpoint or resolve_endpoint(),
            secret=body.auth_secret,
            engine=engine.name,
            auth="key",
            key_id=key_id,
            round_timeout=timeout if timeout is not None else round_timeout_from_env(),
            body=run,
        )
    )


# --- one control request -------------------------------------------------------------------


def _ping(
    endpoint: str,
    secret: bytes,
    engine: str,
    auth: wire.AuthMode,
    key_id: str | None,
    request: dict[str, Any],
    timeout: float,
) -> dict[str, Any]:
    async def run(ch: Channel) -> dict[str, Any]:
        await ch.send_control(request)
        return await ch.recv_control()

    return asyncio.run(
        _with_session(
            endpoint,
            secret=secret,
            engine=engine,
            auth=auth,
            key_id=key_id,
            round_timeout=timeout,
            body=run,
        )
    )
