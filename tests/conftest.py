from __future__ import annotations

import os
from pathlib import Path

import pytest

# Passphrases used by tests. Tests that scan MPC_HOME for secrets look for these.
TEST_PASSPHRASE = "correct horse battery staple 1"
TEST_BACKUP_PASSPHRASE = "backup passphrase: tuba elephant 2"
TEST_COSIGNER_PASSPHRASE = "cosigner passphrase: quiet lamp 3"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _in_process_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process code that reads MPC_HOME (e.g. the client's install id) never touches ~."""
    if not os.environ.get("MPC_HOME"):
        monkeypatch.setenv("MPC_HOME", str(tmp_path_factory.mktemp("in-process-home")))


@pytest.fixture
def mpc_home(tmp_path: Path) -> Path:
    home = tmp_path / "mpc-home"
    return home


def subprocess_env(home: Path) -> dict[str, str]:
    """Environment for a subprocess ``mpc``: MPC_HOME ``home``, no other MPC_* of the test run,
    and non-interactive passphrases. For module-scoped fixtures, which cannot use ``mpc_env``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPC_")}
    env.update(
        MPC_HOME=str(home),
        MPC_PASSPHRASE=TEST_PASSPHRASE,
        MPC_BACKUP_PASSPHRASE=TEST_BACKUP_PASSPHRASE,
        MPC_COSIGNER_PASSPHRASE=TEST_COSIGNER_PASSPHRASE,
        COLUMNS="200",
        NO_COLOR="1",
    )
    return env


@pytest.fixture
def mpc_env(mpc_home: Path) -> dict[str, str]:
    """Environment for a subprocess ``mpc``: its own MPC_HOME and non-interactive passphrases."""
    return subprocess_env(mpc_home)


@pytest.fixture
def anvil():  # type: ignore[no-untyped-def]
    """A fresh anvil node (chain id 11155111) on a free loopback port; fails in CI if missing."""
    from support.anvil import running_anvil

    with running_anvil() as node:
        yield node


@pytest.fixture
def cosigner(mpc_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A real co-signer daemon subprocess on a free loopback port, own MPC_HOME (``mpc_env``).

    Yields a ``support.cosigner.Cosigner``; use ``cosigner.env`` to run ``mpc`` against it.
    Engine: MPC_ENGINE if set, else the default one. In-process client calls of the test belong
    to the same MPC_HOME (a client only talks to its own home's co-signer).
    """
    from support.cosigner import running_cosigner

    monkeypatch.setenv("MPC_HOME", mpc_env["MPC_HOME"])
    with running_cosigner(mpc_env) as cs:
        yield cs
