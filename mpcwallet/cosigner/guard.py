"""The co-signer's second line of defence: policy, permits, spending limits, records.

Every signing operation calls, before its engine runs::

    decision = await service.guard.check_sign(facts, session=ctx["session"])

which raises a :class:`~mpcwallet.errors.PolicyRefused` subclass (nothing reserved, the refusal
audited and recorded) or returns a :class:`Decision` whose spending is already reserved and
whose permits are consumed; and after the engine, exactly once::

    await service.guard.record(decision)              # signed
    await service.guard.record(decision, error=exc)   # failed after the decision

A failure after the decision keeps the reservation (see :mod:`mpcwallet.cosigner.ledger`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from mpcwallet.cosigner import logs
from mpcwallet.cosigner.audit import AuditTrail
from mpcwallet.cosigner.decide import approval_rule, approvals_needed, check_static, spends
from mpcwallet.cosigner.facts import SignFacts
from mpcwallet.cosigner.ledger import Ledger
from mpcwallet.cosigner.permits import AcceptedPermit, verify_permit
from mpcwallet.cosigner.policy import Policy, Rules, load_policy
from mpcwallet.errors import ApprovalRequired, MpcError, PermitRefused, PermitUnknownApprover
from mpcwallet.homes.paths import CosignerPaths
from mpcwallet.testhooks import pause_point

OPS = {"tx": "sign", "message": "sign_message", "typed_data": "sign_typed_data"}


@dataclass
class Decision:
    session: str
    facts: SignFacts
    rules: Rules
    permits: tuple[AcceptedPermit, ...]
    done: bool = False


class Guard:
    def __init__(self, paths: CosignerPaths) -> None:
        self.paths = paths
        self.policy: Policy = load_policy(paths.policy_file)  # a bad file stops the start
        self.ledger = Ledger(paths.guard_db)
        self.trail = AuditTrail(paths.root)
        self._trail_repair = self.trail.recover()
        logs.set_audit_trail(self.trail)

    def __repr__(self) -> str:
        return f"Guard(policy={self.policy.source})"

    def startup(self) -> None:
        """At daemon start: settle what a crash left, and say which policy is in force."""
        if self._trail_repair is not None:
            logs.audit("audit_recovered", f"audit trail after a crash: {self._trail_repair}")
        logs.audit("unlocked", "co-signer unlocked and started")
        kept, closed = self.ledger.recover()
        if kept or closed:
            logs.audit(
                "crash_recovered",
                "in-flight reservations kept as spent after a restart",
                kept=kept,
                count=closed,
            )
        logs.audit("policy_loaded", self._policy_msg(), policy_sha256=self.policy.sha256)

    def _policy_msg(self) -> str:
        if not self.policy.present:
            return "no policy file: every valid request is signed"
        return f"policy {self.policy.source} in force"

    def reload(self) -> Policy:
        """Re-read the policy file; on error the old policy stays and the error is raised."""
        try:
            policy = load_policy(self.paths.policy_file)
        except MpcError as exc:
            logs.audit("policy_reload_failed", f"policy reload failed: {exc.code}", code=exc.code)
            raise
        self.policy = policy
        logs.audit("policy_reloaded", self._policy_msg(), policy_sha256=policy.sha256)
        return policy

    async def check_sign(self, facts: SignFacts, *, session: str) -> Decision:
        return await asyncio.to_thread(self._check, facts, session)

    def _check(self, facts: SignFacts, session: str) -> Decision:
        op = OPS[facts.kind]
        base: dict[str, Any] = {"session": session, "op": op, **facts.audit_fields()}
        name = facts.key_name if facts.key_name is not None else self._key_name(facts.key_id)
        rules = self.policy.rules_for(facts.key_id, name, facts.account)
        try:
            check_static(rules, facts)
            accepted = self._permits(rules, facts, base)
            needed = approvals_needed(rules, facts)
            approvers = {p.approver for p in accepted}
            if len(approvers) < needed:
                rule, why = approval_rule(rules, facts) or ("approval_above", "")
                raise ApprovalRequired(
                    f"policy refused ({rules.scope}.{rule}): this request needs {needed} "
                    f"approval(s) ({why}), {len(approvers)} valid permit(s) presented; get "
                    "one with `mpc approve` and pass it with --permit",
                    field=rule,
                )
            self.ledger.admit(
                session=session,
                op=op,
                digest=facts.digest.hex(),
                key_id=facts.key_id,
                account=facts.account,
                rules=rules,
                spends=spends(rules, facts),
                permits=accepted,
            )
        except PermitRefused as exc:
            self._refused(session, "permit_rejected", exc, base, facts)
            raise
        except MpcError as exc:
            self._refused(session, "policy_refused", exc, {**base, "rule": exc.field}, facts)
            raise
        for p in accepted:
            logs.audit("permit_accepted", f"permit from {p.approver} accepted", permit=p.id,
                       approver=p.approver, **base)  # fmt: skip
        pause_point("guard_after_decision")
        return Decision(session, facts, rules, tuple(accepted))

    def _key_name(self, key_id: str) -> str | None:
        """The key's keygen name, from its share's public header (for ``[keys.NAME]``)."""
        from mpcwallet.storage.envelope import read_header

        try:
            name = read_header(self.paths.share_file(key_id).read_bytes()).get("name")
        except (OSError, MpcError):
            return None
        return name if isinstance(name, str) else None

    def _permits(
        self, rules: Rules, facts: SignFacts, base: dict[str, Any]
    ) -> list[AcceptedPermit]:
        if not facts.permits:
            return []
        registry = self.ledger.approvers_by_key()
        out = []
        for doc in facts.permits:
            try:
                permit = verify_permit(doc, facts, registry)
                if rules.approvers and permit.approver not in rules.approvers:
                    raise PermitUnknownApprover(
                        f"permit {permit.id}: approver {permit.approver!r} is not one of "
                        f"{rules.scope}.approvers",
                        field="approvers",
                    )
            except PermitRefused as exc:
                pid = doc.get("id")
                exc.permit_id = pid if isinstance(pid, str) and len(pid) <= 64 else None  # type: ignore[attr-defined]
                raise
            out.append(permit)
        return out

    def _refused(
        self, session: str, event: str, exc: MpcError, fields: dict[str, Any], facts: SignFacts
    ) -> None:
        pid = getattr(exc, "permit_id", None)
        logs.audit(event, exc.message, code=exc.code, permit=pid, **fields)
        self.ledger.refused(
            session, op=OPS[facts.kind], key_id=facts.key_id, account=facts.account,
            digest=facts.digest.hex(), code=exc.code,
        )  # fmt: skip

    @contextlib.asynccontextmanager
    async def session_record(self, ctx: dict[str, Any]) -> AsyncIterator[None]:
        """A session record around an operation that signs nothing (keygen, refresh);
        ``ctx`` carries ``session``, ``op`` and (possibly only at the end) ``key_id``."""
        session, op = str(ctx["session"]), str(ctx["op"])
        await asyncio.to_thread(
            self.ledger.session_started, session, op=op, key_id=ctx.get("key_id"),
            account=None, digest=None,
        )  # fmt: skip
        code: str | None = "internal"
        try:
            yield
            code = None
        except MpcError as exc:
            code = exc.code
            raise
        finally:
            await asyncio.to_thread(
                self.ledger.session_status, session, "failed" if code else "completed", code,
                key_id=ctx.get("key_id"),
            )  # fmt: skip

    async def record(self, decision: Decision, *, error: BaseException | None = None) -> None:
        """The outcome after the engine ran (or failed to). Idempotent."""
        if decision.done:
            return
        decision.done = True
        code = None
        if error is not None:
            code = error.code if isinstance(error, MpcError) else "internal"
        await asyncio.to_thread(self._record, decision.session, code)

    def _record(self, session: str, code: str | None) -> None:
        # Kept even on failure: the client may already hold the signature (ledger docstring).
        self.ledger.settle(session, keep=True, code=code)
