"""What a transaction or an EIP-712 document lets someone take: token transfers and allowances,
decoded from the shapes whose definitions are known (pure).

Calldata, by selector (the first 4 bytes of the Keccak-256 of the canonical signature; the
arguments are 32-byte ABI words, Solidity ABI spec "Formal Specification of the Encoding"):

* ``transfer(address to,uint256 amount)`` ``a9059cbb`` and
  ``transferFrom(address from,address to,uint256 amount)`` ``23b872dd`` (EIP-20): a transfer;
* ``approve(address spender,uint256 amount)`` ``095ea7b3`` (EIP-20),
  ``increaseAllowance(address spender,uint256 addedValue)`` ``39509351`` (OpenZeppelin ERC20),
  ``setApprovalForAll(address operator,bool approved)`` ``a22cb465`` (EIP-721, EIP-1155) and
  Permit2's ``approve(address token,address spender,uint160 amount,uint48 expiration)``
  ``87517c45`` (Uniswap/permit2 src/interfaces/IAllowanceTransfer.sol): an allowance.

A known selector whose calldata is not exactly its ABI encoding (length, zero padding of
``address``/``uint160``/``uint48`` words, a ``bool`` of 0 or 1) is *malformed*: Solidity ignores
trailing calldata and older compilers mask dirty address bits, so the contract could act on
arguments other than the ones read here.

EIP-712 documents, by the ``encodeType`` of the primary type (EIP-712 "Definition of
encodeType"), which is exactly what the verifying contract hashes; a document whose types differ
by one character has another type hash, so no such contract accepts its signature:

* EIP-2612 "Specification": ``Permit(address owner,address spender,uint256 value,uint256 nonce,
  uint256 deadline)``; the token is the domain's ``verifyingContract``;
* DAI (makerdao/dss src/dai.sol ``PERMIT_TYPEHASH``): ``Permit(address holder,address spender,
  uint256 nonce,uint256 expiry,bool allowed)``; ``allowed`` is an unlimited allowance;
* Permit2 (Uniswap/permit2 src/libraries/PermitHash.sol at cc56ad0f): ``PermitSingle``,
  ``PermitBatch`` (``PermitDetails(address token,uint160 amount,uint48 expiration,
  uint48 nonce)``), ``PermitTransferFrom``, ``PermitBatchTransferFrom``
  (``TokenPermissions(address token,uint256 amount)``) and their ``...WitnessTransferFrom``
  forms (the type-hash stub followed by any witness type).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mpcwallet.evm.eip712 import TypedData, encode_type

UNLIMITED = 2**256 - 1


@dataclass(frozen=True)
class Allowance:
    """Someone (``spender``) may take up to ``amount`` of ``token`` later."""

    shape: str  # e.g. "approve(address,uint256)", "EIP-2612 Permit", "Permit2 PermitSingle"
    token: bytes | None  # the token contract; None when the document does not name it
    spender: bytes
    amount: int | None  # base units; None: every token of the contract (setApprovalForAll)

    @property
    def revokes(self) -> bool:
        return self.amount == 0


@dataclass(frozen=True)
class Transfer:
    shape: str
    token: bytes
    recipient: bytes
    amount: int


@dataclass(frozen=True)
class Decoded:
    transfer: Transfer | None = None
    allowances: tuple[Allowance, ...] = ()
    malformed: str | None = None  # the signature of a known function with bad calldata


# --- calldata --------------------------------------------------------------------------------

_CALLS: dict[bytes, tuple[str, tuple[str, ...]]] = {
    bytes.fromhex("a9059cbb"): ("transfer(address,uint256)", ("address", "uint256")),
    bytes.fromhex("23b872dd"): (
        "transferFrom(address,address,uint256)",
        ("address", "address", "uint256"),
    ),
    bytes.fromhex("095ea7b3"): ("approve(address,uint256)", ("address", "uint256")),
    bytes.fromhex("39509351"): ("increaseAllowance(address,uint256)", ("address", "uint256")),
    bytes.fromhex("a22cb465"): ("setApprovalForAll(address,bool)", ("address", "bool")),
    bytes.fromhex("87517c45"): (
        "approve(address,address,uint160,uint48)",
        ("address", "address", "uint160", "uint48"),
    ),
}
_BITS = {"address": 160, "uint160": 160, "uint48": 48, "uint256": 256, "bool": 1}


def _words(data: bytes, types: tuple[str, ...]) -> list[int] | None:
    if len(data) != 4 + 32 * len(types):
        return None
    out = []
    for i, t in enumerate(types):
        n = int.from_bytes(data[4 + 32 * i : 36 + 32 * i], "big")
        if n >> _BITS[t]:
            return None
        out.append(n)
    return out


def _addr(n: int) -> bytes:
    return n.to_bytes(20, "big")


def decode_call(to: bytes | None, data: bytes) -> Decoded:
    """The transfer or allowance a call to ``to`` with ``data`` makes, if its selector is known
    (a contract creation's data is init code, not a call)."""
    if to is None or len(data) < 4 or data[:4] not in _CALLS:
        return Decoded()
    signature, types = _CALLS[data[:4]]
    args = _words(data, types)
    if args is None:
        return Decoded(malformed=signature)
    name = signature.split("(")[0]
    if name == "transfer":
        return Decoded(transfer=Transfer(signature, to, _addr(args[0]), args[1]))
    if name == "transferFrom":
        return Decoded(transfer=Transfer(signature, to, _addr(args[1]), args[2]))
    if name == "setApprovalForAll":
        grant = Allowance(signature, to, _addr(args[0]), None if args[1] else 0)
    elif len(args) == 4:  # Permit2's approve: the token is an argument, `to` is Permit2
        grant = Allowance(signature, _addr(args[0]), _addr(args[1]), args[2])
    else:
        grant = Allowance(signature, to, _addr(args[0]), args[1])
    return Decoded(allowances=(grant,))


# --- typed data ------------------------------------------------------------------------------

_EIP2612 = "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
_DAI = "Permit(address holder,address spender,uint256 nonce,uint256 expiry,bool allowed)"
_DETAILS = "PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)"
_PERMISSIONS = "TokenPermissions(address token,uint256 amount)"
_PERMIT2 = {
    f"PermitSingle(PermitDetails details,address spender,uint256 sigDeadline){_DETAILS}": (
        "Permit2 PermitSingle"
    ),
    f"PermitBatch(PermitDetails[] details,address spender,uint256 sigDeadline){_DETAILS}": (
        "Permit2 PermitBatch"
    ),
    "PermitTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,"
    f"uint256 deadline){_PERMISSIONS}": "Permit2 PermitTransferFrom",
    "PermitBatchTransferFrom(TokenPermissions[] permitted,address spender,uint256 nonce,"
    f"uint256 deadline){_PERMISSIONS}": "Permit2 PermitBatchTransferFrom",
}
_WITNESS_STUBS = {
    "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,"
    "uint256 deadline,": "Permit2 PermitWitnessTransferFrom",
    "PermitBatchWitnessTransferFrom(TokenPermissions[] permitted,address spender,"
    "uint256 nonce,uint256 deadline,": "Permit2 PermitBatchWitnessTransferFrom",
}


def _int(value: object) -> int:
    """A uint the digest computation already checked (a number, or a decimal or 0x string)."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text, 16) if text.lower().startswith("0x") else int(text, 10)


def _address(value: object) -> bytes:
    return bytes.fromhex(str(value)[2:])


def _shape(td: TypedData) -> str | None:
    enc = encode_type(td.types, td.primary_type)
    if enc == _EIP2612:
        return "EIP-2612 Permit"
    if enc == _DAI:
        return "DAI Permit"
    if enc in _PERMIT2:
        return _PERMIT2[enc]
    for stub, shape in _WITNESS_STUBS.items():
        if (
            enc.startswith(stub)
            and "TokenPermissions" in td.types
            and encode_type(td.types, "TokenPermissions") == _PERMISSIONS
        ):
            return shape
    return None


def typed_data_allowances(td: TypedData, token: bytes | None) -> tuple[Allowance, ...] | None:
    """The allowances an EIP-712 document grants if it is one of the known shapes, else None.
    ``token`` is the domain's verifyingContract (the token of an EIP-2612 or DAI permit).
    ``td`` has been through :func:`mpcwallet.evm.eip712.digest`, so every value fits its type."""
    shape = _shape(td)
    if shape is None:
        return None
    m: Mapping[str, Any] = td.message
    spender = _address(m["spender"])
    if shape == "EIP-2612 Permit":
        return (Allowance(shape, token, spender, _int(m["value"])),)
    if shape == "DAI Permit":
        return (Allowance(shape, token, spender, UNLIMITED if m["allowed"] else 0),)
    if shape in ("Permit2 PermitSingle", "Permit2 PermitBatch"):
        items = m["details"] if isinstance(m["details"], list) else [m["details"]]
    else:
        items = m["permitted"] if isinstance(m["permitted"], list) else [m["permitted"]]
    return tuple(Allowance(shape, _address(d["token"]), spender, _int(d["amount"])) for d in items)
