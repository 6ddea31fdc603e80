"""A raw signed transaction -> (unsigned transaction, y_parity, r, s): the inverse of
:func:`mpcwallet.evm.txjson.encode_signed` (EIP-2718/EIP-1559 type 2, and EIP-155 legacy).

Every refusal is a :class:`BadInput` with field ``raw``.
"""

from __future__ import annotations

from mpcwallet.errors import BadInput
from mpcwallet.evm import rlp
from mpcwallet.evm.txjson import TYPE_1559, TYPE_LEGACY, UnsignedTx


def _int_item(item: rlp.Item, name: str) -> int:
    if not isinstance(item, bytes):
        raise rlp.RlpError(f"{name}: expected a string")
    if len(item) > 32:  # every integer field of a transaction is at most uint256
        raise rlp.RlpError(f"{name}: longer than 32 bytes")
    return rlp.bytes_int(item)


def decode_signed(raw: bytes) -> tuple[UnsignedTx, int, int, int]:
    """Parse a raw signed transaction into (unsigned tx, y_parity, r, s).

    Used to check what we assembled before it is written, and to read ``mpc broadcast`` input.
    Raises :class:`BadInput` (field ``raw``) on anything that is not a type 2 or EIP-155 tx.
    """
    try:
        if raw[:1] == bytes([TYPE_1559]):
            items = rlp.decode(raw[1:])
            if not isinstance(items, list) or len(items) != 12:
                raise rlp.RlpError("a type 2 transaction has 12 fields")
            names = ("chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas")
            ints = [_int_item(items[i], n) for i, n in enumerate(names)]
            to_item, value_item, data_item, access_item = items[5:9]
            access: list[tuple[bytes, tuple[bytes, ...]]] = []
            if not isinstance(access_item, list):
                raise rlp.RlpError("accessList: expected a list")
            for entry in access_item:
                if not (isinstance(entry, list) and len(entry) == 2):
                    raise rlp.RlpError("accessList entry")
                addr, keys = entry
                if not (isinstance(addr, bytes) and len(addr) == 20 and isinstance(keys, list)):
                    raise rlp.RlpError("accessList entry")
                if not all(isinstance(k, bytes) and len(k) == 32 for k in keys):
                    raise rlp.RlpError("accessList storage key")
                access.append((addr, tuple(k for k in keys if isinstance(k, bytes))))
            y_parity = _int_item(items[9], "yParity")
            r, s = _int_item(items[10], "r"), _int_item(items[11], "s")
            tx_type = TYPE_1559
        elif raw[:1] and raw[0] >= 0xC0:
            items = rlp.decode(raw)
            if not isinstance(items, list) or len(items) != 9:
                raise rlp.RlpError("a legacy transaction has 9 fields")
            nonce, gas_price, gas = (_int_item(items[i], n) for i, n in enumerate("ngg"))
            to_item, value_item, data_item = items[3:6]
            v = _int_item(items[6], "v")
            r, s = _int_item(items[7], "r"), _int_item(items[8], "s")
            if v < 37:
                raise rlp.RlpError("v: not an EIP-155 transaction (no chain id)")
            chain_id, y_parity = (v - 35) // 2, (v - 35) % 2
            ints = [chain_id, nonce, gas_price, gas]
            tx_type = TYPE_LEGACY
        else:
            raise rlp.RlpError("unknown transaction type")
        if not isinstance(to_item, bytes) or len(to_item) not in (0, 20):
            raise rlp.RlpError("to: expected 0 or 20 bytes")
        if not isinstance(data_item, bytes):
            raise rlp.RlpError("data: expected a string")
        value = _int_item(value_item, "value")
    except rlp.RlpError as exc:
        raise BadInput(f"raw transaction: not decodable ({exc})", field="raw") from None
    if y_parity not in (0, 1):
        raise BadInput("raw transaction: signature parity is not 0 or 1", field="raw")
    common = {"to": to_item or None, "value": value, "data": data_item}
    if tx_type == TYPE_1559:
        tx = UnsignedTx(
            type=TYPE_1559,
            chain_id=ints[0],
            nonce=ints[1],
            max_priority_fee_per_gas=ints[2],
            max_fee_per_gas=ints[3],
            gas=ints[4],
            access_list=tuple(access),
            **common,  # type: ignore[arg-type]
        )
    else:
        tx = UnsignedTx(
            type=TYPE_LEGACY,
            chain_id=ints[0],
            nonce=ints[1],
            gas_price=ints[2],
            gas=ints[3],
            **common,  # type: ignore[arg-type]
        )
    return tx, y_parity, r, s
