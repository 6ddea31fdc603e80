"""States of a sent transaction or a deposit, and the rule that moves them.

Outgoing transactions::

    BROADCAST --mined--> CONFIRMING --N blocks--> CONFIRMED --finalized--> FINALIZED
        ^                    |                        |
        +---- reorg: the receipt vanished or moved ---+      (FINALIZED is never reverted)

    BROADCAST --another tx of ours mined at its nonce--> REPLACED
    BROADCAST --the node refused it for good (nonce too low, funds)--> FAILED

Deposits use CONFIRMING, CONFIRMED, FINALIZED and DROPPED (its block left the chain).

CONFIRMED: the block holding it has at least ``confirmations`` blocks on top, itself included
(``head - block + 1 >= N``). FINALIZED: the block is at or below the node's ``finalized``
block (the consensus layer's finality, EIP-1898 block tag ``finalized``), or, on a node that
has no such tag, at least ``finality_depth`` blocks deep.

Per-chain values come from ``MPC_HOME/chains.toml``::

    [11155111]
    confirmations = 3
    finality_depth = 64

Without an entry: 1 confirmation (what ``mpc send`` always waited for) and a depth of 64 blocks
(two epochs of 32 slots, when proof-of-stake finality normally lands).
"""

from __future__ import annotations

from dataclasses import dataclass

from mpcwallet.errors import FileFormatError

BROADCAST = "BROADCAST"
CONFIRMING = "CONFIRMING"
CONFIRMED = "CONFIRMED"
FINALIZED = "FINALIZED"
REPLACED = "REPLACED"
FAILED = "FAILED"
DROPPED = "DROPPED"

PENDING = (BROADCAST, CONFIRMING)  # sent and not yet confirmed: a duplicate would pay twice
UNMINED = (BROADCAST,)
DONE = (FINALIZED, REPLACED, FAILED)  # never polled again
ORDER = {BROADCAST: 0, CONFIRMING: 1, CONFIRMED: 2, FINALIZED: 3}

DEFAULT_CONFIRMATIONS = 1
DEFAULT_FINALITY_DEPTH = 64
FILE_NAME = "chains.toml"


@dataclass(frozen=True)
class ChainRules:
    confirmations: int = DEFAULT_CONFIRMATIONS
    finality_depth: int = DEFAULT_FINALITY_DEPTH

    def with_confirmations(self, n: int | None) -> ChainRules:
        return self if n is None else ChainRules(n, self.finality_depth)

    def state_at(self, block: int, head: int, finalized: int | None) -> str:
        """The state of something mined in ``block`` when the chain is at ``head`` and the
        node's finalized block is ``finalized`` (None: the node has no finality tag)."""
        depth = head - block + 1
        final = finalized if finalized is not None else head - self.finality_depth + 1
        if block <= final and depth >= 1:
            return FINALIZED
        return CONFIRMED if depth >= self.confirmations else CONFIRMING


def rules_for(chain_id: int) -> ChainRules:
    """The rule for ``chain_id`` from ``MPC_HOME/chains.toml`` (absent: the defaults)."""
    import tomllib

    from mpcwallet.config import mpc_home

    path = mpc_home() / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ChainRules()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror})", field=str(path)) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileFormatError(f"{path}: not TOML ({exc})", field=str(path)) from None
    entry = doc.get(str(chain_id))
    if entry is None:
        return ChainRules()
    if not isinstance(entry, dict) or set(entry) - {"confirmations", "finality_depth"}:
        raise FileFormatError(
            f"{path}: [{chain_id}] takes only confirmations and finality_depth", field=str(path)
        )
    values = {}
    for name in ("confirmations", "finality_depth"):
        value = entry.get(name, getattr(ChainRules(), name))
        if type(value) is not int or not 1 <= value <= 10_000:
            raise FileFormatError(
                f"{path}: [{chain_id}] {name} must be an integer from 1 to 10000",
                field=f"{chain_id}.{name}",
            )
        values[name] = value
    return ChainRules(**values)
