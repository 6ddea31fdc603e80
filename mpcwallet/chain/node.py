"""The JSON-RPC reads the chain layer makes, over :class:`mpcwallet.evm.rpc.RpcClient`
(which owns retries and error classes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mpcwallet.errors import ChainError

if TYPE_CHECKING:
    from mpcwallet.evm.rpc import RpcClient


def quantity(value: object, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainError(f"{what}: the node answered {value!r}, not a quantity")
    return int(value, 16)


class Node:
    def __init__(self, client: RpcClient) -> None:
        self.client = client
        self._has_finality: bool | None = None

    @property
    def display_url(self) -> str:
        return self.client.display_url

    def head(self) -> int:
        return quantity(self.client.call("eth_blockNumber"), "eth_blockNumber")

    def block(self, number: int, *, full: bool = False) -> dict[str, Any] | None:
        block = self.client.call("eth_getBlockByNumber", hex(number), full)
        return block if isinstance(block, dict) else None

    def block_hash(self, number: int) -> str | None:
        """The canonical hash at height ``number`` now (None above the head)."""
        block = self.block(number)
        value = block.get("hash") if block else None
        return value.lower() if isinstance(value, str) else None

    def finalized(self) -> int | None:
        """The node's ``finalized`` block number, or None when it has no such tag (then the
        rule's depth stands in). Asked once per Node whether the tag exists."""
        from mpcwallet.evm.rpc import RpcCallError

        if self._has_finality is False:
            return None
        try:
            block = self.client.call("eth_getBlockByNumber", "finalized", False)
        except RpcCallError:
            self._has_finality = False
            return None
        if not isinstance(block, dict):
            return None  # the tag exists, nothing is final yet (a young chain)
        self._has_finality = True
        return quantity(block.get("number"), "finalized block")

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        receipt = self.client.call("eth_getTransactionReceipt", tx_hash)
        if isinstance(receipt, dict) and receipt.get("blockNumber") and receipt.get("blockHash"):
            return receipt
        return None

    def account_nonce(self, address: str, tag: str = "latest") -> int:
        return quantity(
            self.client.call("eth_getTransactionCount", address, tag), "eth_getTransactionCount"
        )

    def knows(self, tx_hash: bytes) -> bool:
        return self.client.transaction_known(tx_hash)

    def logs(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        logs = self.client.call("eth_getLogs", flt)
        if not isinstance(logs, list):
            raise ChainError(f"eth_getLogs: the node answered {type(logs).__name__}, not a list")
        return [log for log in logs if isinstance(log, dict)]


def receipt_summary(receipt: dict[str, Any], head: int) -> dict[str, Any]:
    """The receipt as ``mpc send``/``broadcast`` print it."""
    block = quantity(receipt["blockNumber"], "receipt blockNumber")
    return {
        "hash": str(receipt.get("transactionHash", "")).lower(),
        "status": quantity(receipt.get("status", "0x0"), "receipt status"),
        "block": block,
        "block_hash": str(receipt["blockHash"]).lower(),
        "gas_used": quantity(receipt.get("gasUsed", "0x0"), "receipt gasUsed"),
        "effective_gas_price": quantity(
            receipt.get("effectiveGasPrice", "0x0"), "receipt effectiveGasPrice"
        ),
        "confirmations": head - block + 1,
        # a contract creation: where the contract now lives (EIP-55), else None
        "contract_address": _checksum_or_none(receipt.get("contractAddress")),
    }


def _checksum_or_none(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    from mpcwallet.evm.address import parse_address, to_checksum

    return to_checksum(parse_address(value, "receipt contractAddress"))
