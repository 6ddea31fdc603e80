"""Errors from the chain: it refuses or contradicts what we are about to do (exit 8)."""

from __future__ import annotations

from mpcwallet.errors.base import MpcError


class ChainError(MpcError):
    """The chain refused or contradicts what we are about to do."""

    code = "chain_error"
    exit_code = 8


class ChainIdMismatch(ChainError):
    code = "chain_id_mismatch"


class NonceTooLow(ChainError):
    code = "nonce_too_low"


class InsufficientFunds(ChainError):
    code = "insufficient_funds"


class Underpriced(ChainError):
    code = "underpriced"


class TxReverted(ChainError):
    code = "tx_reverted"


class NonceInUse(ChainError):  # a pending tx of ours has it: a signature would replace it
    code = "nonce_in_use"


class NonceGap(ChainError):  # it skips unused nonces: the tx would wait in the node's queue
    code = "nonce_gap"


class NotPending(ChainError):  # a speed-up or cancel of a transaction no longer pending
    code = "not_pending"


class NotAContract(ChainError):
    """A token call aimed at an address with no code: it would be mined and move nothing."""

    code = "not_a_contract"
