"""Request and response models of the HTTP API (pydantic v2).

The handlers validate every body with these models and serialize every answer through them,
and :mod:`mpcwallet.api.openapi` builds the OpenAPI document from the same classes, so the
document cannot drift from what is served.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from mpcwallet.api.txschema import TX_ANSWER_SCHEMA, TX_SCHEMA

ACCOUNT_MAX = 2**31 - 1  # BIP-32 non-hardened indices
KEY_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
HEX = r"^0x[0-9a-fA-F]*$"


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class KeyRef(Request):
    key: str | None = Field(
        None,
        pattern=KEY_NAME,
        description="Key name in MPC_HOME/shares (default: the only key, else 'default').",
    )
    account: int = Field(0, ge=0, le=ACCOUNT_MAX, description="Account index (BIP-32).")


# --- requests ---------------------------------------------------------------------------------


class KeygenInitRequest(Request):
    name: str = Field("default", pattern=KEY_NAME, description="Name of the new key.")
    engine: Literal["cb-mpc", "portable"] | None = Field(
        None, description="Engine (default: the co-signer's)."
    )


class KeygenCompleteRequest(Request):
    session_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="From /keygen/init.")


class AddressRequest(KeyRef):
    pass


class AccountsRequest(Request):
    key: str | None = Field(None, pattern=KEY_NAME)
    start: int = Field(0, ge=0, le=ACCOUNT_MAX)
    count: int = Field(10, ge=1, le=100)


class TxRequest(KeyRef):
    # validated by the wallet's own tx.json parser (its messages name the field); the schema
    # documents each field
    tx: Annotated[dict[str, Any], WithJsonSchema(TX_SCHEMA)] = Field(
        description="The transaction, as in a tx.json file."
    )
    rpc_url: str | None = Field(
        None, max_length=2048, description="Node to fill nonce/gas/fees (default: MPC_RPC_URL)."
    )


class TxSignRequest(TxRequest):
    permits: list[dict[str, Any]] = Field(
        default_factory=list, max_length=16, description="Signing permits from approvers."
    )


class TxSendRequest(TxSignRequest):
    wait: bool = Field(True, description="Wait for the receipt.")
    confirmations: int = Field(1, ge=1, le=64)
    receipt_timeout: float = Field(120.0, gt=0, le=600)


class MessageSignRequest(KeyRef):
    message: str = Field(max_length=65536, description="The message (see encoding).")
    encoding: Literal["utf8", "hex"] = Field("utf8", description="utf8 text or 0x-hex bytes.")
    permits: list[dict[str, Any]] = Field(default_factory=list, max_length=16)


class TypedDataSignRequest(KeyRef):
    document: dict[str, Any] = Field(description="An EIP-712 typed-data document (v4).")
    chain_id: int | None = Field(None, ge=1, description="Expected domain chainId.")
    permits: list[dict[str, Any]] = Field(default_factory=list, max_length=16)


class RefreshRequest(Request):
    key: str | None = Field(None, pattern=KEY_NAME)


# --- responses --------------------------------------------------------------------------------


class CosignerHealth(Response):
    state: Literal["ok", "unreachable", "unhealthy"]
    reason: str | None = Field(None, description="Why it is not ok.")
    endpoint: str = Field(description="Where this server reaches the co-signer.")


class Health(Response):
    status: Literal["ok", "degraded"] = Field(
        description="ok: this server and its co-signer answer; degraded: this server answers "
        "but cannot sign (see cosigner.reason)."
    )
    keys: int = Field(description="Keys unlocked by this server.")
    cosigner: CosignerHealth


class KeygenInitResponse(Response):
    session_id: str
    name: str
    engine: str
    share: str
    expires_in: int = Field(description="Seconds before the session_id expires.")


class KeygenCompleteResponse(Response):
    public_key: str
    address: str
    key_id: str
    name: str | None = None
    engine: str


class AddressResponse(Response):
    address: str
    account: int
    key_id: str | None = None
    name: str | None = None
    public_key: str
    engine: str | None = None


class AccountEntry(Response):
    account: int
    address: str


class AccountsResponse(Response):
    key_id: str | None = None
    addresses: list[AccountEntry]


class TxPrepareResponse(Response):
    tx_hash: str = Field(pattern=HEX, description="The signing hash (keccak of the payload).")
    sender: str = Field(alias="from")
    account: int
    tx: Annotated[dict[str, Any], WithJsonSchema(TX_ANSWER_SCHEMA)] = Field(
        description="The complete transaction (tx.json form; amounts in wei, decimal strings)."
    )
    filled: dict[str, Any] = Field(
        description="What the node filled in (field name -> value; amounts as decimal strings)."
    )


class TxSignResponse(Response):
    r: str = Field(pattern=HEX)
    s: str = Field(pattern=HEX)
    v: int
    raw_tx: str = Field(pattern=HEX)
    hash: str = Field(pattern=HEX, description="Transaction hash.")
    signing_hash: str = Field(pattern=HEX)
    sender: str = Field(alias="from")
    account: int
    preview: dict[str, Any]


class TxSendResponse(Response):
    hash: str = Field(pattern=HEX)
    sender: str = Field(alias="from")
    to: str | None
    value: str = Field(pattern=r"^[0-9]+$", description="Wei, a decimal string.")
    chain_id: int
    nonce: int
    raw_tx: str = Field(pattern=HEX)
    signing_hash: str = Field(pattern=HEX)
    account: int
    receipt: dict[str, Any] | None = None
    preview: dict[str, Any]


class MessageSignResponse(Response):
    signature: str = Field(pattern=HEX)
    r: str = Field(pattern=HEX)
    s: str = Field(pattern=HEX)
    v: int
    hash: str = Field(pattern=HEX)
    address: str
    account: int


class RefreshResponse(Response):
    key_id: str
    address: str
    engine: str
    generation: int = Field(description="The key's generation after the refresh.")
    previous_generation: int
    settled: list[str] = Field(
        default_factory=list, description="Interrupted earlier refreshes settled on the way."
    )


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable error code, as in the CLI's --json output.")
    message: str
    kind: Literal["transient", "permanent", "violation"]
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
