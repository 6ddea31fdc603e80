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
from mpcwallet.cosigner.facts import SignFacts, message_facts, typed_data_facts
from mpcwallet.cosigner.guard import Guard
from mpcwallet.cosigner.permits import make_permit, new_approver_key
from mpcwallet.errors import ApprovalRequired, PermitMismatch, PolicyRefused
from mpcwallet.evm import eip712
from mpcwallet.homes.paths import CosignerPaths

KEY = "cd" * 16
CONTRACT = "0x" + "c0" * 20
POLICY = f"""
[default]
approval_for = ["message"]
allow_without_approval = ["typed_data"]
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


def typed(name: str, chain: int | str, contract: str, *, spender: str | None = None) -> SignFacts:
    """A typed-data document of that domain: an EIP-2612 Permit when ``spender`` is given."""
    fields, message = [("note", "string")], {"note": "hello"}
    if spender is not None:
        fields = [("owner", "address"), ("spender", "address"), ("value", "uint256"),
                  ("nonce", "uint256"), ("deadline", "uint256")]  # fmt: skip
        message = {"owner": CONTRACT, "spender": spender, "value": str(2**256 - 1), "nonce": 0,
                   "deadline": 2**40}  # fmt: skip
    td = eip712.parse({
        "types": {"Permit" if spender else "Note": [{"name": n, "type": t} for n, t in fields]},
        "primaryType": "Permit" if spender else "Note",
        "domain": {"name": name, "chainId": chain, "verifyingContract": contract},
        "message": message,
    })  # fmt: skip
    return typed_data_facts(key_id=KEY, digest=eip712.digest(td), typed_data=td)


def test_typed_data_only_from_allowed_domains(guard: Guard) -> None:
    good = typed("Permit2", "0xaa36a7", CONTRACT)
    asyncio.run(guard.record(asyncio.run(guard.check_sign(good, session="t1"))))
    for name, chain, where in (("Permit2", 1, CONTRACT), ("Other", 11155111, CONTRACT),
                               ("Permit2", 11155111, "0x" + "00" * 20)):  # fmt: skip
        with pytest.raises(PolicyRefused) as info:
            asyncio.run(guard.check_sign(typed(name, chain, where), session=f"t-{name}-{chain}"))
        assert info.value.field == "allow_domains"


def test_a_permit_to_a_denied_spender_is_refused_and_audited(tmp_path: Path) -> None:
    """Issue 20: typed data granting an allowance is checked like a transfer to its spender,
    and the refusal's audit record names the decoded allowance."""
    paths = CosignerPaths(tmp_path / "cosigner")
    paths.root.mkdir()
    evil = "0x" + "e0" * 20
    paths.policy_file.write_text(f'[default]\ndeny_to = ["{evil}"]\n')
    g = Guard(paths)
    g.startup()
    try:
        with pytest.raises(PolicyRefused) as info:
            asyncio.run(g.check_sign(typed("USD Coin", 1, CONTRACT, spender=evil), session="p1"))
        assert info.value.field == "deny_to" and "EIP-2612 Permit" in info.value.message
        with pytest.raises(ApprovalRequired) as need:  # deny_to alone restricts: a permit
            asyncio.run(g.check_sign(typed("Note", 1, CONTRACT), session="p2"))
        assert need.value.field == "allow_without_approval"
        assert "typed_data is not in allow_without_approval" in need.value.message
        [record] = [r for r in g.trail.records() if r.get("session") == "p1"]
        assert record["event"] == "policy_refused" and record["rule"] == "deny_to"
        assert record["allowances"] == (
            f"EIP-2612 Permit token={CONTRACT} spender={evil} amount={2**256 - 1}"
        )
        assert verify(g.trail).ok
    finally:
        logs.set_audit_trail(None)
