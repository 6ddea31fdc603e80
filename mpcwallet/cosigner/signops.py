"""The co-signer's sign operations (a transaction, an EIP-191 message, EIP-712 typed data), as
a part of :class:`mpcwallet.cosigner.service.Service`.

Sign never trusts the client's digest: it is recomputed here from what is signed, which the
client sends whole, and a mismatch is refused; the account's address is derived from this
co-signer's own share; the refresh self-test digest is never signed by a sign op; the guard
(policy, permits, limits) decides before the two-party signature runs. A sign waits for no
refresh: while one runs on the key, it gets :class:`Busy`.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING, Any

from mpcwallet.cosigner import logs
from mpcwallet.cosigner.facts import (
    SignFacts,
    message_facts,
    tx_facts,
    typed_data_facts,
)
from mpcwallet.cosigner.keystore import KeyStore
from mpcwallet.cosigner.presigner import Presigner
from mpcwallet.cosigner.requests import account as _account
from mpcwallet.cosigner.requests import key_session as _key_session
from mpcwallet.cosigner.requests import permits as _permits
from mpcwallet.engine import Engine, Role
from mpcwallet.errors import (
    BadInput,
    Busy,
    EngineMismatch,
    MpcError,
    PolicyRefused,
)
from mpcwallet.session.channel import Channel
from mpcwallet.session.wire import Hello
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.generation import selftest_digest
from mpcwallet.testhooks import sign_test_hooks

if TYPE_CHECKING:
    from mpcwallet.cosigner.guard import Guard


class SignOps:
    """Mixed into :class:`~mpcwallet.cosigner.service.Service`, which sets these attributes."""

    engine: Engine
    keystore: KeyStore
    guard: Guard
    presigner: Presigner
    _refreshing: set[str]  # key ids with a refresh in flight (one event loop)

    def ensure_idle(self, key_id: str) -> None:
        """:class:`Busy` if ``key_id`` is being refreshed right now."""
        if key_id in self._refreshing:
            raise Busy(
                f"key {key_id} is being refreshed by another session right now; nothing was "
                "changed. Retry when it is done (`mpc keys` shows the outcome).",
                field="key_id",
            )

    def _refuse_selftest_digest(self, key_id: str, digest: bytes) -> None:
        """The refresh self-test digest is signed only by ``selftest``, never by a sign op."""
        generation = self.keystore.generation(key_id)
        if any(
            hmac.compare_digest(digest, selftest_digest(key_id, g))
            for g in (generation, generation + 1)
        ):
            raise PolicyRefused("that digest is reserved for the refresh self-test", field="digest")

    async def _sign(
        self, ch: Channel, hello: Hello, req: dict[str, Any], ctx: dict[str, Any]
    ) -> None:
        """A transaction: the digest is recomputed from the transaction itself, and a ``from``
        that is not the requested account's address is refused."""
        key_id = _key_session(hello, req, "sign")
        account = _account(req)
        tx_obj = req.get("tx")
        if not isinstance(tx_obj, dict):
            raise BadInput("the sign request carries no transaction object", field="tx")
        from mpcwallet.evm.address import to_checksum
        from mpcwallet.evm.txjson import describe, parse_tx, signing_digest

        tx = parse_tx(tx_obj)
        # Never sign a digest we did not compute ourselves (DESIGN.md, "A signature").
        digest = signing_digest(tx)
        desc = describe(tx)
        fields = {
            "chain_id": desc.get("chain_id"),
            "to": desc.get("to"),
            "value": desc.get("value"),
            "selector": desc.get("selector"),
            "tx_type": desc.get("type"),
            "digest": digest.hex(),
        }
        key = await self._load_key(key_id)
        address = self._account_address(key, account, ctx)
        if tx.sender is not None and to_checksum(tx.sender) != address:
            logs.audit("sign_refused", "sign refused: from is not the account", **fields, **ctx)
            raise PolicyRefused(
                f"the transaction's from {to_checksum(tx.sender)} is not the address of "
                f"account {account} ({address}); refusing to sign",
                field="from",
            )
        facts = tx_facts(tx, key_id=key_id, digest=digest, account=account, permits=_permits(req))
        await self._sign_digest(ch, key, account, digest, req.get("digest"), fields, ctx, facts)

    async def _sign_message(
        self, ch: Channel, hello: Hello, req: dict[str, Any], ctx: dict[str, Any]
    ) -> None:
        """An EIP-191 personal_sign message, sent whole; the digest is recomputed here."""
        key_id = _key_session(hello, req, "sign_message")
        account = _account(req)
        from mpcwallet.evm.eip191 import message_digest

        text = req.get("message")
        try:
            message = bytes.fromhex(text) if isinstance(text, str) else None
        except ValueError:
            message = None
        if message is None:
            raise BadInput("the request carries no hex message", field="message")
        digest = message_digest(message)
        # a summary only: the message itself may be private and is never logged
        fields = {"kind": "eip191", "message_length": len(message), "digest": digest.hex()}
        key = await self._load_key(key_id)
        self._account_address(key, account, ctx)
        facts = message_facts(key_id=key_id, digest=digest, account=account, permits=_permits(req))
        await self._sign_digest(ch, key, account, digest, req.get("digest"), fields, ctx, facts)

    async def _sign_typed_data(
        self, ch: Channel, hello: Hello, req: dict[str, Any], ctx: dict[str, Any]
    ) -> None:
        """EIP-712 typed data, sent whole; the digest is recomputed here, and a document whose
        domain chainId is not the requested chain id is refused."""
        key_id = _key_session(hello, req, "sign_typed_data")
        account = _account(req)
        from mpcwallet.evm import eip712

        chain_id = req.get("chain_id")
        if chain_id is not None and (isinstance(chain_id, bool) or not isinstance(chain_id, int)):
            raise BadInput("chain_id must be an integer", field="chain_id")
        td = eip712.parse(req.get("typed_data"), expected_chain_id=chain_id)
        digest = eip712.digest(td)
        # the client's own strings: logged as JSON strings, bounded in length
        summary = {k: v if v is None else str(v)[:128] for k, v in td.summary().items()}
        fields = {"kind": "eip712", **summary, "digest": digest.hex()}
        key = await self._load_key(key_id)
        self._account_address(key, account, ctx)
        facts = typed_data_facts(
            key_id=key_id,
            digest=digest,
            typed_data=td,
            account=account,
            permits=_permits(req),
        )
        await self._sign_digest(ch, key, account, digest, req.get("digest"), fields, ctx, facts)

    async def _load_key(self, key_id: str) -> ShareBody:
        self.ensure_idle(key_id)
        header, body = await asyncio.to_thread(self.keystore.load, key_id)
        if header.get("engine") != self.engine.name:
            raise EngineMismatch("the key's engine is not the co-signer's engine", field="engine")
        return body

    def _account_address(self, key: ShareBody, account: int, ctx: dict[str, Any]) -> str:
        """The account's address, derived here from our own share (never taken from the client)."""
        from mpcwallet.evm.address import address_from_public_key

        ctx["account"] = account
        return address_from_public_key(self.engine.account_public_key(key.key_blob, account))

    async def _sign_digest(
        self,
        ch: Channel,
        key: ShareBody,
        account: int,
        digest: bytes,
        claimed: object,
        fields: dict[str, Any],
        ctx: dict[str, Any],
        facts: SignFacts,
    ) -> None:
        """What every sign op shares once it has computed ``digest`` from the request's own
        content: refuse a client digest that differs, ask the guard (policy, permits, limits),
        then run the two-party signature."""
        key_id = ctx.get("key_id")
        if isinstance(key_id, str):
            self._refuse_selftest_digest(key_id, digest)
        try:
            claimed_raw = bytes.fromhex(claimed) if isinstance(claimed, str) else b""
        except ValueError:
            claimed_raw = b""
        if not hmac.compare_digest(digest, claimed_raw):
            logs.audit("sign_refused", "sign refused: digest mismatch", **fields, **ctx)
            raise PolicyRefused(
                "the digest the client sent is not the one the co-signer computed from the "
                "request's content; refusing to sign",
                field="digest",
            )
        decision = await self.guard.check_sign(facts, session=ctx["session"])
        logs.audit("sign_started", "sign started", **fields, **ctx)
        try:
            await ch.send_control({"type": "accepted", "digest": digest.hex()})
            await ch.run_engine(
                Role.P2,
                ch.party_names,
                lambda job: self.engine.sign(sign_test_hooks(job), key.key_blob, digest, account),
            )
        except BaseException as exc:
            code = exc.code if isinstance(exc, MpcError) else "internal"
            logs.audit("sign_failed", f"sign failed: {code}", code=code, **fields, **ctx)
            await self.guard.record(decision, error=exc)
            raise
        # the trail before the ledger (audit verify) and before the client hears "done"
        logs.audit("sign_completed", "sign completed", **fields, **ctx)
        await self.guard.record(decision)
        await ch.send_control({"type": "done"})
        self.presigner.after_sign(key.key_blob)
