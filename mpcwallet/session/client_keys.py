"""Client sessions that make or change a key: keygen (two-phase commit), refresh (the same),
the refreshed pair's self-test, whether the co-signer holds a key, and the pairing request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mpcwallet.engine import Role, get_engine
from mpcwallet.errors import (
    MpcError,
    ProtocolViolation,
    SessionViolation,
)
from mpcwallet.session.channel import Channel, round_timeout_from_env
from mpcwallet.session.endpoint import fetch_healthz
from mpcwallet.session.peer import pairing_credentials
from mpcwallet.testhooks import pause_point

if TYPE_CHECKING:
    from mpcwallet.storage.body import ShareBody
from mpcwallet.session.client_core import (
    _commit,
    _expect,
    _ping,
    _run_key_session,
    _share_engine_and_key,
    _with_session,
)

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
    from mpcwallet.storage.body import ShareBody
    from mpcwallet.storage.generation import generation_of

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
    from mpcwallet.storage.generation import selftest_digest

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
