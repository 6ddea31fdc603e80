"""Keccak-256 (``mpcwallet.evm.address.keccak``, eth-hash's pysha3 backend) against published
values and against eth-hash's other backend (pycryptodome, what eth-account uses)."""

from __future__ import annotations

from eth_hash.backends.pycryptodome import keccak256 as pycryptodome_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from mpcwallet.evm.address import keccak


def test_published_values() -> None:
    # Keccak-256 of the empty string: Ethereum's empty code hash (the Yellow Paper's KEC(()),
    # e.g. eth_getProof's codeHash of an account without code).
    assert keccak(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    # ERC-20's Transfer event topic (EIP-20): keccak256("Transfer(address,address,uint256)").
    assert (
        keccak(b"Transfer(address,address,uint256)").hex()
        == "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    )


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600))  # across several 136-byte rate blocks
def test_same_as_pycryptodome(data: bytes) -> None:
    assert keccak(data) == pycryptodome_keccak(data)
