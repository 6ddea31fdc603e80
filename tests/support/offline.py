"""An offline wallet home for hostile-input tests: a share header we can read, no co-signer.

The share is a real encrypted share file (storage.store.save_share) whose header holds a real
secp256k1 public key and its address; its key blob is a stand-in (refused as
``key_blob_mismatch`` if a command gets that far), and the co-signer URL points at a closed
port: a valid input ends there, never in a signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

DEV_KEY = "0x" + "11" * 32
DEV_TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CHAIN_ID = 11155111
# A complete EIP-1559 tx.json: nothing is left for an RPC endpoint to fill.
VALID_TX: dict[str, object] = {
    "type": 2,
    "chainId": CHAIN_ID,
    "nonce": 0,
    "to": DEV_TO,
    "value": 1,
    "data": "0x",
    "gas": 21000,
    "maxFeePerGas": 10**10,
    "maxPriorityFeePerGas": 10**9,
}


@dataclass
class Home:
    """An MPC_HOME with a client share, a work directory for input files, and the env to use."""

    home: Path
    work: Path
    share: Path
    address: str
    env: dict[str, str]

    def dirs(self) -> list[Path]:
        return [self.home, self.work]


def signed_raw(**fields: object) -> str:
    """A valid signed EIP-1559 raw transaction (hex) from a throwaway key."""
    tx = {
        "chainId": CHAIN_ID,
        "nonce": 0,
        "to": DEV_TO,
        "value": 1,
        "gas": 21000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
        **fields,
    }
    return "0x" + bytes(Account.from_key(DEV_KEY).sign_transaction(tx).raw_transaction).hex()
