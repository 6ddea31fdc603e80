"""Fixtures for hostile-input tests (see support.offline)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEST_PASSPHRASE
from support.inproc import closed_port_url
from support.offline import Home

from mpcwallet.evm.address import address_from_public_key
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.store import save_share


@pytest.fixture(scope="session")
def _share_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from coincurve import PrivateKey

    pub = PrivateKey(bytes.fromhex("22" * 32)).public_key.format(compressed=True)
    address = address_from_public_key(pub)
    path = tmp_path_factory.mktemp("share") / "default.enc"
    header = {
        "key_id": "k-hostile",
        "role": "P1",
        "engine": "portable",
        "public_key": pub.hex(),
        "address": address,
        "name": "default",
    }
    save_share(path, ShareBody(b"\x01" * 64, b"\x02" * 32), header, TEST_PASSPHRASE)
    return path, address


@pytest.fixture
def home(tmp_path: Path, _share_template: tuple[Path, str]) -> Iterator[Home]:
    """A fresh offline MPC_HOME per test (function scope: each test starts clean)."""
    template, address = _share_template
    mpc_home = tmp_path / "mpc-home"
    (mpc_home / "shares").mkdir(parents=True, mode=0o700)
    share = mpc_home / "shares" / "default.enc"
    shutil.copyfile(template, share)
    os.chmod(share, 0o600)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MPC_", "ETH_RPC"))}
    env.update(
        MPC_HOME=str(mpc_home),
        MPC_PASSPHRASE=TEST_PASSPHRASE,
        MPC_COSIGNER_URL=closed_port_url(),
        COLUMNS="200",
        NO_COLOR="1",
    )
    yield Home(mpc_home, work, share, address, env)
