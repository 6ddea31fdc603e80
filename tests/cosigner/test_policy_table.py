"""The policy's decision table, one row per field a compromised client could craft to slip a
request past the rules (issue 20, items 1 and 2).

Transactions: ``to``, value, data (selector, calldata shape), token (transfer, transferFrom,
approve, increaseAllowance, setApprovalForAll, Permit2 ``approve``), chain and fees. Typed data
and messages: the default approval under a restrictive policy, ``allow_without_approval``, and
the allowance shapes decoded from EIP-712 documents (EIP-2612 Permit, DAI Permit, Permit2
PermitSingle / PermitBatch / PermitTransferFrom / PermitBatchTransferFrom / witness variants).

Each row goes through the same pure functions the guard calls (check_static, spends and
check_totals, approvals_needed); the guard and the daemon are covered by test_guard*.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.proc import json_result, run_mpc

from mpcwallet.cosigner.decide import approvals_needed, check_static, check_totals, spends
from mpcwallet.cosigner.facts import SignFacts, message_facts, tx_facts, typed_data_facts
from mpcwallet.cosigner.policy import Rules, parse_policy
from mpcwallet.errors import PolicyFileError, PolicyRefused
from mpcwallet.evm import eip712
from mpcwallet.evm.erc20 import transfer_calldata
from mpcwallet.evm.txjson import parse_tx

KEY = "ab" * 16
CHAIN = 11155111
ALLOWED = "0x" + "a1" * 20
OTHER = "0x" + "0e" * 20  # an attacker's address: in no list
DENIED = "0x" + "de" * 20
TOKEN = "0x" + "70" * 20  # limited: 100 per tx, 250 per 24 h, permits above 50 (6 decimals)
PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
UNIT = 10**6
MAX256 = 2**256 - 1
MAX160 = 2**160 - 1

SEL = {
    "transfer": "a9059cbb",  # transfer(address,uint256)
    "transferFrom": "23b872dd",  # transferFrom(address,address,uint256)
    "approve": "095ea7b3",  # approve(address,uint256)
    "increaseAllowance": "39509351",  # increaseAllowance(address,uint256)
    "setApprovalForAll": "a22cb465",  # setApprovalForAll(address,bool)
    "permit2Approve": "87517c45",  # Permit2 approve(address,address,uint160,uint48)
}

POLICY = f"""
[default]
chain_ids = [{CHAIN}]
max_value_per_tx = "1 ether"
max_fee_per_gas = "100 gwei"
approval_above = "0.5 ether"
allow_to = ["{ALLOWED}", "{TOKEN}", "{PERMIT2}"]
deny_to = ["{DENIED}"]
allow_selectors = [{", ".join(f'"0x{s}"' for s in SEL.values())}]

[default.tokens."{TOKEN}"]
decimals = 6
max_per_tx = "100"
max_24h = "250"
approval_above = "50"

[keys.open]                     # no allowlist: deny_to and the token limits still apply
allow_to = []

