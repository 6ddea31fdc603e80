"""mpcwallet as a library: open a home, make a key if it has none, sign what examples/ holds.

    export MPC_HOME="$PWD/.demo" MPC_PASSPHRASE=... MPC_COSIGNER_PASSPHRASE=...
    .venv/bin/python examples/library.py            # add MPC_RPC_URL to also broadcast

Uses only the names ``mpcwallet`` exports (docs/library.md). The co-signer is this home's own
(started by keygen if none runs).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mpcwallet import MpcError, Wallet

EXAMPLES = Path(__file__).resolve().parent


def main() -> int:
    home = os.environ.get("MPC_HOME", ".demo")
    passphrase = os.environ.get("MPC_PASSPHRASE")
    if not passphrase:
        print("set MPC_PASSPHRASE (the share passphrase) first", file=sys.stderr)
        return 2
    try:
        wallet = Wallet.open(home, passphrase=passphrase)
        if not wallet.names():
            info = wallet.keygen("default")
            print(f"new key {info.name}: {info.address} ({info.engine})")
        print("address     ", wallet.address())
        print("accounts 0-2", ", ".join(wallet.accounts(0, 3)))

        message = (EXAMPLES / "message.txt").read_bytes()
        print("message     ", wallet.sign_message(message).signature)
        for name in ("typed-data-mail.json", "typed-data-permit.json"):
            document = json.loads((EXAMPLES / name).read_text())
            signed = wallet.sign_typed_data(document, chain_id=11155111)
            print(f"{name:<12}", signed.signature)

        tx = json.loads((EXAMPLES / "tx.json").read_text())
        rpc_url = os.environ.get("MPC_RPC_URL")
        if rpc_url:
            for field in ("nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas"):
                tx.pop(field)  # filled from the node
        signature = wallet.sign_transaction(tx, rpc_url=rpc_url)
        print("tx hash     ", signature.hash)
        print("raw tx      ", signature.raw_tx)
        if rpc_url:
            sent = wallet.broadcast(signature, rpc_url=rpc_url, wait=True)
            print("state       ", sent["state"])
    except MpcError as e:
        print(f"error: {e.code}: {e.message}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
