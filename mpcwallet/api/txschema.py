"""The JSON schema of a transaction (tx.json) in the OpenAPI document, field by field.

Requests are validated by the wallet's own parser (:func:`mpcwallet.evm.txjson.parse_tx`, whose
messages name the field); this schema says what it accepts, with examples. Answers give amounts
in wei as decimal strings (a JavaScript number loses precision above 2^53 wei).
"""

from __future__ import annotations

from typing import Any

_INT = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]}
_AMOUNT_DOC = (
    "wei as an integer, a decimal string or 0x-hex, or with a unit (case-insensitive): "
    '"0.01 ETH", "0.01eth", "0.01 ether", "30 gwei", "30gwei". A decimal without a unit is refused.'
)


def _field(kind: dict[str, Any], description: str, *examples: Any) -> dict[str, Any]:
    return {**kind, "description": description, "examples": list(examples)}


_ADDRESS = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}

TX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Transaction",
    "description": "An EIP-1559 (type 2, default) or legacy EIP-155 (type 0) transaction. "
    "nonce, gas and the fee fields may be left out: the node fills them (rpc_url).",
    "required": ["chainId"],
    "additionalProperties": False,
    "properties": {
        "type": _field({"enum": [0, 2]}, "2: EIP-1559 (default); 0: legacy with gasPrice.", 2),
        "chainId": _field(_INT, "The chain (1 mainnet, 11155111 Sepolia).", 11155111),
        "from": _field(_ADDRESS, "Optional: refused unless it is the account's address.",
                       "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        "to": _field({"anyOf": [_ADDRESS, {"type": "null"}]},
                     "Recipient (EIP-55 checksum if mixed case); absent or null creates a "
                     "contract from data.", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        "value": _field(_INT, "Amount sent: " + _AMOUNT_DOC, "0.01 ETH", "10000000000000000"),
        "data": _field({"type": "string", "pattern": "^0x([0-9a-fA-F]{2})*$"},
                       "Call data or init code, 0x-hex (at most 128 KiB).", "0x"),
        "nonce": _field(_INT, "The account's next nonce; else filled by the node.", 0),
        "gas": _field(_INT, "Gas limit; else estimated by the node.", 21000),
        "maxFeePerGas": _field(_INT, "Type 2: most paid per gas, " + _AMOUNT_DOC, "30 gwei"),
        "maxPriorityFeePerGas": _field(_INT, "Type 2: tip per gas, " + _AMOUNT_DOC, "1 gwei"),
        "gasPrice": _field(_INT, "Type 0: price per gas, " + _AMOUNT_DOC, "20 gwei"),
        "accessList": _field(
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["address", "storageKeys"],
                    "properties": {
                        "address": _ADDRESS,
                        "storageKeys": {
                            "type": "array",
                            "items": {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"},
                        },
                    },
                },
            },
            "Type 2: EIP-2930 access list.",
            [],
        ),
    },
    "examples": [
        {"chainId": 11155111, "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
         "value": "0.01 ETH"},
        {"type": 2, "chainId": 11155111, "nonce": 0,
         "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "value": "10000000000000000",
         "data": "0x", "gas": 21000, "maxFeePerGas": "30 gwei", "maxPriorityFeePerGas": "1 gwei"},
    ],
}  # fmt: skip

_DECIMAL = {"type": "string", "pattern": "^[0-9]+$"}

# The complete transaction as an answer gives it: amounts in wei as decimal strings.
TX_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "CompleteTransaction",
    "description": "The transaction as signed; amounts in wei as decimal strings.",
    "properties": {
        "type": {"enum": [0, 2]},
        "chainId": {"type": "integer"},
        "from": _ADDRESS,
        "nonce": {"type": "integer"},
        "to": _ADDRESS,
        "value": {**_DECIMAL, "examples": ["10000000000000000"]},
        "data": {"type": "string"},
        "gas": {"type": "integer"},
        "maxFeePerGas": {**_DECIMAL, "examples": ["30000000000"]},
        "maxPriorityFeePerGas": {**_DECIMAL, "examples": ["1000000000"]},
        "gasPrice": _DECIMAL,
        "accessList": {"type": "array"},
    },
    "required": ["chainId", "value", "data"],
}
