"""EIP-712 typed structured data: the digest ``eth_signTypedData_v4`` signs.

``digest = keccak256(0x19 0x01 || domainSeparator || hashStruct(message))`` (EIP-712,
"Specification of the eth_signTypedData JSON RPC"; when primaryType is EIP712Domain the message
hash is left out, as eth-sig-util v4 does), where

- ``hashStruct(s) = keccak256(typeHash || encodeData(s))``, ``typeHash = keccak256(encodeType)``;
- ``encodeType`` is ``Name(type1 name1,...)`` followed by every struct type it references,
  sorted by name (EIP-712, "Definition of encodeType");
- ``encodeData`` is the concatenation of 32-byte words: atomic values ABI-encoded (eth-abi),
  ``bytes`` and ``string`` as keccak256 of their content, a struct as its hashStruct, an array
  as keccak256 of its elements' encodings concatenated (v4 arrays, nested structs).

Stricter than v4 where v4 is loose: every field must be present, types may not form a cycle,
values must fit their type, and a document whose domain chainId differs from the one the caller
expects is refused. Errors name the field's path (e.g. ``message.to.wallets[1]``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpcwallet.errors import BadTypedData, ChainIdMismatch
from mpcwallet.evm.address import keccak

DOMAIN = "EIP712Domain"
# EIP-712 "Definition of domainSeparator": the fields a domain may have, in this order.
DOMAIN_FIELDS = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
)
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_DEPTH = 32

# ASCII digits only, bounded before int() (Python's \d takes any Unicode digit, and int()
# refuses more than 4300 digits); \Z, not $, which also matches before a trailing newline.
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*\Z")
_ARRAY = re.compile(r"^(.*)\[([0-9]{0,9})\]\Z", re.S)
_UINT = re.compile(r"^uint([0-9]{0,3})\Z")
_INT = re.compile(r"^int([0-9]{0,3})\Z")
_BYTES_N = re.compile(r"^bytes([0-9]{1,2})\Z")
_MAX_INT_TEXT = 80  # 2^256 has 78 decimal digits

Types = dict[str, list[tuple[str, str]]]


@dataclass(frozen=True)
class TypedData:
    types: Types
    primary_type: str
    domain: dict[str, Any]
    message: dict[str, Any]
    document: dict[str, Any]  # as given, for the co-signer request

    def summary(self) -> dict[str, Any]:
        """What the co-signer logs: domain name, chainId, verifyingContract, primaryType."""
        return {
            "domain_name": self.domain.get("name"),
            "chain_id": self.domain.get("chainId"),
            "verifying_contract": self.domain.get("verifyingContract"),
            "primary_type": self.primary_type,
        }


def _bad(path: str, what: str) -> BadTypedData:
    return BadTypedData(f"typed data: {path}: {what}", field=path)


# --- parsing the document ----------------------------------------------------------------------


def _parse_types(obj: object) -> Types:
    if not isinstance(obj, Mapping):
        raise _bad("types", "must be an object of type name -> list of {name, type}")
    out: Types = {}
    for tname, fields in obj.items():
        path = f"types.{tname}"
        if not isinstance(tname, str) or not _IDENT.match(tname):
            raise _bad(path, "is not a valid type name")
        if not isinstance(fields, list):
            raise _bad(path, "must be a list of {name, type}")
        seen: set[str] = set()
        parsed: list[tuple[str, str]] = []
        for i, f in enumerate(fields):
            fpath = f"{path}[{i}]"
            if not isinstance(f, Mapping) or set(f) != {"name", "type"}:
                raise _bad(fpath, "must be an object with exactly 'name' and 'type'")
            name, ftype = f["name"], f["type"]
            if not isinstance(name, str) or not _IDENT.match(name):
                raise _bad(fpath, "has an invalid field name")
            if not isinstance(ftype, str):
                raise _bad(fpath, "has a type that is not a string")
            if name in seen:
                raise _bad(fpath, f"repeats the field name {name!r}")
            seen.add(name)
            parsed.append((name, ftype))
        out[tname] = parsed
    return out


def _base(ftype: str) -> str:
    while m := _ARRAY.match(ftype):
        ftype = m.group(1)
    return ftype


def _is_atomic(t: str) -> bool:
    if t in ("address", "bool", "bytes", "string"):
        return True
    if m := (_UINT.match(t) or _INT.match(t)):
        bits = int(m.group(1) or 256)
        return 8 <= bits <= 256 and bits % 8 == 0 and m.group(1) != "0"
    if m := _BYTES_N.match(t):
        return 1 <= int(m.group(1)) <= 32
    return False


def _check_types(types: Types) -> None:
    """Every field type is atomic or a defined struct (or arrays of them); no cycles."""
    for tname, fields in types.items():
        for name, ftype in fields:
            base = _base(ftype)
            if base not in types and not _is_atomic(base):
                raise _bad(f"types.{tname}.{name}", f"unknown type {ftype!r}")
    # A cycle (a type that reaches itself) has no finite encodeType dependency order we accept.
    state: dict[str, int] = {}

    def visit(t: str, trail: list[str]) -> None:
        if state.get(t) == 2:
            return
        if state.get(t) == 1:
            cycle = " -> ".join([*trail[trail.index(t) :], t])
            raise _bad(f"types.{t}", f"the types form a cycle ({cycle})")
        state[t] = 1
        for _, ftype in types[t]:
            base = _base(ftype)
            if base in types:
                visit(base, [*trail, t])
        state[t] = 2

    for t in types:
        visit(t, [])


def parse(doc: object, *, expected_chain_id: int | None = None) -> TypedData:
    """A checked typed-data document ({types, primaryType, domain, message})."""
    if not isinstance(doc, Mapping):
        raise _bad("document", "must be a JSON object with types, primaryType, domain, message")
    for key in ("types", "primaryType", "domain", "message"):
        if key not in doc:
            raise _bad(key, "is missing")
    types = _parse_types(doc["types"])
    domain = doc["domain"]
    if not isinstance(domain, Mapping):
        raise _bad("domain", "must be an object")
    if DOMAIN not in types:
        # eth_signTypedData_v4 documents carry EIP712Domain; when absent, it is the fields the
        # domain has, in the EIP's order (as eth-account does).
        known = dict(DOMAIN_FIELDS)
        for k in domain:
            if k not in known:
                raise _bad(f"domain.{k}", "is not an EIP-712 domain field")
        types[DOMAIN] = [(n, t) for n, t in DOMAIN_FIELDS if n in domain]
    _check_types(types)
    primary = doc["primaryType"]
    if not isinstance(primary, str) or primary not in types:
        raise _bad("primaryType", f"unknown type {primary!r}; it must be one of the types")
    message = doc["message"]
    if not isinstance(message, Mapping):
        raise _bad("message", "must be an object")
    td = TypedData(types, primary, dict(domain), dict(message), dict(doc))
    if expected_chain_id is not None:
        chain_id = domain.get("chainId")
        got = None if chain_id is None else _int_value(chain_id, "domain.chainId", 256, False)
        if got != expected_chain_id:
            raise ChainIdMismatch(
                f"typed data: domain.chainId is {chain_id}, but --chain-id is "
                f"{expected_chain_id}; refusing to sign for another chain",
                field="domain.chainId",
            )
    digest(td)  # every value is checked against its type now, not later in the co-signer
    return td


def domain_chain_id(td: TypedData) -> int | None:
    """The domain's chainId as a number (a JSON number, decimal or 0x-hex), None if absent."""
    value = td.domain.get("chainId")
    return None if value is None else _int_value(value, "domain.chainId", 256, False)


