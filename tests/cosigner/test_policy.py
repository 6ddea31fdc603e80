"""The policy file: units, overrides, unknown keys and bad values named with their line; the
rules each decide on the facts they are given; `mpc cosigner policy check`."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.proc import json_result, run_mpc

from mpcwallet.cosigner.decide import approvals_needed, check_static, spends
from mpcwallet.cosigner.facts import Domain, SignFacts, tx_facts
from mpcwallet.cosigner.policy import Policy, parse_policy
from mpcwallet.errors import PolicyFileError, PolicyRefused
from mpcwallet.evm.allowance import Transfer, decode_call
from mpcwallet.evm.erc20 import transfer_calldata
from mpcwallet.evm.txjson import parse_tx

KEY = "ab" * 16
TOKEN = "0x" + "70" * 20
EXAMPLE = f"""
# the issue's example, plus overrides
[default]
chain_ids = [11155111]
max_value_per_tx = "0.05 ether"
max_value_24h = "0.2 ether"
max_fee_per_gas = "200 gwei"
allow_to = []                 # empty: any recipient not denied
deny_to = ["0x000000000000000000000000000000000000dEaD"]
approval_above = "0.02 ether" # needs permits above this value
approvals_required = 1

[keys.alice]
max_value_per_tx = "1 ether"
allow_selectors = ["0xa9059cbb"]

[keys.alice.tokens."{TOKEN}"]
decimals = 6
max_per_tx = "100"
max_24h = "250.5"

