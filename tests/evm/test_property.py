"""Property: any valid tx.json -> two-party signature -> raw tx that eth-account decodes to the
same fields, recovering to the wallet address, with low s. In-process (both parties over the
in-memory transport), one key generation per engine.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction
from eth_account.typed_transactions import TypedTransaction
from evm.test_txjson import tx_dicts
from hexbytes import HexBytes
from hypothesis import HealthCheck, given, settings

from mpcwallet.engine import available_engines, get_engine
from mpcwallet.engine.memory import run_two_party
from mpcwallet.evm.address import address_from_public_key
from mpcwallet.evm.signature import HALF_N, assemble
from mpcwallet.evm.txjson import parse_tx, signing_digest

_keys: dict[str, tuple[bytes, bytes, bytes]] = {}


def wallet(name: str) -> tuple[bytes, bytes, bytes]:
    if name not in _keys:
        engine = get_engine(name)
        b1, b2 = run_two_party(engine.dkg, engine.dkg)
        _keys[name] = (b1, b2, engine.public_key(b1))
    return _keys[name]


@pytest.mark.parametrize("engine_name", available_engines())
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=tx_dicts())
def test_signed_tx_decodes_back(engine_name: str, obj: dict[str, Any]) -> None:
    engine = get_engine(engine_name)
    b1, b2, public_key = wallet(engine_name)
    tx = parse_tx(obj)
    digest = signing_digest(tx)
    der, none = run_two_party(
        lambda job: engine.sign(job, b1, digest), lambda job: engine.sign(job, b2, digest)
    )
    assert none is None and der is not None
    signed = assemble(tx, der, public_key)
    address = address_from_public_key(public_key)
    assert signed.sender == address
    assert Account.recover_transaction(signed.raw) == address
    assert signed.s <= HALF_N
    if tx.type == 2:
        fields = TypedTransaction.from_bytes(HexBytes(signed.raw)).as_dict()
        assert fields["maxFeePerGas"] == tx.max_fee_per_gas
        assert fields["maxPriorityFeePerGas"] == tx.max_priority_fee_per_gas
        assert fields["chainId"] == tx.chain_id and fields["s"] == signed.s
        assert len(fields["accessList"]) == len(tx.access_list)
    else:
        fields = Transaction.from_bytes(signed.raw).as_dict()
        assert fields["gasPrice"] == tx.gas_price
        assert fields["v"] == 2 * tx.chain_id + 35 + signed.y_parity and fields["s"] == signed.s
    assert fields["nonce"] == tx.nonce and fields["gas"] == tx.gas
    assert fields["value"] == tx.value and bytes(fields["data"]) == tx.data
    assert bytes(fields["to"]) == tx.to
