"""The guard in process, for the kinds the CLI does not sign yet: EIP-191 messages and EIP-712
typed data need permits when the policy says so, and typed data only from allowed domains.
Real SQLite file, real audit trail; no co-signer process needed for these decisions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpcwallet.cosigner import logs
from mpcwallet.cosigner.audit import verify
from mpcwallet.cosigner.facts import Domain, message_facts, typed_data_domain, typed_data_facts
from mpcwallet.cosigner.guard import Guard
from mpcwallet.cosigner.paths import CosignerPaths
from mpcwallet.cosigner.permits import make_permit, new_approver_key
from mpcwallet.errors import ApprovalRequired, PermitMismatch, PolicyRefused

KEY = "cd" * 16
CONTRACT = "0x" + "c0" * 20
POLICY = f"""
[default]
approval_for = ["message"]
allow_domains = [{{ name = "Permit2", chainId = 11155111, verifyingContract = "{CONTRACT}" }}]
"""


@pytest.fixture
def guard(tmp_path: Path) -> Iterator[Guard]:
    paths = CosignerPaths(tmp_path / "cosigner")
    paths.root.mkdir()
    paths.policy_file.write_text(POLICY)
    g = Guard(paths)
    g.startup()
    yield g
    logs.set_audit_trail(None)


def test_messages_need_a_permit_of_their_own_kind(guard: Guard) -> None:
    seed, public = new_approver_key()
    guard.ledger.add_approver("alice", public)
    digest = b"\x42" * 32
    with pytest.raises(ApprovalRequired) as info:
        asyncio.run(guard.check_sign(message_facts(key_id=KEY, digest=digest), session="s1"))
    assert info.value.field == "approval_for"
    for_tx = make_permit(seed, key_id=KEY, account=0, kind="tx", digest=digest, chain_id=None)
    with pytest.raises(PermitMismatch):
        facts = message_facts(key_id=KEY, digest=digest, permits=(for_tx,))
        asyncio.run(guard.check_sign(facts, session="s2"))
    permit = make_permit(seed, key_id=KEY, account=0, kind="message", digest=digest, chain_id=None)
    facts = message_facts(key_id=KEY, digest=digest, permits=(permit,))
    decision = asyncio.run(guard.check_sign(facts, session="s3"))
    asyncio.run(guard.record(decision))
    status = {s["session"]: (s["op"], s["status"]) for s in guard.ledger.sessions()}
    assert status == {"s1": ("sign_message", "refused"), "s2": ("sign_message", "refused"),
                      "s3": ("sign_message", "completed")}  # fmt: skip
    assert verify(guard.trail).ok


def test_typed_data_only_from_allowed_domains(guard: Guard) -> None:
    contract = bytes.fromhex(CONTRACT[2:])
    good = typed_data_facts(key_id=KEY, digest=b"\x01" * 32,
                            domain=typed_data_domain({"name": "Permit2", "chainId": "0xaa36a7",
                                                      "verifyingContract": CONTRACT}))  # fmt: skip
    asyncio.run(guard.record(asyncio.run(guard.check_sign(good, session="t1"))))
    for name, chain, where in (("Permit2", 1, contract), ("Other", 11155111, contract),
                               ("Permit2", 11155111, b"\x00" * 20)):  # fmt: skip
        bad = typed_data_facts(key_id=KEY, digest=b"\x02" * 32,
                               domain=Domain(name, chain, where))  # fmt: skip
        with pytest.raises(PolicyRefused) as info:
            asyncio.run(guard.check_sign(bad, session=f"t-{name}-{chain}"))
        assert info.value.field == "allow_domains"
