"""After a receipt wait times out: the transaction was sent; say so, and how to check it."""

from __future__ import annotations

from mpcwallet.errors import NotYetMined, PeerTimeout


def not_yet_mined(exc: PeerTimeout, tx_hash: bytes, raw: bytes) -> NotYetMined:
    """Never "not broadcast" for a sent transaction: the hash, and the command that checks it.

    Re-sending the same raw transaction is harmless (the node answers "already known") and
    ``--wait`` then prints the receipt once it is mined.
    """
    return NotYetMined(
        f"sent, not yet mined: 0x{tx_hash.hex()} ({exc.message.split(';')[0]}). It may still be "
        f"mined; check it with: mpc broadcast --raw 0x{raw.hex()} --wait",
        field="receipt",
    )
