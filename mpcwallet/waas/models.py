"""Request and response models of the WaaS /v1 API (pydantic v2); the OpenAPI 3.1 document is
generated from exactly these (:mod:`mpcwallet.waas.openapi`). Amounts are decimal strings
(wei does not fit a JSON number's 2^53); addresses and hex are ``0x`` strings."""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from mpcwallet.store.waas_records import HistoryRow, TxRow, WalletRow

ID = r"^[A-Za-z0-9_.:-]{1,128}$"
ADDRESS = r"^0x[0-9a-fA-F]{40}$"
HEX = r"^0x([0-9a-fA-F]{2})*$"
AMOUNT = r"^(0|[1-9][0-9]{0,77})$"
TxState = Literal[
    "KYT",
    "POLICY",
    "APPROVALS",
    "SIGN_PENDING",
    "BROADCAST",
    "CONFIRM",
    "FINALIZED",
    "REJECTED",
    "FAILED",
]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateWalletRequest(Request):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    custody_backend: Literal["MPC_TECDSA", "DEV_SIGNER"] = "MPC_TECDSA"
    mpc_t: int | None = Field(None, ge=2, le=16, description="Threshold (default 2).")
    mpc_n: int | None = Field(None, ge=2, le=16, description="Parties (default 3).")
    request_id: str | None = Field(None, pattern=ID, description="Client idempotency key.")


class Erc20Transfer(Request):
    token: str = Field(pattern=ADDRESS)
    to: str = Field(pattern=ADDRESS)
    amount: str = Field(pattern=AMOUNT, description="Base units, decimal string.")


class CreateTxRequest(Request):
    wallet_id: str = Field(pattern=ID)
    request_id: str = Field(pattern=ID, description="Client idempotency key (per tenant).")
    chain_id: int | None = Field(None, ge=1, le=2**53 - 1)
    to: str | None = Field(None, pattern=ADDRESS)
    value: str = Field("0", pattern=AMOUNT, description="Wei, decimal string.")
    data: str | None = Field(None, pattern=HEX, max_length=2 + 2 * 65536)
    erc20: Erc20Transfer | None = None


class ApprovalRequest(Request):
    signature: str = Field(
        pattern=r"^[0-9a-fA-F]{128}$",
        description="Ed25519 signature (hex) by the approver's registered key over "
        "b'mpcwallet waas approval v1\\x00' + '<tx_request_id>:<body_hash>'.",
    )


class Wallet(Response):
    wallet_id: str
    name: str
    custody_backend: str
    status: Literal["PENDING_KEYGEN", "ACTIVE", "FAILED"]
    address: str | None
    key_ref: str | None
    tags: dict[str, str]
    error: dict[str, str] | None
    created_at: int
    updated_at: int

    @classmethod
    def of(cls, w: WalletRow) -> Wallet:
        tags = {} if w.mpc_t is None else {"mpc_t": str(w.mpc_t), "mpc_n": str(w.mpc_n)}
        error = (
            None
            if w.error_code is None
            else {"code": w.error_code, "message": w.error_message or ""}
        )
        return cls(
            wallet_id=w.wallet_id,
            name=w.name,
            custody_backend=w.custody_backend,
            status=cast(Any, w.status),
            address=w.address,
            key_ref=w.key_ref,
            tags=tags,
            error=error,
            created_at=w.created_at,
            updated_at=w.updated_at,
        )


class WalletPage(Response):
    wallets: list[Wallet]
    next_after: str | None = Field(description="Pass as ?after= for the next page.")


class DepositView(Response):
    chain_id: int
    tx_hash: str
    log_index: int = Field(description="-1 for a plain ETH transfer; the log's index otherwise.")
    asset: str = Field(description="ETH, or the ERC-20 contract's address.")
    sender: str | None
    amount: str = Field(pattern=AMOUNT, description="Base units (wei), a decimal string.")
    block_number: int
    block_hash: str
    state: Literal["CONFIRMING", "CONFIRMED", "FINALIZED", "DROPPED"]

    @classmethod
    def of(cls, d: Any) -> DepositView:
        return cls(
            chain_id=d.chain_id,
            tx_hash=d.tx_hash,
            log_index=d.log_index,
            asset=d.token or "ETH",
            sender=d.sender,
            amount=str(d.amount),
            block_number=d.block_number,
            block_hash=d.block_hash,
            state=d.state,
        )


class DepositPage(Response):
    deposits: list[DepositView]
    next_after: str | None = Field(description="Pass as ?after= for the next page.")


class MpcMeta(Response):
    wallet_id: str
    status: str
    key_ref: str | None
    keyset_id: str | None
    mpc_t: int | None
    mpc_n: int | None
    cluster_id: str
    keyset_status: str | None
    parties: list[str]
    generation: int | None


class HistoryEntry(Response):
    state: str
    at: int
    reason_code: str | None


class Approvals(Response):
    required: int
    approvers: list[str]


class TxRequestView(Response):
    tx_request_id: str
    wallet_id: str
    request_id: str
    state: TxState
    reason_code: str | None
    reason: str | None
    body_hash: str
    approvals: Approvals
    nonce: str | None = Field(description="Decimal string once assigned.")
    tx_hash: str | None = Field(description="The signing digest the permit names.")
    signed_tx: dict[str, Any] | None
    history: list[HistoryEntry]
    created_at: int
    updated_at: int

    @classmethod
    def of(cls, r: TxRow, history: list[HistoryRow], approvers: list[str]) -> TxRequestView:
        signed = None if r.raw_tx is None else {"raw_tx": r.raw_tx, "hash": r.signed_hash}
        return cls(
            tx_request_id=r.tx_request_id,
            wallet_id=r.wallet_id,
            request_id=r.request_id,
            state=cast(Any, r.state),
            reason_code=r.reason_code,
            reason=r.reason,
            body_hash=r.body_hash,
            approvals=Approvals(required=r.approvals_required, approvers=approvers),
            nonce=None if r.nonce is None else str(r.nonce),
            tx_hash=None if r.tx_hash is None else "0x" + r.tx_hash,
            signed_tx=signed,
            history=[
                HistoryEntry(state=h.state, at=h.at, reason_code=h.reason_code) for h in history
            ],
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable error code.")
    message: str = Field(description="What went wrong and what to do.")
    kind: Literal["transient", "permanent", "violation"]
    field: str | None = Field(description="The request field at fault, if one is.")


class ErrorResponse(BaseModel):
    error: ErrorDetail
