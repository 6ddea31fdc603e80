"""Which rule a signing request breaks, if any (pure functions over :class:`Rules` and facts).

The table, in order: chain (a transaction's chain id, a domain's chainId, which typed data
must have under ``chain_ids``); domain; for a transaction value, fee, its ``to``, then the
decoded token recipient (added, never instead), calldata the policy cannot read, selectors;
then every allowance's spender and each token's total (transfer plus allowances) against its
limits. Approvals: ``approval_for``, then the default for messages and typed data under a
restrictive policy (:attr:`Rules.restricts`), then ETH and token ``approval_above``.

Static rules are checked by :func:`check_static`; the rolling 24 h totals need the spending
ledger and are checked inside its transaction (:func:`check_totals`), so the decision and the
reservation are one atomic step.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpcwallet.cosigner.facts import SignFacts
from mpcwallet.cosigner.policy import Rules
from mpcwallet.errors import PolicyRefused
from mpcwallet.evm.allowance import UNLIMITED

ETH = "ETH"


def fmt_wei(wei: int) -> str:
    from eth_utils.currency import from_wei

    return f"{format(from_wei(wei, 'ether'), 'f') if wei else '0'} ether"


def _addr(b: bytes | None) -> str:
    if b is None:
        return "contract creation"
    from mpcwallet.evm.address import to_checksum

    return to_checksum(b)


def refuse(rules: Rules, rule: str, why: str) -> PolicyRefused:
    return PolicyRefused(
        f"policy refused ({rules.scope}.{rule}): {why}; nothing was signed", field=rule
    )


def _list_check(rules: Rules, who: str, address: bytes | None) -> None:
    """``deny_to`` and ``allow_to`` for one address the request sends to or empowers."""
    if address is not None and address in rules.deny_to:
        raise refuse(rules, "deny_to", f"{who}{_addr(address)} is denied")
    if rules.allow_to and address not in rules.allow_to:
        raise refuse(rules, "allow_to", f"{who}{_addr(address)} is not in the allowlist")


def _check_chain(rules: Rules, facts: SignFacts) -> None:
    if rules.chain_ids is None or facts.kind == "message":
        return
    allowed = list(rules.chain_ids)
    if facts.kind == "tx" and facts.chain_id not in rules.chain_ids:
        raise refuse(rules, "chain_ids", f"chain id {facts.chain_id} is not in {allowed}")
    if facts.kind == "typed_data":
        chain = facts.domain.chain_id if facts.domain is not None else None
        if chain is None:
            raise refuse(
                rules, "chain_ids", f"the domain has no chainId, so it is valid on every chain, "
                f"not only {allowed}",
            )  # fmt: skip
        if chain not in rules.chain_ids:
            raise refuse(rules, "chain_ids", f"domain chainId {chain} is not in {allowed}")


def _check_domain(rules: Rules, facts: SignFacts) -> None:
    if facts.domain is None or rules.allow_domains is None:
        return
    got = facts.domain
    if not any(
        (d.name is None or d.name == got.name)
        and (d.chain_id is None or d.chain_id == got.chain_id)
        and (d.verifying_contract is None or d.verifying_contract == got.verifying_contract)
        for d in rules.allow_domains
    ):
        raise refuse(rules, "allow_domains", f"domain {got.name!r} is not allowed")


def _check_tx(rules: Rules, facts: SignFacts) -> None:
    if rules.max_value_per_tx is not None and facts.value > rules.max_value_per_tx:
        raise refuse(
            rules,
            "max_value_per_tx",
            f"value {fmt_wei(facts.value)} is over the limit {fmt_wei(rules.max_value_per_tx)}",
        )
    if rules.max_fee_per_gas is not None and (facts.max_fee_per_gas or 0) > rules.max_fee_per_gas:
        raise refuse(
            rules,
            "max_fee_per_gas",
            f"fee {facts.max_fee_per_gas} wei/gas is over the cap {rules.max_fee_per_gas} wei/gas",
        )
    # Every transaction's `to`; a decoded transfer adds its recipient, never replaces `to`.
    _list_check(rules, "", facts.to)
    if facts.token is not None:
        _list_check(rules, "the token recipient ", facts.token_to)
    if facts.malformed_call is not None and rules.restricts:
        raise refuse(
            rules, "calldata", f"the calldata of {facts.malformed_call} is not its exact ABI "
            f"encoding ({facts.data_length} bytes); the contract could act on arguments the "
            "policy did not read",
        )  # fmt: skip
    if rules.allow_selectors is not None and (facts.data_length or facts.selector):
        if facts.to is None:
            raise refuse(rules, "allow_selectors", "a contract creation runs its init code, "
                         "not an allowed call")  # fmt: skip
        if facts.selector is None:
            raise refuse(rules, "allow_selectors", f"{facts.data_length} byte(s) of calldata "
                         "hold no 4-byte selector")  # fmt: skip
        if facts.selector not in rules.allow_selectors:
            raise refuse(
                rules, "allow_selectors", f"selector 0x{facts.selector.hex()} is not allowed"
            )


def _token_totals(facts: SignFacts) -> dict[bytes, int]:
    """Per token contract: what this request transfers plus what it lets spenders take (an
    allowance of every token, setApprovalForAll, counts as unlimited)."""
    out: dict[bytes, int] = {}
    if facts.kind == "tx" and facts.token is not None and facts.token_amount:
        out[facts.token] = facts.token_amount
    for a in facts.allowances:
        if a.token is not None and not a.revokes:
            amount = UNLIMITED if a.amount is None else a.amount
            out[a.token] = out.get(a.token, 0) + amount
    return out


def _check_allowances(rules: Rules, facts: SignFacts) -> None:
    for a in facts.allowances:
        if not a.revokes:  # taking an allowance away empowers no one
            _list_check(rules, f"the spender of {a.shape} ", a.spender)
    for token, total in _token_totals(facts).items():
        rule = rules.tokens.get(token)
        if rule is not None and rule.max_per_tx is not None and total > rule.max_per_tx:
            what = "unlimited" if total >= UNLIMITED else f"{total} base units"
            raise refuse(
                rules,
                "tokens.max_per_tx",
                f"{what} of {_addr(token)} is over the limit {rule.max_per_tx}",
            )


def check_static(rules: Rules, facts: SignFacts) -> None:
    """Raise :class:`PolicyRefused` naming the first rule ``facts`` breaks (not the totals)."""
    _check_chain(rules, facts)
    if facts.kind == "typed_data":
        _check_domain(rules, facts)
    if facts.kind == "tx":
        _check_tx(rules, facts)
    _check_allowances(rules, facts)


@dataclass(frozen=True)
class Spend:
    """One amount a signature would spend, and the rolling 24 h limit on it (if any)."""

    asset: str  # "ETH" or the token address, lower-case hex with 0x
    amount: int
    limit_24h: int | None
    rule: str


def spends(rules: Rules, facts: SignFacts) -> list[Spend]:
    """ETH value, and per token the transfer plus the allowances granted (an allowance is
    counted when granted: the co-signer does not see the spender take it)."""
    out = []
    if facts.kind == "tx" and facts.value > 0:
        out.append(Spend(ETH, facts.value, rules.max_value_24h, "max_value_24h"))
    for token, total in _token_totals(facts).items():
        rule = rules.tokens.get(token)
        out.append(
            Spend("0x" + token.hex(), total, rule.max_24h if rule else None, "tokens.max_24h")
        )
    return out


def check_totals(rules: Rules, spend: Spend, spent_24h: int) -> None:
    if spend.limit_24h is not None and spent_24h + spend.amount > spend.limit_24h:
        if spend.asset == ETH:
            detail = (
                f"{fmt_wei(spent_24h)} spent in the last 24 h plus {fmt_wei(spend.amount)} is "
                f"over the limit {fmt_wei(spend.limit_24h)}"
            )
        else:
            detail = (
                f"{spent_24h} + {spend.amount} base units of {spend.asset} in 24 h is over the "
                f"limit {spend.limit_24h}"
            )
        raise refuse(rules, spend.rule, detail)


def approval_rule(rules: Rules, facts: SignFacts) -> tuple[str, str] | None:
    """``(rule, why)`` when this request needs permits, else None."""
    if facts.kind in rules.approval_for:
        return "approval_for", f"{facts.kind} is in approval_for"
    if facts.kind != "tx" and rules.restricts and facts.kind not in rules.allow_without_approval:
        return "allow_without_approval", (
            f"this policy has limits and {facts.kind} is not in allow_without_approval"
        )
    if facts.kind == "tx" and rules.approval_above is not None:
        if facts.value > rules.approval_above:
            return "approval_above", f"value above {fmt_wei(rules.approval_above)}"
    for token, total in _token_totals(facts).items():
        rule = rules.tokens.get(token)
        if rule is not None and rule.approval_above is not None and total > rule.approval_above:
            return "tokens.approval_above", (
                f"{_addr(token)} above {rule.approval_above} base units"
            )
    return None


def approvals_needed(rules: Rules, facts: SignFacts) -> int:
    """How many valid permits this request needs (0: none)."""
    return rules.approvals_required if approval_rule(rules, facts) else 0
