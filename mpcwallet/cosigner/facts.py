"""What the co-signer's guard needs to know about one signing request (pure, light).

Every signing operation (transaction, EIP-191 message, EIP-712 typed data) builds a
:class:`SignFacts` from what the co-signer itself parsed and hashed, never from the client's
summary, and hands it to :meth:`mpcwallet.cosigner.guard.Guard.check_sign`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mpcwallet.evm.allowance import Allowance

if TYPE_CHECKING:
    from mpcwallet.evm.eip712 import TypedData
    from mpcwallet.evm.txjson import UnsignedTx

Kind = Literal["tx", "message", "typed_data"]


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain fields a policy can restrict (EIP-712, "domainSeparator")."""

    name: str | None = None
    chain_id: int | None = None
    verifying_contract: bytes | None = None


@dataclass(frozen=True)
class SignFacts:
    key_id: str
    digest: bytes  # what will be signed, as the co-signer computed it
    kind: Kind = "tx"
    key_name: str | None = None
    account: int = 0
    chain_id: int | None = None
    to: bytes | None = None  # None: contract creation (tx) or not applicable
    value: int = 0
    selector: bytes | None = None
    data_length: int = 0  # calldata bytes (tx)
    token: bytes | None = None  # ERC-20 transfer(From): the token contract (= to)
    token_to: bytes | None = None  # ... the recipient decoded from the calldata
    token_amount: int | None = None  # ... the amount in base units
    allowances: tuple[Allowance, ...] = ()  # approvals and permits this signature grants
    malformed_call: str | None = None  # a known function whose calldata is not its encoding
    max_fee_per_gas: int | None = None  # maxFeePerGas, or gasPrice for a legacy tx
    domain: Domain | None = None  # typed data only
    permits: tuple[Mapping[str, Any], ...] = ()

    def audit_fields(self) -> dict[str, Any]:
        """Public facts for the audit trail and session records (no permit bodies)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "key_id": self.key_id,
            "account": self.account,
            "digest": self.digest.hex(),
        }
        if self.chain_id is not None:
            out["chain_id"] = self.chain_id
        if self.to is not None:
            out["to"] = "0x" + self.to.hex()
        if self.kind == "tx":
            out["value"] = str(self.value)
        if self.selector is not None:
            out["selector"] = "0x" + self.selector.hex()
        if self.token is not None:
            out["token_contract"] = "0x" + self.token.hex()
            out["token_to"] = "0x" + (self.token_to or b"").hex()
            out["token_amount"] = str(self.token_amount)
        if self.allowances:  # one public string: shape, token, spender, amount (at most 8)
            out["allowances"] = "; ".join(
                f"{a.shape} token={'0x' + a.token.hex() if a.token else None} "
                f"spender=0x{a.spender.hex()} amount={'all' if a.amount is None else a.amount}"
                for a in self.allowances[:8]
            )
        if self.malformed_call is not None:
            out["malformed_call"] = self.malformed_call
        return out


def typed_data_domain(domain: Mapping[str, Any]) -> Domain:
    """The policy-relevant fields of an EIP-712 domain (already checked against their types by
    the digest computation: chainId a uint256, verifyingContract an address)."""
    name, chain, contract = (
        domain.get("name"),
        domain.get("chainId"),
        domain.get("verifyingContract"),
    )
    chain_id: int | None = None
    if isinstance(chain, int) and not isinstance(chain, bool):
        chain_id = chain
    elif isinstance(chain, str):
        try:
            chain_id = int(chain, 0)
        except ValueError:
            chain_id = None
    raw: bytes | None = None
    if isinstance(contract, str) and len(contract) == 42 and contract[:2] in ("0x", "0X"):
        try:
            raw = bytes.fromhex(contract[2:])
        except ValueError:
            raw = None
    return Domain(name if isinstance(name, str) else None, chain_id, raw)


def permits_from_request(value: object) -> tuple[Mapping[str, Any], ...]:
    """The ``permits`` of a sign request: absent or a list of objects (else an empty tuple
    plus each bad entry kept, so the guard refuses it as tampered)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        return ({"malformed": True},)
    return tuple(p if isinstance(p, dict) else {"malformed": True} for p in value[:16])


def tx_facts(
    tx: UnsignedTx,
    *,
    key_id: str,
    digest: bytes,
    key_name: str | None = None,
    account: int = 0,
    permits: tuple[Mapping[str, Any], ...] = (),
) -> SignFacts:
    """Facts of a transaction; token transfers and allowances are decoded from the calldata
    (:func:`mpcwallet.evm.allowance.decode_call`)."""
    from mpcwallet.evm.allowance import decode_call

    selector = tx.data[:4] if len(tx.data) >= 4 else None
    decoded = decode_call(tx.to, tx.data)
    moved = decoded.transfer
    fee = tx.max_fee_per_gas if tx.type == 2 else tx.gas_price
    return SignFacts(
        key_id=key_id,
        digest=digest,
        kind="tx",
        key_name=key_name,
        account=account,
        chain_id=tx.chain_id,
        to=tx.to,
        value=tx.value,
        selector=selector,
        data_length=len(tx.data),
        token=moved.token if moved else None,
        token_to=moved.recipient if moved else None,
        token_amount=moved.amount if moved else None,
        allowances=decoded.allowances,
        malformed_call=decoded.malformed,
        max_fee_per_gas=fee,
        permits=permits,
    )


def message_facts(
    *,
    key_id: str,
    digest: bytes,
    account: int = 0,
    permits: tuple[Mapping[str, Any], ...] = (),
) -> SignFacts:
    """Facts of an EIP-191 message (its digest as the co-signer computed it)."""
    return SignFacts(key_id=key_id, digest=digest, kind="message", account=account, permits=permits)


def typed_data_facts(
    *,
    key_id: str,
    digest: bytes,
    typed_data: TypedData,
    account: int = 0,
    permits: tuple[Mapping[str, Any], ...] = (),
) -> SignFacts:
    """Facts of EIP-712 typed data (see :func:`typed_data_domain`); its domain's chainId is
    also the chain id a permit must name. The known allowance shapes are decoded
    (:func:`mpcwallet.evm.allowance.typed_data_allowances`)."""
    from mpcwallet.evm.allowance import typed_data_allowances

    domain = typed_data_domain(typed_data.domain)
    allowances = typed_data_allowances(typed_data, domain.verifying_contract) or ()
    return SignFacts(
        key_id=key_id,
        digest=digest,
        kind="typed_data",
        account=account,
        chain_id=domain.chain_id,
        domain=domain,
        allowances=allowances,
        permits=permits,
    )
