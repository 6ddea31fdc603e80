"""The deposit listener: inbound ETH transfers and ERC-20 ``Transfer`` logs to watched addresses.

It follows the chain block by block from a cursor kept in the store (the last processed block's
number and hash), at most ``window`` blocks per step, so a restart resumes where it stopped:
nothing is missed and nothing counted twice (deposits are keyed by chain, transaction hash and
log index; an ETH transfer has log index -1).

Reorgs: before each step the cursor's hash is compared with the node's canonical hash at that
height. If they differ, the listener walks back through the hashes it kept (the last
``BLOCK_HISTORY`` blocks) to the newest block both agree on, forgets every block above it and
marks their deposits DROPPED (an event each); the new blocks are then scanned like any others, so
a deposit the new chain holds again comes back. Within a step, each block's ``parentHash`` must
be the hash recorded for the block below, and every log must come from the block hash that step
read; otherwise the chain moved under us and the step is retried.

What is seen: a top-level transaction with a watched ``to``, a non-zero value and a successful
receipt; and ``Transfer(address,address,uint256)`` logs whose recipient (topic 2) is watched, from
any contract. ETH sent by a contract (an internal call) needs traces and is not seen.

Deposits are CONFIRMING, CONFIRMED and FINALIZED by the rule of :mod:`.rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mpcwallet.chain.node import Node, quantity
from mpcwallet.chain.rules import DROPPED, FINALIZED, ChainRules
from mpcwallet.chain.store import ChainStore, Deposit
from mpcwallet.errors import ChainError

# keccak256("Transfer(address,address,uint256)"), the ERC-20 event topic 0
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
DEFAULT_WINDOW = 100
MAX_STALLED_STEPS = 20
EventFn = Callable[[str], None]


class _Moved(Exception):
    """The chain changed while a step read it; the step is dropped and retried."""


@dataclass
class StepResult:
    head: int
    processed_to: int
    new: list[Deposit] = field(default_factory=list)
    dropped: list[Deposit] = field(default_factory=list)
    changed: list[Deposit] = field(default_factory=list)


def _addr_topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


class Listener:
    def __init__(
        self,
        node: Node,
        store: ChainStore,
        *,
        chain_id: int,
        addresses: Iterable[str],
        rules: ChainRules,
        window: int = DEFAULT_WINDOW,
        on_event: EventFn | None = None,
    ) -> None:
        from mpcwallet.evm.address import to_checksum

        self.node, self.store, self.chain_id, self.rules = node, store, chain_id, rules
        self.watched = {a.lower(): to_checksum(bytes.fromhex(a[2:])) for a in addresses}
        self.window = window
        self.on_event = on_event or (lambda _msg: None)

    def start_at(self, block: int) -> None:
        """Begin after ``block`` when there is no cursor yet (first run)."""
        if self.store.cursor(self.chain_id) is None:
            start_hash = self.node.block_hash(block)
            if start_hash is None:
                raise ChainError(f"block {block} is above the node's head")
            self.store.commit_blocks(self.chain_id, [(block, start_hash)], [])

    def step(self) -> StepResult:
        """Check for a reorg, scan at most ``window`` new blocks, update confirmations."""
        head = self.node.head()
        if self.store.cursor(self.chain_id) is None:
            self.start_at(head)
        dropped = self._reorg_check()
        cursor = self.store.cursor(self.chain_id)
        assert cursor is not None
        last, last_hash = cursor
        upto = min(head, last + self.window)
        new: list[Deposit] = []
        if upto > last:
            try:
                blocks, found = self._scan(last, last_hash, upto)
            except _Moved:
                return StepResult(head, last, dropped=dropped)
            new = self.store.commit_blocks(self.chain_id, blocks, found)
            for d in new:
                self.on_event(f"deposit {_describe(d)} in block {d.block_number}: {d.state}")
            last = upto
        changed = self._confirmations(head)
        return StepResult(head, last, new, dropped, changed)

    def _reorg_check(self) -> list[Deposit]:
        cursor = self.store.cursor(self.chain_id)
        assert cursor is not None
        number, recorded = cursor
        if self.node.block_hash(number) == recorded:
            return []
        lowest = self.store.lowest_block(self.chain_id) or 0
        common = None
        for n in range(number - 1, lowest - 1, -1):
            if self.node.block_hash(n) == self.store.block_hash(self.chain_id, n):
                common = n
                break
        if common is None:
            raise ChainError(
                f"a reorg replaced every block the listener kept (down to {lowest}); start "
                "again from an older block with --from-block"
            )
        detail = f"reorg: blocks {common + 1}..{number} were replaced"
        self.on_event(f"{detail}; rolling back")
        dropped = self.store.roll_back(self.chain_id, common, detail)
        for d in dropped:
            self.on_event(f"deposit {_describe(d)} dropped: its block {d.block_number} is gone")
        return dropped

    def _scan(
        self, last: int, last_hash: str, upto: int
    ) -> tuple[list[tuple[int, str]], list[Deposit]]:
        blocks: list[tuple[int, str]] = []
        found: list[Deposit] = []
        parent = last_hash
        for n in range(last + 1, upto + 1):
            block = self.node.block(n, full=True)
            if block is None or str(block.get("parentHash", "")).lower() != parent:
                raise _Moved
            parent = str(block["hash"]).lower()
            blocks.append((n, parent))
            found.extend(self._eth_deposits(n, parent, block.get("transactions") or []))
        by_number = dict(blocks)
        if not self.watched:
            return blocks, found  # nothing to ask for (an empty topic list would match any)
        logs = self.node.logs(
            {
                "fromBlock": hex(last + 1),
                "toBlock": hex(upto),
                "topics": [TRANSFER_TOPIC, None, [_addr_topic(a) for a in self.watched]],
            }
        )
        for log in logs:
            number = quantity(log.get("blockNumber"), "log blockNumber")
            if by_number.get(number) != str(log.get("blockHash", "")).lower():
                raise _Moved
            if log.get("removed"):
                continue
            deposit = self._token_deposit(log, number)
            if deposit is not None:
                found.append(deposit)
        return blocks, found

    def _eth_deposits(self, number: int, block_hash: str, txs: list[Any]) -> list[Deposit]:
        out = []
        for tx in txs:
            if not isinstance(tx, dict):
                continue
            to = str(tx.get("to") or "").lower()
            value = quantity(tx.get("value", "0x0"), "tx value")
            if to not in self.watched or value == 0:
                continue
            receipt = self.node.receipt(str(tx["hash"]))
            if receipt is None or quantity(receipt.get("status", "0x0"), "status") != 1:
                continue  # reverted: nothing arrived
            out.append(
                Deposit(
                    chain_id=self.chain_id,
                    tx_hash=str(tx["hash"]).lower(),
                    log_index=-1,
                    token=None,
                    sender=_checksum(str(tx.get("from", ""))),
                    recipient=self.watched[to],
                    amount=value,
                    block_number=number,
                    block_hash=block_hash,
                    state="CONFIRMING",
                )
            )
        return out

    def _token_deposit(self, log: dict[str, Any], number: int) -> Deposit | None:
        topics = log.get("topics") or []
        data = str(log.get("data", "0x"))
        if len(topics) != 3 or len(data) != 66:  # ERC-721 Transfer has 4 topics, no data
            return None
        recipient = "0x" + str(topics[2])[-40:].lower()
        if recipient not in self.watched:
            return None
        return Deposit(
            chain_id=self.chain_id,
            tx_hash=str(log["transactionHash"]).lower(),
            log_index=quantity(log.get("logIndex"), "logIndex"),
            token=_checksum(str(log.get("address", ""))),
            sender=_checksum("0x" + str(topics[1])[-40:]),
            recipient=self.watched[recipient],
            amount=int(data, 16),
            block_number=number,
            block_hash=str(log["blockHash"]).lower(),
            state="CONFIRMING",
        )

    def _confirmations(self, head: int) -> list[Deposit]:
        finalized = self.node.finalized()
        cursor = self.store.cursor(self.chain_id)
        changed = []
        for d in self.store.deposits(self.chain_id):
            if d.state in (FINALIZED, DROPPED) or cursor is None or d.block_number > cursor[0]:
                continue
            state = self.rules.state_at(d.block_number, head, finalized)
            if state != d.state:
                changed.append(self.store.set_deposit_state(d, state))
                self.on_event(f"deposit {_describe(d)}: {d.state} -> {state}")
        return changed

    def catch_up(self) -> StepResult:
        """Steps until the cursor is at the head; the union of what they found."""
        total = StepResult(0, 0)
        stalled = 0
        while True:
            result = self.step()
            stalled = stalled + 1 if result.processed_to < result.head and not result.new else 0
            if stalled > MAX_STALLED_STEPS:
                raise ChainError(
                    f"the node's chain kept changing while blocks above {result.processed_to} "
                    "were read; try again"
                )
            total.head, total.processed_to = result.head, result.processed_to
            total.new += result.new
            total.dropped += result.dropped
            total.changed += result.changed
            if result.processed_to >= result.head:
                return total


def _checksum(address: str) -> str | None:
    from mpcwallet.evm.address import to_checksum

    text = address.lower()
    if len(text) != 42 or not text.startswith("0x"):
        return None
    try:
        return to_checksum(bytes.fromhex(text[2:]))
    except ValueError:
        return None


def _describe(d: Deposit) -> str:
    what = "wei ETH" if d.token is None else f"units of token {d.token}"
    return f"{d.amount} {what} to {d.recipient} ({d.tx_hash})"