[keys.typed]                    # typed data and messages signed without a permit
allow_without_approval = ["message", "typed_data"]
"""


def rules(name: str | None = None, text: str = POLICY) -> Rules:
    return parse_policy(text).rules_for(KEY, name, 0)


def word(v: int | str) -> str:
    if isinstance(v, str):
        return "00" * 12 + v[2:].lower()
    return f"{v:064x}"


def call(fn: str, *args: int | str) -> str:
    return "0x" + SEL[fn] + "".join(word(a) for a in args)


def tx(to: str | None, data: str = "0x", value: int = 0, **kw: Any) -> SignFacts:
    obj: dict[str, Any] = {"type": 2, "chainId": CHAIN, "nonce": 0, "to": to, "value": str(value),
                           "data": data, "gas": 100000, "maxFeePerGas": str(30 * 10**9),
                           "maxPriorityFeePerGas": str(10**9)}  # fmt: skip
    obj.update(kw)
    if obj.get("type") == 0:
        obj.pop("maxFeePerGas"), obj.pop("maxPriorityFeePerGas")
        obj.setdefault("gasPrice", str(30 * 10**9))
    return tx_facts(parse_tx(obj), key_id=KEY, digest=b"\x01" * 32)


def decide(r: Rules, f: SignFacts, spent_24h: int = 0) -> tuple[str, Any]:
    """("refused", rule) or ("approvals", n): what the guard would answer."""
    try:
        check_static(r, f)
        for s in spends(r, f):
            check_totals(r, s, spent_24h)
    except PolicyRefused as exc:
        return ("refused", exc.field)
    return ("approvals", approvals_needed(r, f))


OK = ("approvals", 0)
NEEDS_PERMIT = ("approvals", 1)


def refused(rule: str) -> tuple[str, str]:
    return ("refused", rule)


# --- transactions: (row, facts, expected) -----------------------------------------------------

TX_ROWS: list[tuple[str, Any, tuple[str, Any]]] = [
    # to: every transaction's `to` is checked, whatever its calldata decodes to
    ("to: transfer(allowed, 0) calldata sends ETH to an unlisted `to`",
     lambda: tx(OTHER, call("transfer", ALLOWED, 0), value=10**17), refused("allow_to")),
    ("to: transfer(allowed, 1) calldata to an unlisted contract, no value",
     lambda: tx(OTHER, call("transfer", ALLOWED, 1)), refused("allow_to")),
    ("to: a denied `to` whose calldata names an allowed recipient",
     lambda: tx(DENIED, call("transfer", ALLOWED, 1)), refused("deny_to")),
    ("to: plain ETH to an unlisted address", lambda: tx(OTHER, value=1), refused("allow_to")),
    ("to: plain ETH to a listed address", lambda: tx(ALLOWED, value=1), OK),
    ("to: contract creation under allow_to", lambda: tx(None, "0x6000"), refused("allow_to")),
    ("to: contract creation whose initcode starts with an allowed selector",
     lambda: tx(None, call("transfer", ALLOWED, 1)), ("open", refused("allow_selectors"))),
    # token: the decoded recipient is checked in addition to `to`
    ("token: transfer to an unlisted recipient",
     lambda: tx(TOKEN, call("transfer", OTHER, 1)), refused("allow_to")),
    ("token: transfer to a denied recipient (no allowlist)",
     lambda: tx(TOKEN, call("transfer", DENIED, 1)), ("open", refused("deny_to"))),
    ("token: transfer over the token's per-tx limit",
     lambda: tx(TOKEN, call("transfer", ALLOWED, 100 * UNIT + 1)), refused("tokens.max_per_tx")),
    ("token: transfer above the token's approval_above",
     lambda: tx(TOKEN, call("transfer", ALLOWED, 50 * UNIT + 1)), NEEDS_PERMIT),
    ("token: transfer within every limit",
     lambda: tx(TOKEN, call("transfer", ALLOWED, 50 * UNIT)), OK),
    ("token: transferFrom to an unlisted recipient",
     lambda: tx(TOKEN, call("transferFrom", ALLOWED, OTHER, 1)), refused("allow_to")),
    ("token: transferFrom over the token's per-tx limit",
     lambda: tx(TOKEN, call("transferFrom", OTHER, ALLOWED, MAX256)),
     refused("tokens.max_per_tx")),
    # data: calldata the policy cannot read is refused, not waved through
    ("data: transfer calldata with one trailing byte (Solidity ignores it)",
     lambda: tx(TOKEN, call("transfer", OTHER, MAX256) + "00"), refused("calldata")),
    ("data: transfer calldata with a dirty address word (old Solidity masks it)",
     lambda: tx(TOKEN, "0x" + SEL["transfer"] + "ff" * 12 + OTHER[2:] + word(1)),
     refused("calldata")),
    ("data: approve calldata one byte short",
     lambda: tx(TOKEN, call("approve", OTHER, MAX256)[:-2]), refused("calldata")),
    ("data: setApprovalForAll with a bool word that is not 0 or 1",
     lambda: tx(TOKEN, call("setApprovalForAll", ALLOWED, 2)), refused("calldata")),
    ("data: 1 byte of calldata (no selector) under allow_selectors",
     lambda: tx(ALLOWED, "0xa9"), refused("allow_selectors")),
    ("data: 2 bytes of calldata under allow_selectors",
     lambda: tx(ALLOWED, "0xa905"), refused("allow_selectors")),
    ("data: 3 bytes of calldata under allow_selectors",
     lambda: tx(ALLOWED, "0xa9059c"), refused("allow_selectors")),
    ("data: a selector not in allow_selectors",
     lambda: tx(ALLOWED, "0x12345678"), refused("allow_selectors")),
    # allowances granted by calldata: the spender is checked like a recipient
    ("allowance: approve(unlisted spender, unlimited)",
     lambda: tx(TOKEN, call("approve", OTHER, MAX256)), refused("allow_to")),
    ("allowance: approve(denied spender, 1) with no allowlist",
     lambda: tx(TOKEN, call("approve", DENIED, 1)), ("open", refused("deny_to"))),
    ("allowance: approve(listed spender, unlimited) of a limited token",
     lambda: tx(TOKEN, call("approve", ALLOWED, MAX256)), refused("tokens.max_per_tx")),
    ("allowance: approve(listed spender, 30) counts against the 24 h limit",
     lambda: tx(TOKEN, call("approve", ALLOWED, 30 * UNIT)), ("spent", 230 * UNIT,
                                                              refused("tokens.max_24h"))),
    ("allowance: approve(listed spender, 60) needs a permit (token approval_above)",
     lambda: tx(TOKEN, call("approve", ALLOWED, 60 * UNIT)), NEEDS_PERMIT),
    ("allowance: approve(unlisted spender, 0) revokes and is allowed",
     lambda: tx(TOKEN, call("approve", OTHER, 0)), OK),
    ("allowance: increaseAllowance(unlisted spender, 1)",
     lambda: tx(TOKEN, call("increaseAllowance", OTHER, 1)), refused("allow_to")),
    ("allowance: setApprovalForAll(unlisted operator, true)",
     lambda: tx(TOKEN, call("setApprovalForAll", OTHER, 1)), refused("allow_to")),
    ("allowance: setApprovalForAll(unlisted operator, false) revokes and is allowed",
     lambda: tx(TOKEN, call("setApprovalForAll", OTHER, 0)), OK),
    ("allowance: Permit2 approve(token, unlisted spender, max, expiry)",
     lambda: tx(PERMIT2, call("permit2Approve", TOKEN, OTHER, MAX160, 2**40)),
     refused("allow_to")),
    ("allowance: Permit2 approve(limited token, listed spender, max)",
     lambda: tx(PERMIT2, call("permit2Approve", TOKEN, ALLOWED, MAX160, 2**40)),
     refused("tokens.max_per_tx")),
    # value
    ("value: over max_value_per_tx", lambda: tx(ALLOWED, value=10**18 + 1),
     refused("max_value_per_tx")),
    ("value: over approval_above", lambda: tx(ALLOWED, value=10**18 // 2 + 1), NEEDS_PERMIT),
    ("value: ETH sent along with a token transfer is limited too",
     lambda: tx(TOKEN, call("transfer", ALLOWED, 1), value=10**18 + 1),
     refused("max_value_per_tx")),
    # chain
    ("chain: a chain id not in chain_ids", lambda: tx(ALLOWED, value=1, chainId=1),
     refused("chain_ids")),
    ("chain: a legacy transaction on another chain",
     lambda: tx(ALLOWED, value=1, chainId=1, type=0), refused("chain_ids")),
    # fees
    ("fees: maxFeePerGas over the cap",
     lambda: tx(ALLOWED, value=1, maxFeePerGas=str(101 * 10**9)), refused("max_fee_per_gas")),
    ("fees: a legacy gasPrice over the cap",
     lambda: tx(ALLOWED, value=1, type=0, gasPrice=str(101 * 10**9)), refused("max_fee_per_gas")),
]  # fmt: skip


@pytest.mark.parametrize(("row", "make", "expected"), TX_ROWS, ids=[r[0] for r in TX_ROWS])
def test_transaction_rows(row: str, make: Any, expected: tuple[Any, ...]) -> None:
    scope, spent = None, 0
    if expected[0] == "open":
        scope, expected = "open", expected[1]
    elif expected[0] == "spent":
        spent, expected = expected[1], expected[2]
    assert decide(rules(scope), make(), spent) == expected, row


def test_a_value_and_a_token_transfer_both_count() -> None:
    f = tx(TOKEN, call("transfer", ALLOWED, 7), value=5)
    assert {(s.asset, s.amount) for s in spends(rules(), f)} == {("ETH", 5), (TOKEN, 7)}


def test_no_policy_still_signs_everything_valid() -> None:
    """Without a policy file nothing changes: malformed calldata, allowances, messages pass."""
    empty = parse_policy("").rules_for(KEY, None, 0)
    for make, _ in [(r[1], r[2]) for r in TX_ROWS]:
        assert decide(empty, make()) == OK
    assert decide(empty, message_facts(key_id=KEY, digest=b"\x02" * 32)) == OK
    assert decide(empty, typed(eip2612(OTHER, MAX256))) == OK


# --- typed data and messages ------------------------------------------------------------------


def domain(name: str, contract: str, version: str | None = "1", chain: int | None = CHAIN) -> Any:
    d: dict[str, Any] = {"name": name}
    if version is not None:
        d["version"] = version
    if chain is not None:
        d["chainId"] = chain
    d["verifyingContract"] = contract
    return d


def doc(primary: str, types: dict[str, list[tuple[str, str]]], dom: Any, msg: Any) -> Any:
    return {
        "types": {t: [{"name": n, "type": ty} for n, ty in fields] for t, fields in types.items()},
        "primaryType": primary,
        "domain": dom,
        "message": msg,
    }


def eip2612(spender: str, value: int, token: str = TOKEN, **dom: Any) -> Any:
    """EIP-2612, "Specification": Permit(address owner,address spender,uint256 value,
    uint256 nonce,uint256 deadline), domain = the token contract."""
    fields = [("owner", "address"), ("spender", "address"), ("value", "uint256"),
              ("nonce", "uint256"), ("deadline", "uint256")]  # fmt: skip
    return doc("Permit", {"Permit": fields}, domain("USD Coin", token, **dom),
               {"owner": ALLOWED, "spender": spender, "value": str(value), "nonce": 0,
                "deadline": 2**40})  # fmt: skip


DETAILS = [("token", "address"), ("amount", "uint160"), ("expiration", "uint48"),
           ("nonce", "uint48")]  # fmt: skip
PERMISSIONS = [("token", "address"), ("amount", "uint256")]


def permit2_single(spender: str, amount: int) -> Any:
    types = {"PermitSingle": [("details", "PermitDetails"), ("spender", "address"),
                              ("sigDeadline", "uint256")], "PermitDetails": DETAILS}  # fmt: skip
    msg = {"details": {"token": TOKEN, "amount": str(amount), "expiration": 2**40, "nonce": 0},
           "spender": spender, "sigDeadline": 2**40}  # fmt: skip
    return doc("PermitSingle", types, domain("Permit2", PERMIT2, None), msg)


def permit2_batch(spender: str, amounts: list[int]) -> Any:
    types = {"PermitBatch": [("details", "PermitDetails[]"), ("spender", "address"),
                             ("sigDeadline", "uint256")], "PermitDetails": DETAILS}  # fmt: skip
    details = [{"token": TOKEN, "amount": str(a), "expiration": 2**40, "nonce": 0}
               for a in amounts]  # fmt: skip
    msg = {"details": details, "spender": spender, "sigDeadline": 2**40}
    return doc("PermitBatch", types, domain("Permit2", PERMIT2, None), msg)


def permit2_transfer(spender: str, amount: int, *, batch: bool = False,
                     witness: bool = False) -> Any:  # fmt: skip
    name = f"Permit{'Batch' if batch else ''}{'Witness' if witness else ''}TransferFrom"
    perm = {"token": TOKEN, "amount": str(amount)}
    fields = [("permitted", "TokenPermissions[]" if batch else "TokenPermissions"),
              ("spender", "address"), ("nonce", "uint256"), ("deadline", "uint256")]  # fmt: skip
    types = {name: fields, "TokenPermissions": PERMISSIONS}
    msg: dict[str, Any] = {"permitted": [perm] if batch else perm, "spender": spender,
                           "nonce": 0, "deadline": 2**40}  # fmt: skip
    if witness:
        types[name] = [*fields, ("witness", "ExclusiveDutchOrder")]
        types["ExclusiveDutchOrder"] = [("swapper", "address"), ("nonce", "uint256")]
        msg["witness"] = {"swapper": ALLOWED, "nonce": 1}
    return doc(name, types, domain("Permit2", PERMIT2, None), msg)


def dai_permit(spender: str, allowed: bool) -> Any:
    """MakerDAO dss dai.sol PERMIT_TYPEHASH: Permit(address holder,address spender,
    uint256 nonce,uint256 expiry,bool allowed)."""
    fields = [("holder", "address"), ("spender", "address"), ("nonce", "uint256"),
              ("expiry", "uint256"), ("allowed", "bool")]  # fmt: skip
    return doc("Permit", {"Permit": fields}, domain("Dai Stablecoin", TOKEN),
               {"holder": ALLOWED, "spender": spender, "nonce": 0, "expiry": 2**40,
                "allowed": allowed})  # fmt: skip


def mail() -> Any:
    fields = [("from", "address"), ("contents", "string")]
    return doc("Mail", {"Mail": fields}, domain("Ether Mail", "0x" + "cc" * 20),
               {"from": ALLOWED, "contents": "hello"})  # fmt: skip


def typed(document: Any) -> SignFacts:
    td = eip712.parse(document)
    return typed_data_facts(key_id=KEY, digest=eip712.digest(td), typed_data=td)


TYPED_ROWS: list[tuple[str, Any, str | None, tuple[str, Any]]] = [
    # the default: a restrictive policy signs typed data and messages only with a permit
    ("default: harmless typed data needs a permit", mail, None, NEEDS_PERMIT),
    ("default: a message needs a permit",
     lambda: message_facts(key_id=KEY, digest=b"\x02" * 32), None, NEEDS_PERMIT),
    ("allowed: harmless typed data under allow_without_approval", mail, "typed", OK),
    ("allowed: a message under allow_without_approval",
     lambda: message_facts(key_id=KEY, digest=b"\x02" * 32), "typed", OK),
    ("default: EIP-2612 Permit within the limits still needs a permit",
     lambda: eip2612(ALLOWED, 10 * UNIT), None, NEEDS_PERMIT),
    # the allowance shapes are decoded and checked even when typed data is allowed
    ("EIP-2612 Permit: unlimited to an unlisted spender",
     lambda: eip2612(OTHER, MAX256), "typed", refused("allow_to")),
    ("EIP-2612 Permit: unlimited to an unlisted spender, no allow_without_approval",
     lambda: eip2612(OTHER, MAX256), None, refused("allow_to")),
    ("EIP-2612 Permit: to a denied spender", lambda: eip2612(DENIED, 1), "open",
     refused("deny_to")),
    ("EIP-2612 Permit: unlimited to a listed spender of a limited token",
     lambda: eip2612(ALLOWED, MAX256), "typed", refused("tokens.max_per_tx")),
    ("EIP-2612 Permit: above the token's approval_above",
     lambda: eip2612(ALLOWED, 60 * UNIT), "typed", NEEDS_PERMIT),
    ("EIP-2612 Permit: within the limits to a listed spender",
     lambda: eip2612(ALLOWED, 10 * UNIT), "typed", OK),
    ("EIP-2612 Permit: zero (a revocation) to an unlisted spender",
     lambda: eip2612(OTHER, 0), "typed", OK),
    ("DAI Permit: allowed=true is unlimited", lambda: dai_permit(ALLOWED, True), "typed",
     refused("tokens.max_per_tx")),
    ("DAI Permit: to an unlisted spender", lambda: dai_permit(OTHER, True), "typed",
     refused("allow_to")),
    ("Permit2 PermitSingle: unlisted spender", lambda: permit2_single(OTHER, MAX160), "typed",
     refused("allow_to")),
    ("Permit2 PermitSingle: unlimited of a limited token",
     lambda: permit2_single(ALLOWED, MAX160), "typed", refused("tokens.max_per_tx")),
    ("Permit2 PermitBatch: the second detail is over the limit",
     lambda: permit2_batch(ALLOWED, [UNIT, 101 * UNIT]), "typed", refused("tokens.max_per_tx")),
    ("Permit2 PermitBatch: two details each under the per-tx limit add up over it",
     lambda: permit2_batch(ALLOWED, [60 * UNIT, 60 * UNIT]), "typed",
     refused("tokens.max_per_tx")),
    ("Permit2 PermitTransferFrom: unlisted spender",
     lambda: permit2_transfer(OTHER, 1), "typed", refused("allow_to")),
    ("Permit2 PermitBatchTransferFrom: over the per-tx limit",
     lambda: permit2_transfer(ALLOWED, MAX256, batch=True), "typed",
     refused("tokens.max_per_tx")),
    ("Permit2 PermitWitnessTransferFrom: unlisted spender",
     lambda: permit2_transfer(OTHER, 1, witness=True), "typed", refused("allow_to")),
    ("Permit2 PermitBatchWitnessTransferFrom: unlisted spender",
     lambda: permit2_transfer(OTHER, 1, batch=True, witness=True), "typed", refused("allow_to")),
    # chain: typed data without a chainId is valid on every chain
    ("chain: a domain without chainId under chain_ids",
     lambda: eip2612(ALLOWED, 1, chain=None), "typed", refused("chain_ids")),
    ("chain: a domain on another chain", lambda: eip2612(ALLOWED, 1, chain=1), "typed",
     refused("chain_ids")),
]  # fmt: skip


@pytest.mark.parametrize(("row", "make", "scope", "expected"), TYPED_ROWS,
                         ids=[r[0] for r in TYPED_ROWS])  # fmt: skip
def test_typed_data_and_message_rows(
    row: str, make: Any, scope: str | None, expected: tuple[str, Any]
) -> None:
    made = make()
    f = made if isinstance(made, SignFacts) else typed(made)
    assert decide(rules(scope), f) == expected, row


def test_a_lookalike_permit_is_unknown_typed_data() -> None:
    """A `Permit` whose fields differ from EIP-2612's has another type hash, so no token
    accepts it as a permit; it is typed data like any other (a permit needed by default)."""
    d = eip2612(OTHER, MAX256)
    d["types"]["Permit"][1]["name"] = "spender_"
    d["message"]["spender_"] = d["message"].pop("spender")
    assert decide(rules(), typed(d)) == NEEDS_PERMIT
    assert decide(rules("typed"), typed(d)) == OK


def test_a_permit_spend_is_counted() -> None:
    [s] = spends(rules("typed"), typed(eip2612(ALLOWED, 10 * UNIT)))
    assert (s.asset, s.amount, s.limit_24h) == (TOKEN, 10 * UNIT, 250 * UNIT)


def test_approval_for_wins_over_allow_without_approval() -> None:
    text = (
        POLICY
        + '\n[keys.both]\nallow_without_approval = ["message"]\n'
        + ('[keys.both.accounts.0]\napproval_for = ["message"]\n')
    )
    f = message_facts(key_id=KEY, digest=b"\x02" * 32)
    assert decide(rules("both", text), f) == NEEDS_PERMIT


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ('[default]\nchain_ids = [1]\nallow_without_approval = ["tx"]\n', 3,
         "default.allow_without_approval: 'tx' is not one of message, typed_data"),
        ('[keys.k]\n\nallow_without_approval = "message"\n', 3,
         "keys.k.allow_without_approval: must be a list"),
        ('[default]\napproval_for = ["message"]\nallow_without_approval = ["message"]\n', 3,
         "default.allow_without_approval: 'message' is also in approval_for"),
    ],
)  # fmt: skip
def test_allow_without_approval_is_validated(text: str, line: int, what: str) -> None:
    with pytest.raises(PolicyFileError) as info:
        parse_policy(text, "p.toml")
    assert info.value.message.startswith(f"p.toml:{line}: {what}"), info.value.message


def test_calldata_decoders_round_trip() -> None:
    """The canonical encodings decode (transfer_calldata is the wallet's own encoder)."""
    f = tx(TOKEN, "0x" + transfer_calldata(bytes.fromhex(ALLOWED[2:]), 5).hex())
    assert (f.token_to, f.token_amount) == (bytes.fromhex(ALLOWED[2:]), 5)


def test_policy_check_names_the_line_of_allow_without_approval(
    mpc_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text(POLICY.replace('allow_without_approval = ["message", "typed_data"]',
                                  'allow_without_approval = ["tx"]'))  # fmt: skip
    cp = run_mpc(["--json", "cosigner", "policy", "check", str(bad)], mpc_env)
    error = json_result(cp)["error"]
    line = POLICY.splitlines().index('allow_without_approval = ["message", "typed_data"]') + 1
    assert cp.returncode == 2 and error["code"] == "bad_policy"
    assert error["message"].startswith(f"{bad}:{line}: keys.typed.allow_without_approval: 'tx'")


@settings(max_examples=300, deadline=None)
@given(
    selector=st.sampled_from(sorted(SEL.values())),
    body=st.one_of(
        st.binary(max_size=140),
        st.lists(st.sampled_from([b"\x00" * 32, b"\x00" * 31 + b"\x01", b"\xff" * 32,
                                  b"\x00" * 12 + b"\x0e" * 20]), max_size=5).map(b"".join),
    ),
)  # fmt: skip
def test_known_calldata_is_read_exactly_as_the_abi_encodes_it_or_refused(
    selector: str, body: bytes
) -> None:
    """Whatever follows a known selector either decodes to arguments whose ABI encoding is
    exactly that calldata (so the contract reads what the policy read) or is malformed."""
    from eth_abi.abi import encode

    from mpcwallet.evm.allowance import _CALLS, decode_call

    data = bytes.fromhex(selector) + body
    token = bytes.fromhex(TOKEN[2:])
    d = decode_call(token, data)
    signature, types = _CALLS[data[:4]]
    if d.malformed is not None:
        assert d.malformed == signature and d.transfer is None and not d.allowances
        return
    args: list[Any] = []
    if d.transfer is not None:
        t = d.transfer
        args = [t.recipient, t.amount]
        if len(types) == 3:  # transferFrom: `from` is not kept; take it from the calldata
            args = [data[16:36], *args]
    else:
        [a] = d.allowances
        amount = int(a.amount is None) if types[-1] == "bool" else a.amount
        args = (
            [a.spender, amount]
            if len(types) == 2
            else [a.token, a.spender, a.amount, int.from_bytes(data[-32:], "big")]
        )
    values = [v if t != "bool" else bool(v) for v, t in zip(args, types, strict=True)]
    assert selector + encode(list(types), values).hex() == data.hex()
