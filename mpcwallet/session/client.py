"""The client side (party P1) of every co-signer operation.

Public API (kept stable for the CLI and the EVM engineer's ``mpc sign``):

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

import asyncio
import contextlib
import contextvars
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mpcwallet.config import mpc_home
from mpcwallet.cosigner.paths import DEFAULT_HOST, DEFAULT_PORT, CosignerPaths
from mpcwallet.engine import Engine, Role, get_engine
from mpcwallet.errors import (
    BadInput,
    CosignerError,
    MpcError,
    PeerUnreachable,
    ProtocolViolation,
    SessionViolation,
    Unhealthy,
    WrongCosigner,
)
from mpcwallet.session import wire
from mpcwallet.session.channel import Channel, round_timeout_from_env
from mpcwallet.session.endpoint import fetch_healthz, parse_endpoint, source_address
from mpcwallet.session.handshake import client_handshake
from mpcwallet.session.pause import pause_point
from mpcwallet.session.peer import check_cosigner_identity, pairing_credentials

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
    from mpcwallet.cosigner.pairing import read_pairing

    home = home or mpc_home()
    record = read_pairing(home)
    if record is not None:
        return record.url
    state = read_state(home)
    if state and isinstance(state.get("url"), str):
        return str(state["url"])
    from mpcwallet.cosigner.settings import remembered_port

    port = remembered_port(CosignerPaths.for_home(home))
    if port is not None:
        return f"ws://{DEFAULT_HOST}:{port}"
    return default_endpoint()


def engine_for_home(home: Path | None = None) -> str:
    """The engine new keys use: ``MPC_ENGINE``, else a paired remote co-signer's engine, else
    the first available one."""
    from mpcwallet.cosigner.pairing import read_pairing
    from mpcwallet.engine import default_engine_name

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


# --- keygen ----------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class KeygenResult:
    key_id: str
    public_key: bytes  # SEC1 compressed
    address: str  # EIP-55
    key_blob: bytes  # secret: P1's key blob
    auth_secret: bytes  # secret: per-key session secret
    engine: str
    session_id: bytes
    chain_code: bytes | None = None  # the key set's, for account addresses (None: account 0)

    def __repr__(self) -> str:
        return f"KeygenResult(key_id={self.key_id}, address={self.address}, engine={self.engine})"


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


def run_keygen(
    endpoint: str,
    *,
    name: str,
    engine_name: str,
    write_pending: Callable[[KeygenResult], None],
    round_timeout: float | None = None,
    token: bytes | None = None,
    on_committed: Callable[[KeygenResult], None] | None = None,
) -> KeygenResult:
    """Run DKG as P1. Returns only after the co-signer committed its share.

    ``write_pending`` is called once the key exists on both sides and must write the client's
    share under a temporary name; if this function raises after that, the caller deletes it.
    """
    engine = get_engine(engine_name)
    creds = pairing_credentials(token=token)
    timeout = round_timeout if round_timeout is not None else round_timeout_from_env()

    async def body(ch: Channel) -> KeygenResult:
        await ch.send_control({"op": "keygen", "name": name})
        accepted = await ch.recv_control()
        _expect(accepted, "accepted")
        key_id = accepted.get("key_id")
        if not isinstance(key_id, str):
            raise SessionViolation("the co-signer sent no key id")
        blob = await ch.run_engine(Role.P1, ch.party_names, engine.dkg)
        public_key = engine.public_key(blob)
        done = await ch.recv_control()
        _expect(done, "keygen_done")
        if done.get("public_key") != public_key.hex():
            # Both parties must hold shares of the same key; anything else is an attack or bug.
            raise ProtocolViolation("the co-signer reports a different public key after DKG")
        from mpcwallet.evm.address import address_from_public_key

        result = KeygenResult(
            key_id=key_id,
            public_key=public_key,
            address=address_from_public_key(public_key),
            key_blob=blob,
            auth_secret=ch.keys.per_key_secret(key_id, public_key),
            engine=engine.name,
            session_id=ch.session_id,
            chain_code=engine.chain_code(blob),
        )
        await asyncio.to_thread(write_pending, result)
        await asyncio.to_thread(pause_point, "client_after_share_written")
        await _commit(ch)
        await asyncio.to_thread(pause_point, "client_after_commit")
        if on_committed is not None:
            await asyncio.to_thread(on_committed, result)
            # Our share is in place: the co-signer no longer counts the key as a possible orphan.
            # Best effort: the key is made either way.
            with contextlib.suppress(MpcError):
                await ch.send_control({"op": "confirm"})
        return result

    return asyncio.run(
        _with_session(
            endpoint,
            secret=creds.secret,
            engine=engine.name,
            auth="pairing",
            key_id=creds.client_id,
            round_timeout=timeout,
            body=body,
        )
    )


# --- sign ------------------------------------------------------------------------------------


def run_sign(
    endpoint: str | None,
    *,
    share_header: Mapping[str, Any],
    body: ShareBody,
    tx_json: Mapping[str, Any],
    digest: bytes,
    account: int = 0,
    timeout: float | None = None,
    permits: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """Sign ``digest`` (the signing digest of ``tx_json``) with the co-signer; DER on return.

    The co-signer recomputes the digest from ``tx_json`` and refuses a mismatch, and refuses a
    ``from`` that is not the address of ``account`` (:class:`PolicyRefused`). A
    :class:`ProtocolViolation` is raised unchanged.
    """
    request: dict[str, Any] = {"op": "sign", "tx": dict(tx_json)}
    if permits:
        request["permits"] = [dict(p) for p in permits]
    return run_sign_request(endpoint, share_header, body, request, digest, account, timeout)


def run_sign_message(
    endpoint: str | None,
    *,
    share_header: Mapping[str, Any],
    body: ShareBody,
    message: bytes,
    digest: bytes,
    account: int = 0,
    timeout: float | None = None,
    permits: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """Sign an EIP-191 personal_sign message; the co-signer gets the message and hashes it."""
    request: dict[str, Any] = {"op": "sign_message", "message": message.hex()}
    if permits:
        request["permits"] = [dict(p) for p in permits]
    return run_sign_request(endpoint, share_header, body, request, digest, account, timeout)


def run_sign_typed_data(
    endpoint: str | None,
    *,
    share_header: Mapping[str, Any],
    body: ShareBody,
    typed_data: Mapping[str, Any],
    digest: bytes,
    chain_id: int | None = None,
    account: int = 0,
    timeout: float | None = None,
    permits: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """Sign EIP-712 typed data; the co-signer gets the document and hashes it (and refuses a
    domain chainId other than ``chain_id`` when given)."""
    request: dict[str, Any] = {"op": "sign_typed_data", "typed_data": dict(typed_data)}
    if permits:
        request["permits"] = [dict(p) for p in permits]
    if chain_id is not None:
        request["chain_id"] = chain_id
    return run_sign_request(endpoint, share_header, body, request, digest, account, timeout)


def run_sign_request(
    endpoint: str | None,
    share_header: Mapping[str, Any],
    body: ShareBody,
    request: Mapping[str, Any],
    digest: bytes,
    account: int,
    timeout: float | None,
) -> bytes:
    """One two-party signature of ``digest`` under ``request`` (a sign op with the content the
    co-signer hashes itself); DER on return."""
    from mpcwallet.engine.base import check_account

    engine, key_id = _share_engine_and_key(share_header)
    check_account(account)
    if len(digest) != 32:
        raise BadInput("the digest must be 32 bytes", field="digest")
    doc = {**request, "key_id": key_id, "account": account, "digest": digest.hex()}

    async def run(ch: Channel) -> bytes:
        await ch.send_control(doc)
        _expect(await ch.recv_control(), "accepted")
        der = await ch.run_engine(
            Role.P1, ch.party_names, lambda job: engine.sign(job, body.key_blob, digest, account)
        )
        if der is None:
            raise ProtocolViolation("the engine returned no signature on P1")
        _expect(await ch.recv_control(), "done")
        return der

    return _run_key_session(endpoint, body, engine, key_id, timeout, run)


# --- refresh ---------------------------------------------------------------------------------


def run_refresh(
    endpoint: str | None,
    *,
    share_header: Mapping[str, Any],
    body: ShareBody,
    write_pending: Callable[[ShareBody, int], None],
    timeout: float | None = None,
) -> tuple[ShareBody, int]:
    """Refresh the key's shares with the co-signer (same public key, new shares, new secret).

    Two-phase like keygen: ``write_pending(new_body, new_generation)`` must durably write the
    client's new share under a temporary name before the commit; ``(new_body, generation)`` is
    returned once the co-signer committed. If this raises with ``commit_uncertain`` set, keep
    the pending share: :func:`key_info` (the co-signer's generation) tells which one it holds.
    The caller proves the new pair with :func:`run_selftest` before removing the old share.
    """
    from mpcwallet.lifecycle.generation import generation_of
    from mpcwallet.storage.body import ShareBody

    engine, key_id = _share_engine_and_key(share_header)
    expected = str(share_header.get("public_key"))
    generation = generation_of(share_header)

    async def run(ch: Channel) -> tuple[ShareBody, int]:
        await ch.send_control({"op": "refresh", "key_id": key_id, "generation": generation})
        _expect(await ch.recv_control(), "accepted")
        new_blob = await ch.run_engine(
            Role.P1, ch.party_names, lambda job: engine.refresh(job, body.key_blob)
        )
        public_key = engine.public_key(new_blob)
        if public_key.hex() != expected:
            raise ProtocolViolation("the refreshed share belongs to a different public key")
        done = await ch.recv_control()
        _expect(done, "refresh_done")
        if done.get("public_key") != expected:
            raise ProtocolViolation("the co-signer reports a different public key after refresh")
        if done.get("generation") != generation + 1:
            raise SessionViolation("the co-signer reports an unexpected generation after refresh")
        new_body = ShareBody(new_blob, ch.keys.per_key_secret(key_id, public_key))
        await asyncio.to_thread(write_pending, new_body, generation + 1)
        await asyncio.to_thread(pause_point, "client_refresh_pending_written")
        await _commit(ch)
        await asyncio.to_thread(pause_point, "client_refresh_after_commit")
        return new_body, generation + 1

    return _run_key_session(endpoint, body, engine, key_id, timeout, run)


# --- control requests ----------------------------------------------------------------------


def pairing_request(
    endpoint: str, request: dict[str, Any], *, engine_name: str | None = None, timeout: float = 10.0
) -> dict[str, Any]:
    """One control request over a session authenticated with this client's own pairing secret
    (e.g. ``{"op": "policy_reload"}``); the co-signer's answer."""
    _, doc = fetch_healthz(endpoint)
    engine = engine_name or str(doc.get("engine"))
    creds = pairing_credentials()
    return _ping(endpoint, creds.secret, engine, "pairing", creds.client_id, request, timeout)


def run_selftest(
    endpoint: str | None,
    *,
    share_header: Mapping[str, Any],
    body: ShareBody,
    generation: int,
    timeout: float | None = None,
) -> bytes:
    """A two-party signature over the fixed self-test digest of ``generation``; DER on return.

    P1's engine verifies the signature against the key's public key before returning it, so a
    return means the pair ``body`` + the co-signer's current share works.
    """
    from mpcwallet.lifecycle.generation import selftest_digest

    engine, key_id = _share_engine_and_key(share_header)
    digest = selftest_digest(key_id, generation)

    async def run(ch: Channel) -> bytes:
        await ch.send_control({"op": "selftest", "key_id": key_id, "generation": generation})
        accepted = await ch.recv_control()
        _expect(accepted, "accepted")
        if accepted.get("digest") != digest.hex():
            raise SessionViolation("the co-signer names another self-test digest")
        der = await ch.run_engine(
            Role.P1, ch.party_names, lambda job: engine.sign(job, body.key_blob, digest)
        )
        if der is None:
            raise ProtocolViolation("the engine returned no signature on P1")
        _expect(await ch.recv_control(), "done")
        return der

    return _run_key_session(endpoint, body, engine, key_id, timeout, run)


def key_info(
    endpoint: str,
    key_id: str,
    *,
    engine_name: str,
    token: bytes | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """``{"present": bool, "generation": int | None}`` for ``key_id``, asked over the pairing
    session (no key secret needed, so a stale share's secret is never offered)."""
    creds = pairing_credentials(token=token)
    answer = _ping(
        endpoint,
        creds.secret,
        engine_name,
        "pairing",
        creds.client_id,
        {"op": "has_key", "key_id": key_id},
        timeout,
    )
    _expect(answer, "has_key")
    present = answer.get("present") is True
    generation = answer.get("generation", 0) if present else None
    if present and (isinstance(generation, bool) or not isinstance(generation, int)):
        raise SessionViolation("the co-signer sent a malformed generation")
    return {"present": present, "generation": generation}


# --- health ----------------------------------------------------------------------------------


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


def health(
    endpoint: str,
    *,
    key_id: str | None = None,
    auth_secret: bytes | None = None,
    engine_name: str | None = None,
    token: bytes | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Check the co-signer; :class:`Unhealthy` (``field`` = failing check) when it is not ok.

    Checks, in order: ``healthz`` answers 200; ``engine`` matches ours (``engine_name``, default
    the one the daemon reports); ``auth``: a pairing-token session succeeds and answers a ping;
    with ``key_id``: ``key`` - the daemon holds that key (asked over the pairing session), and
    with ``auth_secret`` also ``key_auth`` - a session authenticated with the per-key secret.
    """
    checks: dict[str, Any] = {}
    try:
        status, doc = fetch_healthz(endpoint)
    except PeerUnreachable as exc:
        raise Unhealthy(f"healthz: {exc.message}", field="healthz") from None
    if status != 200 or doc.get("status") != "ok":
        raise Unhealthy(
            f"healthz: the co-signer reports {doc.get('check', 'a failure')!r}: "
            f"{doc.get('message', 'HTTP ' + str(status))}",
            field="healthz",
        )
    checks["healthz"] = "ok"
    try:
        check_cosigner_identity(endpoint, doc)
    except WrongCosigner as exc:
        raise Unhealthy(f"home: {exc.message}", field="home") from None
    checks["home"] = "ok"
    daemon_engine = str(doc.get("engine"))
    engine = engine_name or daemon_engine
    if engine != daemon_engine:
        raise Unhealthy(
            f"engine: this client uses {engine!r}, the co-signer runs {daemon_engine!r}",
            field="engine",
        )
    checks["engine"] = "ok"
    try:
        creds = pairing_credentials(token=token)
        secret, client_id = creds.secret, creds.client_id
        pong = _ping(endpoint, secret, engine, "pairing", client_id, {"op": "ping"}, timeout)
        _expect(pong, "pong")
        checks["auth"] = "ok"
        if key_id is not None:
            answer = _ping(
                endpoint,
                secret,
                engine,
                "pairing",
                client_id,
                {"op": "has_key", "key_id": key_id},
                timeout,
            )
            _expect(answer, "has_key")
            if answer.get("present") is not True:
                raise Unhealthy(
                    f"key: the co-signer does not hold key {key_id}; this share cannot sign "
                    "with this co-signer (was its keygen interrupted, or is MPC_HOME different?)",
                    field="key",
                )
            checks["key"] = "ok"
            if auth_secret is not None:
                pong = _ping(endpoint, auth_secret, engine, "key", key_id, {"op": "ping"}, timeout)
                _expect(pong, "pong")
                checks["key_auth"] = "ok"
    except Unhealthy:
        raise
    except MpcError as exc:
        check = "key_auth" if "key" in checks else "auth"
        raise Unhealthy(f"{check}: {exc.message} ({exc.code})", field=check) from None
    return {
        "status": "ok",
        "endpoint": endpoint,
        "engine": daemon_engine,
        "version": doc.get("version"),
        "uptime_s": doc.get("uptime_s"),
        "keys": doc.get("keys"),
        "checks": checks,
    }