[keys.alice.accounts.2]
max_value_per_tx = 1000
allow_domains = [{{ name = "Permit2", chainId = 11155111 }}]
"""


def facts(**kw: object) -> SignFacts:
    base: dict[str, object] = {"key_id": KEY, "digest": b"\x01" * 32, "chain_id": 11155111,
                               "to": b"\x11" * 20}  # fmt: skip
    base.update(kw)
    return SignFacts(**base)  # type: ignore[arg-type]


def test_units_and_overrides() -> None:
    policy = parse_policy(EXAMPLE)
    d = policy.rules_for(KEY, "bob", 0)
    assert d.scope == "default" and d.max_value_per_tx == 5 * 10**16
    assert d.max_value_24h == 2 * 10**17 and d.max_fee_per_gas == 200 * 10**9
    assert d.deny_to == (bytes.fromhex("000000000000000000000000000000000000dEaD"),)
    a = policy.rules_for(KEY, "alice", 0)
    assert (
        a.scope == "keys.alice" and a.max_value_per_tx == 10**18 and a.max_value_24h == 2 * 10**17
    )
    token = a.tokens[bytes.fromhex(TOKEN[2:])]
    assert (token.max_per_tx, token.max_24h) == (100 * 10**6, 250_500_000)
    a2 = policy.rules_for(KEY, "alice", 2)
    assert a2.scope == "keys.alice.accounts.2" and a2.max_value_per_tx == 1000
    assert a2.allow_selectors == (bytes.fromhex("a9059cbb"),)  # inherited from keys.alice
    assert policy.rules_for(KEY, None, 0).scope == "default"
    assert Policy.empty().rules_for(KEY, None, 0).max_value_per_tx is None


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (
            '[default]\nchain_ids = [1]\nmax_value_per_txx = "1 ether"\n',
            3,
            "default.max_value_per_txx",
        ),
        ('[default]\n\nmax_fee_per_gas = "200 gwie"\n', 3, "default.max_fee_per_gas"),
        ('[default]\nmax_value_24h = "0.1"\n', 2, "default.max_value_24h"),
        ('[default]\nmax_value_24h = "0.1 wei"\n', 2, "default.max_value_24h"),
        (
            "[keys.a]\nchain_ids = [1]\n\n[keys.a.accounts.x]\nchain_ids = [2]\n",
            4,
            "keys.a.accounts.x",
        ),
        ('[keys.a.accounts.1]\n# c\ndeny_to = ["0x12"]\n', 3, "keys.a.accounts.1.deny_to"),
        ("[defaults]\n", 1, "defaults"),
        ("[default]\napprovals_required = 0\n", 2, "default.approvals_required"),
        ('[default.tokens."0x' + "70" * 20 + '"]\ndecimal = 6\n', 2, None),
    ],
)
def test_bad_files_name_the_line(text: str, line: int, field: str | None) -> None:
    with pytest.raises(PolicyFileError) as info:
        parse_policy(text, "p.toml")
    assert info.value.message.startswith(f"p.toml:{line}:"), info.value.message
    if field is not None:
        assert info.value.field == field


def test_toml_syntax_error_has_its_line() -> None:
    with pytest.raises(PolicyFileError) as info:
        parse_policy("[default]\nchain_ids = [1]\nmax_fee_per_gas = = 1\n", "p.toml")
    assert info.value.message.startswith("p.toml:3: ") and info.value.code == "bad_policy"


def test_rules_decide() -> None:
    rules = parse_policy(EXAMPLE).rules_for(KEY, "alice", 0)
    check_static(rules, facts(value=10**18))
    with pytest.raises(PolicyRefused, match=r"keys\.alice\.max_value_per_tx\): value 1\.1 ether"):
        check_static(rules, facts(value=11 * 10**17))
    with pytest.raises(PolicyRefused, match="chain_ids"):
        check_static(rules, facts(chain_id=1))
    with pytest.raises(PolicyRefused, match="max_fee_per_gas"):
        check_static(rules, facts(max_fee_per_gas=201 * 10**9))
    with pytest.raises(PolicyRefused, match="deny_to"):
        check_static(rules, facts(to=bytes.fromhex("000000000000000000000000000000000000dEaD")))
    with pytest.raises(PolicyRefused, match="allow_selectors"):
        check_static(rules, facts(selector=b"\x09\x5e\xa7\xb3"))
    assert approvals_needed(rules, facts(value=2 * 10**16)) == 0
    assert approvals_needed(rules, facts(value=2 * 10**16 + 1)) == 1
    acct2 = parse_policy(EXAMPLE).rules_for(KEY, "alice", 2)
    ok_domain = Domain("Permit2", 11155111, None)
    check_static(acct2, facts(kind="typed_data", domain=ok_domain))
    with pytest.raises(PolicyRefused, match="allow_domains"):
        check_static(acct2, facts(kind="typed_data", domain=Domain("Other", 11155111, None)))


def test_erc20_transfer_is_judged_by_its_decoded_recipient_and_amount() -> None:
    recipient = b"\x22" * 20
    data = transfer_calldata(recipient, 150 * 10**6)
    token = bytes.fromhex(TOKEN[2:])
    shape = "transfer(address,uint256)"
    assert decode_call(token, data).transfer == Transfer(shape, token, recipient, 150 * 10**6)
    assert decode_call(token, data[:-1]).malformed == shape
    assert decode_call(token, b"\x00" * 68).transfer is None
    tx = parse_tx({"chainId": 11155111, "to": TOKEN, "data": "0x" + data.hex(), "nonce": 0})
    f = tx_facts(tx, key_id=KEY, digest=b"\x00" * 32)
    assert (f.token, f.token_to, f.token_amount) == (
        bytes.fromhex(TOKEN[2:]),
        recipient,
        150 * 10**6,
    )
    # the token contract is listed, its recipient is not (both are checked: issue 20)
    allowed = f'["0x{"33" * 20}", "{TOKEN}"]'
    allow = parse_policy(f"[default]\nallow_to = {allowed}\n").rules_for(KEY, None, 0)
    with pytest.raises(PolicyRefused, match=f"token recipient 0x{'22' * 20}"):
        check_static(allow, f)
    rules = parse_policy(EXAMPLE).rules_for(KEY, "alice", 0)
    with pytest.raises(PolicyRefused, match=r"tokens\.max_per_tx"):
        check_static(rules, f)
    [spend] = spends(rules, f)
    assert (spend.asset, spend.amount, spend.limit_24h) == (TOKEN, 150 * 10**6, 250_500_000)


def test_policy_check_command(mpc_env: dict[str, str], tmp_path: Path) -> None:
    good = tmp_path / "policy.toml"
    good.write_text(EXAMPLE)
    cp = run_mpc(["--json", "cosigner", "policy", "check", str(good)], mpc_env)
    assert cp.returncode == 0 and json_result(cp)["data"]["keys"] == ["alice"]
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.replace("approvals_required = 1", "approvals_requierd = 1"))
    cp = run_mpc(["--json", "cosigner", "policy", "check", str(bad)], mpc_env)
    error = json_result(cp)["error"]
    assert cp.returncode == 2 and error["code"] == "bad_policy"
    assert f"{bad}:11: default.approvals_requierd: unknown key" in error["message"]


def test_the_documented_example_is_valid() -> None:
    import re

    page = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text()
    [example] = [
        block
        for block in re.findall(r"```toml\n(.*?)```", page, flags=re.S)
        if block.startswith("[default]")
    ]
    policy = parse_policy(example, "docs/policy.md")
    rules = policy.rules_for(KEY, "treasury", 1)
    assert rules.scope == "keys.treasury.accounts.1" and rules.max_value_per_tx == 10**16
    assert rules.approvers == ("alice", "bob") and len(rules.tokens) == 1


def test_the_cosigner_does_not_start_with_a_bad_policy(
    mpc_env: dict[str, str], mpc_home: Path
) -> None:
    policy = mpc_home / "cosigner" / "policy.toml"
    policy.parent.mkdir(parents=True)
    policy.write_text('[default]\nmax_value_per_tx = "5 ethers"\n')
    cp = run_mpc(["--json", "cosigner", "start", "--foreground", "--port", "0"], mpc_env)
    error = json_result(cp)["error"]
    assert cp.returncode == 2 and error["code"] == "bad_policy"
    assert f"{policy}:2: default.max_value_per_tx: unknown unit 'ethers'" in error["message"]
