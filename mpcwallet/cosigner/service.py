"""What the co-signer does in an authenticated session: keygen, sign, ping, has_key.

Keygen is two-phase so that either both shares exist or neither (see ``_keygen``):
DKG -> the daemon writes ``<key_id>.enc.pending`` -> tells the client the public key -> the
client writes its share under a temporary name and sends ``commit`` -> the daemon renames its
pending file and acks ``committed`` -> only then does the client rename its share into place.
A session that ends before ``commit`` removes the daemon's pending file; pending files from a
killed daemon are removed at its next start.

Sign (its ops: :mod:`mpcwallet.cosigner.signops`) never trusts the client's digest: the daemon
recomputes it from what is signed, which the client sends whole (a transaction: ``parse_tx`` +
``signing_digest``; an EIP-191 message; EIP-712 typed data), and refuses a mismatch. The
account's address is derived here from the index in the request; a transaction whose ``from``
is another address is refused.

Refresh is exclusive per key: while one runs, a second refresh, a sign or a self-test of that key
gets :class:`Busy` and changes nothing. Its pending share has a name unique to the session, and
its commit checks that the share on disk is still the generation the session loaded. After a
commit the client proves the new pair with ``selftest``: a two-party signature over
:func:`mpcwallet.storage.generation.selftest_digest`, which no other operation will sign.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from mpcwallet.cosigner import logs
from mpcwallet.cosigner.clients import AUTH_CODE
from mpcwallet.cosigner.keystore import KeyStore
from mpcwallet.cosigner.presigner import Presigner
from mpcwallet.cosigner.requests import OPS
from mpcwallet.cosigner.requests import key_session as _key_session
from mpcwallet.cosigner.signops import SignOps
from mpcwallet.engine import Engine, Role
from mpcwallet.errors import (
    AuthFailed,
    BadInput,
    EngineMismatch,
    InternalError,
    KeyVersionMismatch,
    MpcError,
    ProtocolViolation,
    SessionViolation,
    StaleShare,
)
from mpcwallet.homes.paths import check_key_id
from mpcwallet.session.channel import Channel
from mpcwallet.session.wire import Hello
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.generation import generation_of, selftest_digest
from mpcwallet.testhooks import pause_point


class Service(SignOps):
    def __init__(
        self,
        engine: Engine,
        keystore: KeyStore,
        token: bytes,
        install_id: str,
        *,
        presigner: Presigner | None = None,
        static_key: bytes | None = None,
    ) -> None:
        from mpcwallet.cosigner.clients import ClientAuth
        from mpcwallet.cosigner.guard import Guard
        from mpcwallet.session.secure import new_static_key

        self.engine = engine
        self.keystore = keystore
        self.install_id = install_id
        # Who may open a session (PSKs, pairing) and the static Noise key the handshake uses.
        self.auth = ClientAuth(keystore.paths, keystore, token, static_key or new_static_key())
        self.guard = Guard(keystore.paths)
        self.guard.startup()
        self._refreshing: set[str] = set()  # key ids with a refresh in flight (one event loop)
        self.presigner = presigner or Presigner(None, idle=lambda: True)  # none by default

    def __repr__(self) -> str:
        return f"Service(engine={self.engine.name})"

    async def resolve_secret(self, hello: Hello) -> bytes:
        """The PSK for the hello (see :meth:`mpcwallet.cosigner.clients.ClientAuth.resolve`)."""
        return await self.auth.resolve(hello)

    async def serve(self, ch: Channel, hello: Hello) -> None:
        ctx: dict[str, Any] = {"session": ch.session_id.hex()[:32], "op": "?", "round": 0}
        if hello.key_id is not None:
            ctx["key_id"] = hello.key_id

        def on_round(direction: str, rnd: int, size: int) -> None:
            ctx["round"] = rnd
            # Sizes only: a protocol payload never reaches a log.
            logs.log("round", "protocol message", direction=direction, size=size, **ctx)

        ch.on_round = on_round
        try:
            req = await ch.recv_control()
            op = req.get("op")
            ctx["op"] = op if op in OPS else "unknown"  # the peer's own words never reach a log
            logs.log("request", f"{ctx['op']} requested", **ctx)
            if hello.auth == AUTH_CODE and op != "pair":
                raise AuthFailed("a pairing-code session may only pair")
            if op == "pair":
                await self.auth.pair(ch, hello, ctx, self.install_id, self.engine.name)
            elif op == "keygen":
                async with self.guard.session_record(ctx):
                    await self._keygen(ch, hello, req, ctx)
            elif op == "sign":
                await self._sign(ch, hello, req, ctx)
            elif op == "sign_message":
                await self._sign_message(ch, hello, req, ctx)
            elif op == "sign_typed_data":
                await self._sign_typed_data(ch, hello, req, ctx)
            elif op == "refresh":
                async with self.guard.session_record(ctx):
                    await self._refresh(ch, hello, req, ctx)
            elif op == "ping":
                await ch.send_control(
                    {"type": "pong", "engine": self.engine.name, "keys": self.keystore.count()}
                )
            elif op == "has_key":
                await self._has_key(ch, hello, req)
            elif op == "policy_reload":
                await self._policy_reload(ch, hello)
            elif op == "selftest":
                await self._selftest(ch, hello, req, ctx)
            else:
                raise BadInput(f"unknown operation {str(op)[:64]!r}", field="op")
            logs.log("done", f"{ctx['op']} finished", **ctx)
        except MpcError as exc:
            logs.log(
                "failed",
                f"{ctx['op']} failed: {exc.code}",
                level=logging.WARNING,
                code=exc.code,
                **ctx,
            )
            if ch.error is None:
                await ch.abort(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported by type only, never its arguments
            err = InternalError(f"the co-signer hit an unexpected {type(exc).__name__}")
            logs.log("failed", err.message, level=logging.ERROR, code=err.code, **ctx)
            if ch.error is None:
                await ch.abort(err)

    async def _has_key(self, ch: Channel, hello: Hello, req: dict[str, Any]) -> None:
        key_id = check_key_id(req.get("key_id"))
        if hello.auth == "key" and key_id != hello.key_id:
            raise AuthFailed("a key session may only ask about its own key")
        present = self.keystore.has(key_id)
        answer: dict[str, Any] = {"type": "has_key", "present": present}
        if present:
            answer["generation"] = await asyncio.to_thread(self.keystore.generation, key_id)
            self.keystore.confirm(key_id)  # a client asked about it: not an orphan
        await ch.send_control(answer)

    async def _policy_reload(self, ch: Channel, hello: Hello) -> None:
        if hello.auth != "pairing":
            raise AuthFailed("policy reload needs a session authenticated with the pairing token")
        policy = await asyncio.to_thread(self.guard.reload)
        await ch.send_control(
            {"type": "policy", "present": policy.present, "sha256": policy.sha256}
        )

    async def _keygen(
        self, ch: Channel, hello: Hello, req: dict[str, Any], ctx: dict[str, Any]
    ) -> None:
        if hello.auth != "pairing":
            raise AuthFailed("keygen needs a session authenticated with the pairing token")
        name = req.get("name", "default")
        if not isinstance(name, str) or not 0 < len(name) <= 64:
            raise BadInput("the key name must be 1..64 characters", field="name")
        key_id = os.urandom(16).hex()
        ctx["key_id"] = key_id
        logs.audit("keygen_started", "keygen started", **ctx)
        await ch.send_control({"type": "accepted", "key_id": key_id})
        committed = False
        try:
            blob = await ch.run_engine(Role.P2, ch.party_names, self.engine.dkg)
            public_key = self.engine.public_key(blob)
            from mpcwallet.evm.address import address_from_public_key

            address = address_from_public_key(public_key)
            auth_secret = ch.keys.per_key_secret(key_id, public_key)
            await asyncio.to_thread(pause_point, "daemon_after_dkg")
            header = {
                "key_id": key_id,
                "role": "P2",
                "engine": self.engine.name,
                "public_key": public_key.hex(),
                "address": address,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "name": name,
                "generation": 0,
            }
            await self._save_and_commit(
                ch,
                key_id,
                header,
                ShareBody(blob, auth_secret),
                done={"type": "keygen_done", "public_key": public_key.hex(), "address": address},
                op="keygen",
                pause_at="daemon_commit_received",
            )
            committed = True
            logs.audit("keygen_completed", "keygen completed", address=address, **ctx)
            await ch.send_control({"type": "committed", "key_id": key_id})
            await self._await_confirm(ch, key_id)
        finally:
            if not committed:
                self.keystore.discard_pending(key_id)
                logs.audit("keygen_failed", "keygen abandoned; pending share removed", **ctx)

    async def _await_confirm(self, ch: Channel, key_id: str) -> None:
        """The client says its share is in place; without it the key stays unconfirmed."""
        try:
            msg = await ch.recv_control()
        except MpcError:
            return  # the client went away: `mpc cosigner keys` shows an orphan candidate
        if msg.get("op") == "confirm":
            self.keystore.confirm(key_id)

    async def _save_and_commit(
        self,
        ch: Channel,
        key_id: str,
        header: dict[str, Any],
        body: ShareBody,
        *,
        done: dict[str, Any],
        op: str,
        pause_at: str | None = None,
        tag: str | None = None,
        expect_generation: int | None = None,
    ) -> None:
        """Two-phase commit of a new share (keygen, refresh); the client's twin is
        ``session.client._commit``. The share is durable as ``.pending`` before the client hears
        of it, and becomes the key only once the client says it holds its own share. With
        ``expect_generation`` (refresh) the share on disk must still be that generation."""
        await asyncio.to_thread(self.keystore.save_pending, key_id, header, body, tag)
        await ch.send_control(done)
        msg = await ch.recv_control()
        if msg.get("op") != "commit":
            raise SessionViolation(f"the client did not commit the {op}")
        if pause_at is not None:
            await asyncio.to_thread(pause_point, pause_at)
        if expect_generation is not None:
            now = await asyncio.to_thread(self.keystore.generation, key_id)
            if now != expect_generation:
                raise KeyVersionMismatch(
                    f"key {key_id} changed to generation {now} during this refresh (expected "
                    f"{expect_generation}); this refresh is abandoned and changed nothing",
                    field="generation",
                )
        self.keystore.commit(key_id, tag)

    async def _refresh(
        self, ch: Channel, hello: Hello, req: dict[str, Any], ctx: dict[str, Any]
    ) -> None:
        """New shares of the same key, same two-phase commit as keygen, one at a time per key.

        The per-key secret rotates with the shares (derived from this session, which the old
        secret authenticated), so a client can tell which generation the co-signer holds by
        which secret authenticates. The client names the generation it holds; a stale one is
        refused before anything runs.
        """
        key_id = hello.key_id
        if hello.auth != "key" or key_id is None or req.get("key_id") != key_id:
            raise AuthFailed("refresh needs a session authenticated with that key's own secret")
        self.ensure_idle(key_id)
        self._refreshing.add(key_id)  # no await between the check and the add
        try:
            await self._refresh_locked(ch, key_id, req, ctx)
        finally:
            self._refreshing.discard(key_id)

    async def _refresh_locked(
        self, ch: Channel, key_id: str, req: dict[str, Any], ctx: dict[str, Any]
    ) -> None:
        header, body = await asyncio.to_thread(self.keystore.load, key_id)
        if header.get("engine") != self.engine.name:
            raise EngineMismatch("the key's engine is not the co-signer's engine", field="engine")
        generation = generation_of(header, where=f"the co-signer's share {key_id}")
        claimed = req.get("generation", 0)
        if claimed != generation:
            raise StaleShare(
                f"the client's share of key {key_id} is generation {claimed}, the co-signer's is "
                f"{generation}; refresh from the current share (see docs/runbooks.md)",
                field="generation",
            )
        tag = ch.session_id.hex()[:16]
        ctx["generation"] = generation
        logs.audit("refresh_started", "refresh started", **ctx)
        await ch.send_control({"type": "accepted", "generation": generation})
        committed = False
        try:
            new_blob = await ch.run_engine(
                Role.P2, ch.party_names, lambda job: self.engine.refresh(job, body.key_blob)
            )
            public_key = self.engine.public_key(new_blob)
            if public_key.hex() != header.get("public_key"):
                raise ProtocolViolation("the refreshed share belongs to a different public key")
            new_secret = ch.keys.per_key_secret(key_id, public_key)
            await asyncio.to_thread(pause_point, "daemon_refresh_before_pending")
            new_header = {
                **header,
                "generation": generation + 1,
                "refreshed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            await self._save_and_commit(
                ch,
                key_id,
                new_header,
                ShareBody(new_blob, new_secret),
                done={
                    "type": "refresh_done",
                    "public_key": public_key.hex(),
                    "generation": generation + 1,
                },
                op="refresh",
                pause_at="daemon_refresh_commit_received",
                tag=tag,
                expect_generation=generation,
            )
            committed = True
            await asyncio.to_thread(pause_point, "daemon_refresh_after_commit")
            logs.audit("refresh_completed", "refresh completed", **ctx)
            await ch.send_control(
                {"type": "committed", "key_id": key_id, "generation": generation + 1}
            )
        finally:
            if not committed:
                self.keystore.discard_pending(key_id, tag)
                logs.audit("refresh_failed", "refresh abandoned; old share kept", **ctx)

    async def _selftest(
        self, ch: Channel, hello: Hello, req: dict[str, Any], ctx: dict[str, Any]
    ) -> None:
        """Sign the fixed self-test digest of the key's current generation (after a refresh)."""
        key_id = _key_session(hello, req, "selftest")
        self.ensure_idle(key_id)
        header, body = await asyncio.to_thread(self.keystore.load, key_id)
        if header.get("engine") != self.engine.name:
            raise EngineMismatch("the key's engine is not the co-signer's engine", field="engine")
        generation = generation_of(header, where=f"the co-signer's share {key_id}")
        if req.get("generation") != generation:
            raise StaleShare(
                f"the self-test is for generation {req.get('generation')}, the co-signer holds "
                f"{generation}",
                field="generation",
            )
        digest = selftest_digest(key_id, generation)
        await ch.send_control({"type": "accepted", "digest": digest.hex()})
        await ch.run_engine(
            Role.P2, ch.party_names, lambda job: self.engine.sign(job, body.key_blob, digest)
        )
        logs.audit("selftest_completed", "refresh self-test signed", generation=generation, **ctx)
        await ch.send_control({"type": "done"})
        self.keystore.confirm(key_id)
