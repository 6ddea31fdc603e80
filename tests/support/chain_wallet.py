"""One key with a real co-signer, funded on a real anvil node: the wallet that the chain tests
of the first hour drive through the real `mpc`, one per test module."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import subprocess_env

from support.anvil import Anvil, running_anvil
from support.cosigner import Cosigner, running_cosigner
from support.proc import json_result, run_mpc


class Wallet:
    def __init__(self, cs: Cosigner, address: str, node: Anvil, tmp: Path) -> None:
        self.cs, self.address, self.node, self.tmp = cs, address, node, tmp
        self.env = dict(cs.env, MPC_RPC_URL=node.url)

    def run(self, *args: str, stdin: str | None = None) -> tuple[int, dict[str, Any]]:
        cp = run_mpc(["--json", *args], self.env, input=stdin)
        return cp.returncode, json_result(cp)

    def sign_events(self) -> int:
        return sum(1 for line in self.cs.log_lines() if line.get("event") == "sign_started")


@contextlib.contextmanager
def funded_wallet(tmp: Path) -> Iterator[Wallet]:
    """A co-signer and anvil for ``tmp``, a key made with `mpc keygen`, funded with 1 ETH."""
    env = subprocess_env(tmp / "home")
    with running_anvil() as node, running_cosigner(env) as cs:
        cp = run_mpc(["--json", "keygen"], cs.env)
        assert cp.returncode == 0, cp.stderr
        address = json_result(cp)["data"]["address"]
        node.fund(address, 10**18)
        yield Wallet(cs, address, node, tmp)