def load(path: Path, *, expected_chain_id: int | None = None) -> TypedData:
    """A typed-data file, read through the one bounded, strict JSON loader."""
    from mpcwallet.jsonio import load_file

    doc = load_file(path, what="typed data", max_bytes=MAX_DOCUMENT_BYTES, field="data")
    return parse(doc, expected_chain_id=expected_chain_id)


# --- hashing -----------------------------------------------------------------------------------


def _deps(types: Types, t: str, out: set[str]) -> None:
    for _, ftype in types[t]:
        base = _base(ftype)
        if base in types and base not in out:
            out.add(base)
            _deps(types, base, out)


def encode_type(types: Types, primary: str) -> str:
    deps: set[str] = set()
    _deps(types, primary, deps)
    deps.discard(primary)
    return "".join(
        f"{t}({','.join(f'{ftype} {name}' for name, ftype in types[t])})"
        for t in [primary, *sorted(deps)]
    )


def type_hash(types: Types, primary: str) -> bytes:
    return keccak(encode_type(types, primary).encode())


def _int_value(value: object, path: str, bits: int, signed: bool) -> int:
    if isinstance(value, bool):
        raise _bad(path, "is a boolean, not an integer")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_INT_TEXT or not text.isascii():
            raise _bad(path, "is not an integer of at most 256 bits")
        try:
            n = int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text, 10)
        except ValueError:
            raise _bad(path, f"{value!r} is not an integer") from None
    else:
        raise _bad(path, "must be an integer (a number or a decimal or 0x string)")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= n <= hi:
        raise _bad(path, f"does not fit in {'int' if signed else 'uint'}{bits}")
    return n


