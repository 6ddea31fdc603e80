"""tx.json -> validated unsigned transaction -> signing digest.

tx.json uses eth-account's field names. Two transaction types:

* EIP-1559 (type 2, the default): ``chainId, nonce, to, value, data, gas, maxFeePerGas,
  maxPriorityFeePerGas`` and optional ``accessList``;
* legacy with EIP-155 replay protection (type 0): ``gasPrice`` instead of the two fee fields.

Integers may be JSON numbers, decimal strings or 0x-hex strings. ``nonce``, ``gas`` and the fee
fields may be missing at parse time (``mpc sign`` fills them from an RPC endpoint, or lists them
with :func:`missing_fields`); :func:`signing_digest` needs them all.

Every refusal is a :class:`BadInput` whose ``field`` names the offending tx.json field.
The encodings follow EIP-2718/EIP-1559 (typed) and EIP-155 (legacy; decoding a raw signed
transaction back is :mod:`mpcwallet.evm.txdecode`); RLP from
:mod:`mpcwallet.evm.rlp`, Keccak-256 from eth-hash. This module does no I/O except
:func:`load_tx`, and imports neither web3 nor eth-account (they cost ~0.5 s to import).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mpcwallet import jsonio
from mpcwallet.errors import BadInput, FileFormatError
from mpcwallet.evm import rlp
from mpcwallet.evm.address import is_hex, keccak, parse_address, shown, to_checksum

UINT256_MAX = 2**256 - 1
UINT64_MAX = 2**64 - 1  # EIP-2681 bounds the nonce; we apply the same bound to gas and chainId

TYPE_LEGACY = 0
TYPE_1559 = 2

FEE_1559 = ("maxFeePerGas", "maxPriorityFeePerGas")
FEE_LEGACY = ("gasPrice",)
KNOWN_FIELDS = frozenset(
    {
        "chainId",
        "nonce",
        "to",
        "value",
        "data",
        "gas",
        "maxFeePerGas",
        "maxPriorityFeePerGas",
        "gasPrice",
        "accessList",
        "type",
        "from",
    }
)
MAX_DATA_BYTES = 128 * 1024  # geth's txMaxSize; a larger tx would not be relayed anyway
MAX_TX_FILE_BYTES = 1024 * 1024  # hex data (256 KiB) and a generous access list fit
_MAX_INT_CHARS = 80  # 2^256-1 has 78 decimal digits and 64 hex digits

AccessList = tuple[tuple[bytes, tuple[bytes, ...]], ...]


@dataclass(frozen=True)
class UnsignedTx:
    """A validated transaction. ``to`` is None for contract creation."""

    type: int
    chain_id: int
    to: bytes | None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    gas: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    gas_price: int | None = None
    access_list: AccessList = ()
    sender: bytes | None = None  # optional "from": checked against the wallet when signing

    def to_json(self) -> dict[str, Any]:
        """The canonical tx.json form; ``parse_tx(tx.to_json()) == tx``."""
        out: dict[str, Any] = {"chainId": self.chain_id}
        # eth-account's sign_transaction takes this dict as is: it knows type 2 but not type 0,
        # and infers legacy from gasPrice. "type": 0 is written only while gasPrice is unset.
        if self.type == TYPE_1559 or self.gas_price is None:
            out["type"] = self.type
        if self.sender is not None:
            out["from"] = to_checksum(self.sender)
        if self.nonce is not None:
            out["nonce"] = self.nonce
        if self.to is not None:
            out["to"] = to_checksum(self.to)
        out["value"] = self.value
        out["data"] = "0x" + self.data.hex()
        if self.gas is not None:
            out["gas"] = self.gas
        if self.type == TYPE_1559:
            if self.max_fee_per_gas is not None:
                out["maxFeePerGas"] = self.max_fee_per_gas
            if self.max_priority_fee_per_gas is not None:
                out["maxPriorityFeePerGas"] = self.max_priority_fee_per_gas
            out["accessList"] = [
                {"address": to_checksum(a), "storageKeys": ["0x" + k.hex() for k in keys]}
                for a, keys in self.access_list
            ]
        elif self.gas_price is not None:
            out["gasPrice"] = self.gas_price
        return out

    def with_fields(self, **changes: Any) -> UnsignedTx:
        return replace(self, **changes)


# --- field parsers ------------------------------------------------------------------------------


def parse_int(value: object, field: str, *, maximum: int = UINT256_MAX) -> int:
    """A JSON number, decimal string or 0x-hex string; 0 <= n <= maximum."""
    if isinstance(value, bool):
        raise BadInput(f"{field}: expected an integer, got a boolean", field=field)
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_INT_CHARS:  # before int(): Python refuses > 4300 digits itself
            raise BadInput(
                f"{field}: {len(text)} characters is too long for a 256-bit integer", field=field
            )
        try:
            if text[:2] in ("0x", "0X"):
                if len(text) == 2 or not all(c in "0123456789abcdefABCDEF" for c in text[2:]):
                    raise ValueError
                n = int(text[2:], 16)
            else:
                if not text.lstrip("-").isdigit() or not text.isascii():
                    raise ValueError
                n = int(text, 10)
        except ValueError:
            raise BadInput(
                f"{field}: {shown(value)} is not an integer (use a number, a decimal string "
                "or a 0x-hex string)",
                field=field,
            ) from None
    elif isinstance(value, float):
        raise BadInput(
            f"{field}: {value!r} is a JSON float; write integers exactly (a decimal string "
            'such as "1000000000000000000" or 0x-hex)',
            field=field,
        )
    else:
        raise BadInput(f"{field}: expected an integer, got {type(value).__name__}", field=field)
    if n < 0:
        raise BadInput(f"{field}: must not be negative", field=field)
    if n > maximum:
        bound = "2^64-1" if maximum == UINT64_MAX else "2^256-1"
        raise BadInput(f"{field}: {n} is larger than the maximum {bound}", field=field)
    return n


def parse_hex_bytes(value: object, field: str, *, length: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise BadInput(f"{field}: expected a 0x-hex string", field=field)
    text = value.strip()
    if not text.startswith(("0x", "0X")):
        raise BadInput(f"{field}: expected a 0x-hex string", field=field)
    body = text[2:]
    if not is_hex(body):
        raise BadInput(f"{field}: not valid hex (only 0-9, a-f after 0x, no spaces)", field=field)
    if len(body) % 2:
        raise BadInput(f"{field}: odd number of hex digits", field=field)
    raw = bytes.fromhex(body)
    if length is not None and len(raw) != length:
        raise BadInput(f"{field}: expected {length} bytes, got {len(raw)}", field=field)
    return raw


def _parse_type(value: object) -> int:
    n = parse_int(value, "type", maximum=0xFF)
    if n not in (TYPE_LEGACY, TYPE_1559):
        raise BadInput(
            f"type: {n} is not supported; use 2 (EIP-1559, the default) or 0 (legacy)",
            field="type",
        )
    return n


def _parse_access_list(value: object) -> AccessList:
    if not isinstance(value, list):
        raise BadInput("accessList: expected a list", field="accessList")
    entries = []
    for i, entry in enumerate(value):
        where = f"accessList[{i}]"
        if not isinstance(entry, Mapping):
            raise BadInput(f"{where}: expected an object", field="accessList")
        extra = set(entry) - {"address", "storageKeys"}
        if extra or "address" not in entry:
            raise BadInput(
                f"{where}: expected exactly 'address' and 'storageKeys'", field="accessList"
            )
        addr = parse_address(entry["address"], f"{where}.address")
        keys_raw = entry.get("storageKeys", [])
        if not isinstance(keys_raw, list):
            raise BadInput(f"{where}.storageKeys: expected a list", field="accessList")
        keys = tuple(
            parse_hex_bytes(k, f"{where}.storageKeys[{j}]", length=32)
            for j, k in enumerate(keys_raw)
        )
        entries.append((addr, keys))
    return tuple(entries)


def _bad_field(err: BadInput, field: str) -> BadInput:
    return BadInput(err.message, field=field)


def parse_tx(obj: Mapping[str, Any]) -> UnsignedTx:
    """Validate a tx.json object. Raises :class:`BadInput` naming the field at fault."""
    if not isinstance(obj, Mapping):
        raise BadInput("a transaction must be a JSON object", field="tx")
    unknown = sorted(set(obj) - KNOWN_FIELDS)
    if unknown:
        raise BadInput(
            f"{unknown[0]}: unknown field (allowed: {', '.join(sorted(KNOWN_FIELDS))})",
            field=unknown[0],
        )

    has_legacy = "gasPrice" in obj and obj["gasPrice"] is not None
    has_1559 = [f for f in FEE_1559 if f in obj and obj[f] is not None]
    if "type" in obj and obj["type"] is not None:
        tx_type = _parse_type(obj["type"])
    else:
        tx_type = TYPE_LEGACY if has_legacy else TYPE_1559
    if has_legacy and has_1559:
        raise BadInput(
            f"gasPrice: cannot be combined with {has_1559[0]}; use gasPrice alone (legacy) or "
            "maxFeePerGas + maxPriorityFeePerGas (EIP-1559)",
            field="gasPrice",
        )
    if tx_type == TYPE_1559 and has_legacy:
        raise BadInput(
            "gasPrice: a type 2 (EIP-1559) transaction uses maxFeePerGas and "
            'maxPriorityFeePerGas; remove gasPrice or set "type": 0',
            field="gasPrice",
        )
    if tx_type == TYPE_LEGACY and has_1559:
        raise BadInput(
            f"{has_1559[0]}: a legacy (type 0) transaction uses gasPrice only",
            field=has_1559[0],
        )
    # null means absent; any other value must have the field's type ("" or false is no list).
    access_list = () if obj.get("accessList") is None else _parse_access_list(obj["accessList"])
    if tx_type == TYPE_LEGACY and access_list:
        raise BadInput(
            "accessList: not allowed in a legacy (type 0) transaction", field="accessList"
        )

    if obj.get("chainId") is None:
        raise BadInput(
            "chainId: missing; every transaction is bound to one chain (e.g. 1 for mainnet, "
            "11155111 for Sepolia)",
            field="chainId",
        )
    chain_id = parse_int(obj["chainId"], "chainId", maximum=UINT64_MAX)
    if chain_id == 0:
        raise BadInput("chainId: must be positive", field="chainId")

    def opt_int(name: str, maximum: int = UINT256_MAX) -> int | None:
        v = obj.get(name)
        return None if v is None else parse_int(v, name, maximum=maximum)

    def opt_wei(name: str) -> int | None:  # an amount: wei, or with a unit ("0.01 ether")
        from mpcwallet.evm.units import parse_wei

        v = obj.get(name)
        return None if v is None else parse_wei(v, name)

    to_raw = obj.get("to")
    to = None if to_raw in (None, "") else parse_address(to_raw, "to")
    data = b"" if obj.get("data") is None else parse_hex_bytes(obj["data"], "data")
    if len(data) > MAX_DATA_BYTES:
        raise BadInput(f"data: longer than {MAX_DATA_BYTES} bytes", field="data")
    if to is None and not data:
        raise BadInput(
            "to: missing; a transaction without 'to' creates a contract and needs 'data'",
            field="to",
        )
    sender = None if obj.get("from") is None else parse_address(obj["from"], "from")

    tx = UnsignedTx(
        type=tx_type,
        chain_id=chain_id,
        to=to,
        value=opt_wei("value") or 0,
        data=data,
        nonce=opt_int("nonce", UINT64_MAX),
        gas=opt_int("gas", UINT64_MAX),
        max_fee_per_gas=opt_wei("maxFeePerGas"),
        max_priority_fee_per_gas=opt_wei("maxPriorityFeePerGas"),
        gas_price=opt_wei("gasPrice"),
        access_list=access_list,
        sender=sender,
    )
    if (
        tx.max_fee_per_gas is not None
        and tx.max_priority_fee_per_gas is not None
        and tx.max_priority_fee_per_gas > tx.max_fee_per_gas
    ):
        raise BadInput(
            "maxPriorityFeePerGas: larger than maxFeePerGas; no node accepts that",
            field="maxPriorityFeePerGas",
        )
    return tx


def load_tx(path: Path) -> UnsignedTx:
    """Read and validate a tx.json file; errors name the file."""
    obj = jsonio.load_file(path, what="transaction file", max_bytes=MAX_TX_FILE_BYTES, field="tx")
    if not isinstance(obj, dict):
        raise FileFormatError(f"{path}: expected a JSON object", field="tx")
    try:
        return parse_tx(obj)
    except FileFormatError:
        raise
    except BadInput as err:
        raise BadInput(f"{path}: {err.message}", field=err.field) from None


def missing_fields(tx: UnsignedTx) -> list[str]:
    """tx.json names of the fields still needed before the transaction can be signed."""
    names = ["nonce", "gas"]
    names += list(FEE_1559) if tx.type == TYPE_1559 else list(FEE_LEGACY)
    attrs = {
        "nonce": tx.nonce,
        "gas": tx.gas,
        "maxFeePerGas": tx.max_fee_per_gas,
        "maxPriorityFeePerGas": tx.max_priority_fee_per_gas,
        "gasPrice": tx.gas_price,
    }
    return [n for n in names if attrs[n] is None]


# --- encodings -----------------------------------------------------------------------------------


def _require_complete(tx: UnsignedTx) -> None:
    missing = missing_fields(tx)
    if missing:
        raise BadInput(
            f"{missing[0]}: missing (also needed: {', '.join(missing)}); set them in tx.json "
            "or give an RPC endpoint (--rpc-url, MPC_RPC_URL or ETH_RPC_URL) to fill them",
            field=missing[0],
        )


def _i(n: int | None) -> bytes:
    assert n is not None
    return rlp.int_bytes(n)


def _fields(tx: UnsignedTx) -> list[rlp.Item]:
    """The payload list common to the unsigned and the signed encoding."""
    to = tx.to if tx.to is not None else b""
    if tx.type == TYPE_1559:
        access: list[rlp.Item] = [[a, list(keys)] for a, keys in tx.access_list]
        return [
            _i(tx.chain_id),
            _i(tx.nonce),
            _i(tx.max_priority_fee_per_gas),
            _i(tx.max_fee_per_gas),
            _i(tx.gas),
            to,
            _i(tx.value),
            tx.data,
            access,
        ]
    return [_i(tx.nonce), _i(tx.gas_price), _i(tx.gas), to, _i(tx.value), tx.data]


def unsigned_payload(tx: UnsignedTx) -> bytes:
    """The bytes whose Keccak-256 is signed (EIP-1559 / EIP-155)."""
    _require_complete(tx)
    if tx.type == TYPE_1559:
        return bytes([TYPE_1559]) + rlp.encode(_fields(tx))
    return rlp.encode([*_fields(tx), _i(tx.chain_id), b"", b""])


def signing_digest(tx: UnsignedTx) -> bytes:
    """32-byte Keccak-256 of the unsigned transaction."""
    return keccak(unsigned_payload(tx))


def encode_signed(tx: UnsignedTx, y_parity: int, r: int, s: int) -> bytes:
    """The raw signed transaction (what eth_sendRawTransaction takes)."""
    _require_complete(tx)
    if y_parity not in (0, 1):
        raise ValueError("y_parity is 0 or 1")
    if tx.type == TYPE_1559:
        return bytes([TYPE_1559]) + rlp.encode([*_fields(tx), _i(y_parity), _i(r), _i(s)])
    v = tx.chain_id * 2 + 35 + y_parity  # EIP-155
    return rlp.encode([*_fields(tx), _i(v), _i(r), _i(s)])


def describe(tx: UnsignedTx) -> dict[str, Any]:
    """What a human (or the co-signer's audit log) needs to know about a transaction."""
    return {
        "type": tx.type,
        "chain_id": tx.chain_id,
        "to": to_checksum(tx.to) if tx.to is not None else None,
        "value": tx.value,
        "selector": "0x" + tx.data[:4].hex() if len(tx.data) >= 4 else None,
        "data_bytes": len(tx.data),
        "nonce": tx.nonce,
        "gas": tx.gas,
        "max_fee_per_gas": tx.max_fee_per_gas,
        "max_priority_fee_per_gas": tx.max_priority_fee_per_gas,
        "gas_price": tx.gas_price,
    }
