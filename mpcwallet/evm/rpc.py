"""Ethereum JSON-RPC: chain id check, filling nonce/gas/fees, broadcast with retries, receipts.

JSON-RPC over HTTP POST with ``requests`` (imported only when an endpoint is used; web3's
``HTTPProvider`` did the same at ~1 s of import). This module owns the retry policy and
classifies failures:

* transient (retried with exponential backoff, bounded in total time): timeouts, connection
  reset, HTTP 5xx and 429, JSON-RPC -32005 (rate limit); a refused connection only for half a
  second (nothing listens there: say so at once);
* permanent: everything the node answers with a JSON-RPC error. The common ones map to
  :class:`NonceTooLow`, :class:`InsufficientFunds`, :class:`Underpriced`,
  :class:`ChainIdMismatch` with what to do; "already known" counts as success.

No terminal I/O: progress goes through the ``on_event`` callback the caller supplies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mpcwallet.errors import (
    ChainError,
    ChainIdMismatch,
    InsufficientFunds,
    NonceTooLow,
    PeerTimeout,
    RpcUnavailable,
    TransientError,
    TxReverted,
    Underpriced,
)
from mpcwallet.evm.address import keccak, to_checksum
from mpcwallet.evm.endpoint import (  # noqa: F401 - re-exported for callers
    DEFAULT_RETRY_SECONDS,
    resolve_rpc_url,
    retry_seconds_from_env,
)
from mpcwallet.evm.txjson import TYPE_1559, UnsignedTx

DEFAULT_REQUEST_TIMEOUT = 10.0
# A refused connection means nothing listens there: a few quick attempts (a node restarting),
# then a clear error, instead of the whole retry window meant for overloaded or flaky nodes.
REFUSED_RETRY_SECONDS = 0.5
DEFAULT_PRIORITY_FEE = 1_000_000_000  # 1 gwei, when the node has no eth_maxPriorityFeePerGas
RATE_LIMIT_CODE = -32005  # EIP-1474 "limit exceeded"

EventFn = Callable[[str], None]


class _Transient(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RpcCallError(Exception):
    """The node answered with a JSON-RPC error object."""

    code: int
    message: str

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})"


def _redact_url(url: str) -> str:
    """Scheme, host and port only: RPC URLs often carry an API key in the path or query."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


