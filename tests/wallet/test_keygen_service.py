"""The wallet's use cases called in-process, as `mpc serve` calls them: plain arguments, a Ui
that records instead of drawing, a Keyring over a passphrase held in memory. Real co-signer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_BACKUP_PASSPHRASE, TEST_PASSPHRASE

from mpcwallet.errors import AlreadyExists, BadInput, PassphraseRequired, StaleShare
from mpcwallet.wallet import backups, health, keygen, keys, refresh
from mpcwallet.wallet.ports import PassphraseKeyring


class RecordingUi:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    @contextlib.contextmanager
    def _step(self, label: str) -> Iterator[None]:
        self.events.append(("step", label))
        yield

    def step(self, label: str) -> contextlib.AbstractContextManager[None]:
        return self._step(label)

    def note(self, text: str) -> None:
        self.events.append(("note", text))

    def info(self, text: str) -> None:
        self.events.append(("info", text))

    def warn(self, text: str) -> None:
        self.events.append(("warn", text))

    def review(self, preview: dict[str, Any], *, yes: bool) -> bool:
        raise AssertionError("nothing here signs a transaction")


def _memory_keyring() -> PassphraseKeyring:
    return PassphraseKeyring(lambda _path, verify: TEST_PASSPHRASE)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("MPC_HOME", str(home))
    for name in ("MPC_ROUND_TIMEOUT", "MPC_COSIGNER_URL", "MPC_COSIGNER_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    return home


def test_check_keygen_refuses_before_anything_runs(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(BadInput, match="--name") as bad_name:
        keygen.check_keygen(name="../evil", out=None, engine=None)
    assert bad_name.value.field == "name"
    with pytest.raises(BadInput, match="is a directory"):
        keygen.check_keygen(name="k", out=tmp_path, engine=None)
    existing = tmp_path / "taken.enc"
    existing.write_text("not a share")
    with pytest.raises(AlreadyExists, match="mpc key retire taken") as taken:
        keygen.check_keygen(name="k", out=existing, engine=None)
    assert taken.value.field == "out"
    with pytest.raises(BadInput, match="unknown engine"):
        keygen.check_keygen(name="k", out=None, engine="rot13")
    monkeypatch.setenv("MPC_ROUND_TIMEOUT", "forever")
    with pytest.raises(BadInput, match="MPC_ROUND_TIMEOUT"):
        keygen.check_keygen(name="k", out=None, engine="portable")
    monkeypatch.delenv("MPC_ROUND_TIMEOUT")
    target, engine = keygen.check_keygen(name="k", out=None, engine="portable")
    assert (target, engine) == (home / "shares" / "k.enc", "portable")
    assert not home.exists() or not any((home / "shares").glob("*")), "a check wrote a file"


def test_keygen_without_a_cosigner_and_no_way_to_ask_its_passphrase(home: Path) -> None:
    """A front end that cannot prompt (the HTTP API) gets PassphraseRequired, nothing written."""
    ui = RecordingUi()
    with pytest.raises(PassphraseRequired, match="MPC_COSIGNER_PASSPHRASE"):
        keygen.keygen(name="k", out=None, engine="portable", passphrase=TEST_PASSPHRASE, ui=ui)
    assert ui.events == [("step", "starting the co-signer")]
    assert not (home / "shares").exists() or not any((home / "shares").iterdir())


def test_use_cases_in_process_with_a_real_cosigner(
    cosigner: Any, mpc_home: Path, tmp_path: Path
) -> None:
    ui = RecordingUi()
    data = keygen.keygen(name="svc", out=None, engine=None, passphrase=TEST_PASSPHRASE, ui=ui)
    share = mpc_home / "shares" / "svc.enc"
    assert set(data) == {"address", "key_id", "public_key", "engine", "name", "share", "cosigner"}
    assert data["share"] == str(share) and share.exists()
    assert [kind for kind, _ in ui.events] == ["step", "step"]  # it ran already: no "started"
    assert ui.events[1][1].startswith("generating the key with the co-signer")
    with pytest.raises(AlreadyExists):
        keygen.keygen(name="svc", out=None, engine=None, passphrase=TEST_PASSPHRASE, ui=ui)

    checked = health.health(key="svc", verify_key_secret=True, keys=_memory_keyring())
    assert checked["quarantined"] is False and checked["engine"] == data["engine"]

    backup = tmp_path / "svc.backup"
    exported = backups.export_backup(
        share, backup, share_passphrase=TEST_PASSPHRASE, backup_passphrase=TEST_BACKUP_PASSPHRASE
    )
    assert exported["key_id"] == data["key_id"] and exported["generation"] == 0
    verified = backups.verify_backup(backup, backup_passphrase=TEST_BACKUP_PASSPHRASE)
    assert verified["checks"]["public_key"] == "passed"

    refreshed = refresh.refresh(share, keys=_memory_keyring(), ui=ui)
    assert (refreshed["generation"], refreshed["address"]) == (1, data["address"])

    # The backup predates the refresh: restoring it is refused before any passphrase is asked.
    def never() -> str:
        raise AssertionError("asked a passphrase for a stale backup")

    with pytest.raises(StaleShare):
        backups.import_backup(
            backup, tmp_path / "restored.enc", backup_passphrase=never, share_passphrase=never
        )
    assert not (tmp_path / "restored.enc").exists()

    (row,) = keys.list_keys()
    assert (row["name"], row["generation"], row["cosigner"]) == ("svc", 1, "holds")
    assert keys.key_status(share)["quarantined"] is False
    assert keys.unquarantine(share)["lifted"] is False