def _hex_bytes(value: object, path: str) -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise _bad(path, "must be a 0x-prefixed hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise _bad(path, "is not even-length hex after 0x") from None


def _atomic(t: str, value: object, path: str) -> bytes:
    from eth_abi.abi import encode as abi_encode

    if t == "string":
        if not isinstance(value, str):
            raise _bad(path, "must be a string")
        return keccak(value.encode("utf-8"))
    if t == "bytes":
        return keccak(_hex_bytes(value, path))
    if t == "bool":
        if not isinstance(value, bool):
            raise _bad(path, "must be true or false")
        return bytes(abi_encode(["bool"], [value]))
    if t == "address":
        raw = _hex_bytes(value, path)
        if len(raw) != 20:
            raise _bad(path, "must be a 20-byte address")
        return bytes(abi_encode(["address"], [raw]))
    if m := _BYTES_N.match(t):
        raw = _hex_bytes(value, path)
        if len(raw) != int(m.group(1)):
            raise _bad(path, f"must be exactly {m.group(1)} bytes for {t}")
        return bytes(abi_encode([t], [raw]))
    signed = t.startswith("int")
    bits = int(t[3 if signed else 4 :] or 256)
    n = _int_value(value, path, bits, signed)
    return bytes(abi_encode([f"{'int' if signed else 'uint'}{bits}"], [n]))


def _encode_value(types: Types, ftype: str, value: object, path: str, depth: int) -> bytes:
    if depth > MAX_DEPTH:
        raise _bad(path, f"nested deeper than {MAX_DEPTH} levels")
    if m := _ARRAY.match(ftype):
        inner, size = m.group(1), m.group(2)
        if not isinstance(value, list):
            raise _bad(path, f"must be a list for {ftype}")
        if size and len(value) != int(size):
            raise _bad(path, f"must have exactly {size} items for {ftype}")
        return keccak(
            b"".join(
                _encode_value(types, inner, v, f"{path}[{i}]", depth + 1)
                for i, v in enumerate(value)
            )
        )
    if ftype in types:
        return hash_struct(types, ftype, value, path, depth + 1)
    return _atomic(ftype, value, path)


def hash_struct(types: Types, t: str, value: object, path: str, depth: int = 0) -> bytes:
    if not isinstance(value, Mapping):
        raise _bad(path, f"must be an object of type {t}")
    names = {name for name, _ in types[t]}
    for k in value:
        if k not in names:
            raise _bad(f"{path}.{k}", f"is not a field of {t}")
    parts = [type_hash(types, t)]
    for name, ftype in types[t]:
        if name not in value:
            raise _bad(f"{path}.{name}", f"is missing (a field of {t})")
        parts.append(_encode_value(types, ftype, value[name], f"{path}.{name}", depth))
    return keccak(b"".join(parts))


def domain_separator(td: TypedData) -> bytes:
    return hash_struct(td.types, DOMAIN, td.domain, "domain")


def digest(td: TypedData) -> bytes:
    """The 32 bytes eth_signTypedData_v4 signs."""
    parts = [b"\x19\x01", domain_separator(td)]
    if td.primary_type != DOMAIN:
        parts.append(hash_struct(td.types, td.primary_type, td.message, "message"))
    return keccak(b"".join(parts))