class RpcClient:
    def __init__(
        self,
        url: str,
        *,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        on_event: EventFn | None = None,
        refused_seconds: float = REFUSED_RETRY_SECONDS,
    ) -> None:
        self.url = url
        self.display_url = _redact_url(url)
        self.retry_seconds = retry_seconds
        self.refused_seconds = min(refused_seconds, retry_seconds)
        self.request_timeout = request_timeout
        self.on_event = on_event or (lambda _msg: None)
        self._http: Any = None
        self._ids = 0

    # -- transport ---------------------------------------------------------------------------

    def _provider(self) -> Any:
        """A ``requests`` session (keep-alive). Plain JSON-RPC over HTTP POST: web3's
        ``HTTPProvider`` did the same at ~1 s of import, most of a failing command's time."""
        if self._http is None:
            import requests

            self._http = requests.Session()
            self._http.headers["Content-Type"] = "application/json"
        return self._http

    def _post_once(self, method: str, params: list[Any]) -> Any:
        import requests

        self._ids += 1
        body = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
        try:
            resp = self._provider().post(self.url, json=body, timeout=self.request_timeout)
            resp.raise_for_status()
            obj = resp.json()
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 429 or status >= 500:
                raise _Transient(f"HTTP {status}") from None
            raise ChainError(
                f"the RPC endpoint {self.display_url} answered HTTP {status}; check the URL"
            ) from None
        except requests.Timeout:
            raise _Transient("timeout") from None
        except requests.ConnectionError as exc:
            refused = "refused" in str(exc).lower()
            raise _Transient("connection refused" if refused else "unreachable") from None
        except (ValueError, UnicodeDecodeError):
            raise ChainError(
                f"the RPC endpoint {self.display_url} did not answer JSON-RPC"
            ) from None
        if not isinstance(obj, dict):
            raise ChainError(f"the RPC endpoint {self.display_url} sent a malformed answer")
        err = obj.get("error")
        if err is not None:
            code = err.get("code", 0) if isinstance(err, dict) else 0
            message = str(err.get("message", "")) if isinstance(err, dict) else str(err)
            code_int = int(code) if isinstance(code, int) else 0
            if code_int == RATE_LIMIT_CODE or "rate limit" in message.lower():
                raise _Transient("rate limited")  # EIP-1474 -32005: limit exceeded
            raise RpcCallError(code_int, message[:500])
        return obj.get("result")

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call, retried on transient failures.

        Timeouts, HTTP 5xx/429 and rate limits are retried with exponential backoff within
        ``retry_seconds``; a refused connection (nothing listens there) only within
        ``refused_seconds`` (half a second), then fails saying so. Each retry is reported
        through ``on_event`` with the bound. The retry window opens at the first failure, so
        the first attempt's own cost (the lazy web3 import, a slow connect) never eats the
        retries it bounds.
        """
        start: float | None = None
        delay = 0.1
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._post_once(method, list(params))
            except _Transient as exc:
                now = time.monotonic()
                if start is None:
                    start = now
                refused = exc.reason == "connection refused"
                bound = self.refused_seconds if refused else self.retry_seconds
                remaining = start + bound - now
                if remaining <= 0:
                    raise self._gave_up(exc.reason, attempt, now - start) from None
                wait = min(delay, remaining)
                self.on_event(
                    f"rpc: {method}: {exc.reason}; retry {attempt} in {wait:.2g} s "
                    f"(giving up after {bound:g} s)"
                )
                time.sleep(wait)
                delay = min(delay * 2, 4.0)

    def _gave_up(self, reason: str, attempts: int, waited: float) -> TransientError:
        where = f"the RPC endpoint {self.display_url}"
        tried = f"{attempts} attempt(s) over {waited:.1f} s"
        if reason == "connection refused":
            return RpcUnavailable(
                f"{where} refused the connection ({tried}): no node is listening there. Start "
                "the node, or fix --rpc-url / MPC_RPC_URL"
            )
        cls = PeerTimeout if reason == "timeout" else RpcUnavailable
        return cls(
            f"{where} is unavailable ({reason}) after {tried}; check that the node is running "
            "and reachable, then rerun (raise the bound with --timeout or "
            "MPC_RPC_RETRY_SECONDS)"
        )

    # -- queries -------------------------------------------------------------------------------

    def _quantity(self, method: str, *params: Any) -> int:
        result = self.call(method, *params)
        if not isinstance(result, str) or not result.startswith("0x"):
            raise ChainError(f"{method}: the node answered {result!r}, not a quantity")
        return int(result, 16)

    def chain_id(self) -> int:
        return self._quantity("eth_chainId")

    def check_chain_id(self, expected: int) -> None:
        got = self.chain_id()
        if got != expected:
            raise ChainIdMismatch(
                f"the RPC endpoint {self.display_url} serves chain id {got} but the "
                f"transaction is for chainId {expected}; use an endpoint for chain {expected} "
                "or fix chainId in tx.json"
            )

    def balance(self, address: str) -> int:
        return self._quantity("eth_getBalance", address, "latest")

    def pending_nonce(self, address: str) -> int:
        return self._quantity("eth_getTransactionCount", address, "pending")

    def fill(self, tx: UnsignedTx, sender: bytes) -> tuple[UnsignedTx, dict[str, int]]:
        """Fill nonce, gas and fees that tx.json left out; return the tx and what was filled."""
        self.check_chain_id(tx.chain_id)
        sender_hex = to_checksum(sender)
        filled: dict[str, int] = {}
        if tx.nonce is None:
            filled["nonce"] = self.pending_nonce(sender_hex)
        if tx.type == TYPE_1559:
            if tx.max_priority_fee_per_gas is None:
                try:
                    tip = self._quantity("eth_maxPriorityFeePerGas")
                except RpcCallError:
                    tip = DEFAULT_PRIORITY_FEE
                if tx.max_fee_per_gas is not None:
                    tip = min(tip, tx.max_fee_per_gas)
                filled["maxPriorityFeePerGas"] = tip
            if tx.max_fee_per_gas is None:
                block = self.call("eth_getBlockByNumber", "latest", False)
                base = block.get("baseFeePerGas") if isinstance(block, dict) else None
                if not isinstance(base, str):
                    raise ChainError(
                        "the node's latest block has no base fee (pre-London chain); "
                        'use a legacy transaction: "type": 0 with gasPrice'
                    )
                tip = filled.get("maxPriorityFeePerGas", tx.max_priority_fee_per_gas or 0)
                filled["maxFeePerGas"] = 2 * int(base, 16) + tip
        elif tx.gas_price is None:
            filled["gasPrice"] = self._quantity("eth_gasPrice")
        if tx.gas is None:
            call: dict[str, Any] = {"from": sender_hex, "value": hex(tx.value)}
            if tx.to is not None:
                call["to"] = to_checksum(tx.to)
            if tx.data:
                call["data"] = "0x" + tx.data.hex()
            try:
                filled["gas"] = self._quantity("eth_estimateGas", call)
            except RpcCallError as exc:
                raise classify_send_error(exc, "gas estimation") from None
        attr = {
            "nonce": "nonce",
            "gas": "gas",
            "maxFeePerGas": "max_fee_per_gas",
            "maxPriorityFeePerGas": "max_priority_fee_per_gas",
            "gasPrice": "gas_price",
        }
        return tx.with_fields(**{attr[k]: v for k, v in filled.items()}), filled

    # -- broadcast -------------------------------------------------------------------------------

    def send_raw(self, raw: bytes) -> bytes:
        """Broadcast; returns the tx hash. "already known" is success."""
        tx_hash = keccak(raw)
        try:
            result = self.call("eth_sendRawTransaction", "0x" + raw.hex())
        except RpcCallError as exc:
            text = exc.message.lower()
            # geth/erigon "already known", anvil "already imported", parity "known transaction"
            if any(
                marker in text
                for marker in ("already known", "already imported", "known transaction")
            ):
                self.on_event("rpc: the node already knows this transaction")
                return tx_hash
            err = classify_send_error(exc, "broadcast")
            if isinstance(err, NonceTooLow) and self.transaction_known(tx_hash):
                # an earlier attempt of ours got through (e.g. its answer was lost) and mined
                self.on_event("rpc: this transaction is already on chain")
                return tx_hash
            raise err from None
        if isinstance(result, str) and result.lower() != "0x" + tx_hash.hex():
            raise ChainError(f"the node returned hash {result}, expected 0x{tx_hash.hex()}")
        return tx_hash

    def transaction_known(self, tx_hash: bytes) -> bool:
        try:
            return self.call("eth_getTransactionByHash", "0x" + tx_hash.hex()) is not None
        except RpcCallError:
            return False

    def wait_receipt(
        self, tx_hash: bytes, *, confirmations: int = 1, timeout: float = 120.0
    ) -> dict[str, Any]:
        """Poll until the receipt has ``confirmations`` blocks; TxReverted on status 0."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        hash_hex = "0x" + tx_hash.hex()
        while True:
            receipt = self.call("eth_getTransactionReceipt", hash_hex)
            if isinstance(receipt, dict) and receipt.get("blockNumber"):
                mined_in = int(receipt["blockNumber"], 16)
                head = self._quantity("eth_blockNumber")
                if head - mined_in + 1 >= confirmations:
                    summary = {
                        "hash": hash_hex,
                        "status": int(receipt.get("status", "0x0"), 16),
                        "block": mined_in,
                        "gas_used": int(receipt.get("gasUsed", "0x0"), 16),
                        "effective_gas_price": int(receipt.get("effectiveGasPrice", "0x0"), 16),
                        "confirmations": head - mined_in + 1,
                        "contract_address": receipt.get("contractAddress"),
                    }
                    if summary["status"] != 1:
                        raise TxReverted(
                            f"transaction {hash_hex} was mined in block {mined_in} but reverted "
                            f"(gas used {summary['gas_used']}); the fee is spent, the transfer "
                            "did not happen. Check the call (balance, allowance, recipient)."
                        )
                    return summary
            if time.monotonic() >= deadline:
                raise PeerTimeout(
                    f"transaction {hash_hex} has no receipt with {confirmations} confirmation(s) "
                    f"after {timeout:g} s; it may still be mined: rerun `mpc broadcast` with the "
                    "same input (already-known transactions are fine) or check an explorer"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


def classify_send_error(exc: RpcCallError, what: str) -> ChainError:
    """Map a node's refusal to one of our permanent errors, with what to do."""
    text = exc.message.lower()
    node = f"(node said: {exc.message})"
    if "nonce too low" in text or "nonce is too low" in text or "noncetoolow" in text:
        return NonceTooLow(
            f"{what} refused: nonce too low, this nonce was already used {node}. Remove "
            "'nonce' from tx.json (or set the account's next nonce) and sign again."
        )
    if "insufficient funds" in text or "insufficientfunds" in text or "lack of funds" in text:
        return InsufficientFunds(
            f"{what} refused: insufficient funds for value + gas * max fee {node}. Fund the "
            "wallet address (`mpc address`) or lower value/fees."
        )
    if "underpriced" in text or "fee cap" in text or "less than block base fee" in text:
        return Underpriced(
            f"{what} refused: fee too low {node}. Raise maxFeePerGas/maxPriorityFeePerGas "
            "(or gasPrice), or leave them out to have them filled from the node, and sign again."
        )
    if "chain id" in text or "chainid" in text or "chain_id" in text:
        return ChainIdMismatch(
            f"{what} refused: wrong chain id {node}. Use an RPC endpoint of the chain the "
            "transaction was signed for."
        )
    return ChainError(f"{what} refused by the node {node}")
