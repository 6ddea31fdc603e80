"""Which rule a signing request breaks, if any (pure functions over :class:`Rules` and facts).

Static rules are checked by :func:`check_static`; the rolling 24 h totals need the spending
ledger and are checked inside its transaction (:func:`check_totals`), so the decision and the
reservation are one atomic step.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpcwallet.cosigner.facts import SignFacts
from mpcwallet.cosigner.policy import Rules
from mpcwallet.errors import PolicyRefused

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


def _recipient(facts: SignFacts) -> bytes | None:
    return facts.token_to if facts.token is not None else facts.to


def check_static(rules: Rules, facts: SignFacts) -> None:
    """Raise :class:`PolicyRefused` naming the first rule ``facts`` breaks (not the totals)."""
    if rules.chain_ids is not None and facts.kind == "tx" and facts.chain_id not in rules.chain_ids:
        raise refuse(
            rules, "chain_ids", f"chain id {facts.chain_id} is not in {list(rules.chain_ids)}"
        )
    if facts.kind == "typed_data" and facts.domain is not None:
        chain = facts.domain.chain_id
        if rules.chain_ids is not None and chain is not None and chain not in rules.chain_ids:
            raise refuse(
                rules, "chain_ids", f"domain chainId {chain} is not in {list(rules.chain_ids)}"
            )
        if rules.allow_domains is not None and not any(
            (d.name is None or d.name == facts.domain.name)
            and (d.chain_id is None or d.chain_id == chain)
            and (
                d.verifying_contract is None
                or d.verifying_contract == facts.domain.verifying_contract
            )
            for d in rules.allow_domains
        ):
            raise refuse(rules, "allow_domains", f"domain {facts.domain.name!r} is not allowed")
    if facts.kind != "tx":
        return
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
    recipient = _recipient(facts)
    which = "the token recipient " if facts.token is not None else ""
    if recipient is not None and recipient in rules.deny_to:
        raise refuse(rules, "deny_to", f"{which}{_addr(recipient)} is denied")
    if rules.allow_to and recipient not in rules.allow_to:
        raise refuse(rules, "allow_to", f"{which}{_addr(recipient)} is not in the allowlist")
    if facts.token is not None and facts.to in rules.deny_to:
        raise refuse(rules, "deny_to", f"the token contract {_addr(facts.to)} is denied")
    if (
        rules.allow_selectors is not None
        and facts.selector is not None
        and facts.selector not in rules.allow_selectors
    ):
        raise refuse(rules, "allow_selectors", f"selector 0x{facts.selector.hex()} is not allowed")
    token = rules.tokens.get(facts.token) if facts.token is not None else None
    if (
        token is not None
        and token.max_per_tx is not None
        and (facts.token_amount or 0) > token.max_per_tx
    ):
        raise refuse(
            rules,
            "tokens.max_per_tx",
            f"{facts.token_amount} base units of {_addr(facts.token)} is over the limit "
            f"{token.max_per_tx}",
        )


@dataclass(frozen=True)
class Spend:
    """One amount a signature would spend, and the rolling 24 h limit on it (if any)."""

    asset: str  # "ETH" or the token address, lower-case hex with 0x
    amount: int
    limit_24h: int | None
    rule: str


def spends(rules: Rules, facts: SignFacts) -> list[Spend]:
    if facts.kind != "tx":
        return []
    out = []
    if facts.value > 0:
        out.append(Spend(ETH, facts.value, rules.max_value_24h, "max_value_24h"))
    if facts.token is not None and facts.token_amount:
        token = rules.tokens.get(facts.token)
        out.append(
            Spend(
                "0x" + facts.token.hex(),
                facts.token_amount,
                token.max_24h if token else None,
                "tokens.max_24h",
            )
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


def approvals_needed(rules: Rules, facts: SignFacts) -> int:
    """How many valid permits this request needs (0: none)."""
    if facts.kind in rules.approval_for:
        return rules.approvals_required
    if facts.kind == "tx":
        if rules.approval_above is not None and facts.value > rules.approval_above:
            return rules.approvals_required
        token = rules.tokens.get(facts.token) if facts.token is not None else None
        if (
            token is not None
            and token.approval_above is not None
            and (facts.token_amount or 0) > token.approval_above
        ):
            return rules.approvals_required
    return 0
