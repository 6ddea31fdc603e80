"""A newcomer's first hour, second pass (issue 26): the CLI items, one test each, against the
real `mpc` (subprocesses; a pty where a terminal is the point; anvil where a node is)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEST_PASSPHRASE, subprocess_env
from support.inproc import closed_port_url
from support.proc import error_of, json_result, mpc_cmd, ok_data, run_mpc
from support.terminal import Terminal

from mpcwallet.evm.address import address_from_public_key
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.store import save_share

# a key name long enough that the table must give way somewhere at 80 columns
LONG_NAME = "treasury-cold-storage-2026"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real encrypted share file with a real public key; its key blob is a stand-in."""
    from coincurve import PrivateKey

    pub = PrivateKey(bytes.fromhex("23" * 32)).public_key.format(compressed=True)
    address = address_from_public_key(pub)
    path = tmp_path_factory.mktemp("share") / "default.enc"
    header = {
        "key_id": "k-newcomer-0123456789abcdef",
        "role": "P1",
        "engine": "portable",
        "public_key": pub.hex(),
        "address": address,
        "name": LONG_NAME,
    }
    save_share(path, ShareBody(b"\x01" * 64, b"\x02" * 32), header, TEST_PASSPHRASE)
    return path, address


@pytest.fixture
def home(tmp_path: Path, template: tuple[Path, str]) -> Iterator[tuple[dict[str, str], str]]:
    """An offline MPC_HOME holding one key (named LONG_NAME); the co-signer URL is closed."""
    path, address = template
    shares = tmp_path / "home" / "shares"
    shares.mkdir(parents=True, mode=0o700)
    shutil.copyfile(path, shares / f"{LONG_NAME}.enc")
    os.chmod(shares / f"{LONG_NAME}.enc", 0o600)
    env = subprocess_env(tmp_path / "home")
    env["MPC_COSIGNER_URL"] = closed_port_url()
    yield env, address


# --- output that misleads ------------------------------------------------------------------


def test_keys_at_an_80_column_terminal_shows_whole_addresses(
    home: tuple[dict[str, str], str],
) -> None:
    env, address = home
    env = {k: v for k, v in env.items() if k != "COLUMNS"}  # the window's own width decides

    term = Terminal([*mpc_cmd(), "keys"], env, columns=80)
    try:
        assert term.wait(60) == 0, term.text
    finally:
        term.close()
    assert address in term.text, term.text
    assert "…" not in term.text
    notes = ("warning", "home", "cb-mpc engine")  # stderr notes and the engine line: not the table
    table = [line for line in term.text.splitlines() if not line.startswith(notes)]
    assert max(len(line) for line in table) <= 80, term.text  # the other columns gave way


def test_keys_piped_is_plain_one_key_a_line_with_the_whole_address(
    home: tuple[dict[str, str], str],
) -> None:
    env, address = home
    env = {k: v for k, v in env.items() if k != "COLUMNS"}
    cp = run_mpc(["keys"], env)
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    assert lines[0].split("\t") == ["name", "address", "engine", "gen", "co-signer", "state"]
    assert len(lines) == 2
    fields = lines[1].split("\t")
    assert fields[:3] == [LONG_NAME, address, "portable"]
    assert "…" not in cp.stdout and "\x1b" not in cp.stdout


def test_cosigner_sessions_never_prints_account_none(tmp_path: Path) -> None:
    from mpcwallet.cosigner.ledger import Ledger
    from mpcwallet.homes.paths import CosignerPaths

    env = subprocess_env(tmp_path / "home")
    paths = CosignerPaths(tmp_path / "home" / "cosigner")
    paths.guard_db.parent.mkdir(parents=True)
    ledger = Ledger(paths.guard_db)
    session = "ab" * 16
    ledger.session_started(session, op="keygen", key_id="k-1", account=None, digest=None)
    ledger.session_status(session, "done")
    ledger.session_started("cd" * 16, op="sign", key_id="k-1", account=3, digest="00" * 32)
    ledger.close()
    cp = run_mpc(["cosigner", "sessions"], env)
    assert cp.returncode == 0, cp.stderr
    assert "None" not in cp.stdout
    assert session in cp.stdout and "cd" * 16 in cp.stdout  # ids whole
    assert "account=3" in cp.stdout


VALID_TX = {
    "type": 2,
    "chainId": 11155111,
    "nonce": 0,
    "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "value": "0.01 ETH",
    "gas": 21000,
    "maxFeePerGas": "10 gwei",
    "maxPriorityFeePerGas": "1 gwei",
}


def test_ctrl_c_at_the_confirmation_prompt_starts_its_message_on_a_new_line(
    home: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    import json

    env, _ = home
    tx = tmp_path / "tx.json"
    tx.write_text(json.dumps(VALID_TX))
    term = Terminal([*mpc_cmd(), "sign", "--tx", str(tx)], env)
    try:
        term.expect("Sign this transaction? [y/N]: ")
        term.interrupt()
        assert term.wait(30) == 130
    finally:
        term.close()
    (line,) = [line for line in term.text.splitlines() if "interrupted" in line]
    assert line.startswith("error"), term.text


@pytest.mark.parametrize("args", [["--help"], ["approve", "--help"]])
def test_help_has_no_run_of_spaces_inside_a_sentence(args: list[str]) -> None:
    """Click aligns columns with spaces; inside a description there is never more than one."""
    import re

    cp = run_mpc(args, {**os.environ, "COLUMNS": "100"})
    assert cp.returncode == 0
    for line in cp.stdout.splitlines():
        # the first column (a command or an option and its metavar) and click's
        # "  [default: ...]" aside
        described = re.sub(r"^  (-?-?[A-Za-z][\w-]*(, -\S+)?( <[^>]+>)?)\s+", "", line)
        described = described.strip().split("  [")[0]
        assert "  " not in described, line


# --- a forgotten MPC_HOME ------------------------------------------------------------------


def test_the_default_home_without_a_key_says_where_it_looked_and_that_mpc_home_chooses(
    tmp_path: Path,
) -> None:
    env = subprocess_env(tmp_path / "unused")
    del env["MPC_HOME"]
    env["HOME"] = str(tmp_path)  # the default home is ~/.mpcwallet
    error = error_of(run_mpc(["--json", "address"], env), 5, "not_found")
    message = error["message"]
    assert str(tmp_path / ".mpcwallet") in message
    assert message.index("MPC_HOME") < message.index("mpc keygen"), message


@pytest.mark.parametrize(
    "args", [["address"], ["keys"], ["key", "status"], ["sign-message", "--message", "hi"]]
)
def test_commands_that_touch_keys_say_which_home_on_stderr_not_in_json(
    home: tuple[dict[str, str], str], args: list[str]
) -> None:
    env, _ = home
    human = run_mpc(args, env)
    assert human.stderr.splitlines()[0] == f"home: {env['MPC_HOME']} (MPC_HOME)", human.stderr
    assert "home:" not in human.stdout
    machine = run_mpc(["--json", *args], env)
    assert "home:" not in machine.stderr and "home:" not in machine.stdout
    json_result(machine)


# --- see what you sign: messages and typed data --------------------------------------------

MAIL = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person"},
            {"name": "contents", "type": "string"},
        ],
    },
    "primaryType": "Mail",
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": 1,
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    },
    "message": {
        "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
        "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
        "contents": "Hello, Bob!",
    },
}


def test_typed_data_for_another_chain_is_refused_unless_named_on_purpose(
    home: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    """The wallet is set up for Sepolia; a domain naming chain 1 is refused before any
    passphrase or co-signer, with the way to sign it on purpose; --chain-id 1 lets it on."""
    import json

    env, _ = home
    doc = tmp_path / "mail.json"
    doc.write_text(json.dumps(MAIL))
    error = error_of(
        run_mpc(["--json", "sign-typed-data", "--data", str(doc)], env), 8, "chain_id_mismatch"
    )
    assert error["field"] == "domain.chainId" and "--chain-id 1" in error["message"]
    on_purpose = run_mpc(["--json", "sign-typed-data", "--data", str(doc), "--chain-id", "1"], env)
    assert json_result(on_purpose)["error"]["code"] == "key_blob_mismatch"  # on to the share
    mainnet = run_mpc(
        ["--json", "sign-typed-data", "--data", str(doc)], {**env, "MPC_CHAIN_ID": "1"}
    )
    assert json_result(mainnet)["error"]["code"] == "key_blob_mismatch"


def test_sign_typed_data_shows_domain_type_fields_and_chain_and_asks(
    home: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    import json

    env, address = home
    doc = tmp_path / "mail.json"
    doc.write_text(json.dumps(MAIL))
    term = Terminal([*mpc_cmd(), "sign-typed-data", "--data", str(doc), "--chain-id", "1"], env)
    try:
        shown = term.expect("Sign this typed data? [y/N]: ")
        term.send("n")
        assert term.wait(30) == 130
    finally:
        term.close()
    for text in (
        "Ethereum mainnet (chain id 1)",
        "Ether Mail",
        "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
        "Mail",
        "Hello, Bob!",
        '{"name":"Bob","wallet":"0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"}',
        address,
    ):
        assert text in shown, (text, shown)
    assert "declined" in term.text


def test_sign_message_shows_the_text_and_asks_as_sign_does(
    home: tuple[dict[str, str], str],
) -> None:
    env, _ = home
    term = Terminal([*mpc_cmd(), "sign-message", "--message", "I agree to pay 5 ETH"], env)
    try:
        shown = term.expect("Sign this message? [y/N]: ")
        term.send("no")
        assert term.wait(30) == 130
    finally:
        term.close()
    assert "I agree to pay 5 ETH" in shown
    # --yes: shown, not asked (and then the closed co-signer port ends it)
    term = Terminal([*mpc_cmd(), "sign-message", "--message", "hi", "--yes"], env)
    try:
        assert term.wait(60) != 0
    finally:
        term.close()
    assert "About to sign" in term.text and "[y/N]" not in term.text


# --- mpc address --qr --------------------------------------------------------------------

# segno's compact terminal rendering, two rows of modules a character, light modules drawn
_HALVES = {"█": (0, 0), " ": (1, 1), "▀": (0, 1), "▄": (1, 0)}  # (top, bottom): 1 = dark


def test_address_qr_is_the_address_as_a_qr_code(home: tuple[dict[str, str], str]) -> None:
    """The printed blocks, read back into modules, are the QR symbol of the whole address."""
    import segno

    env, address = home
    cp = run_mpc(["address", "--qr"], env)
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    assert lines[-1].split()[0] == address
    drawn = [line for line in lines[:-1] if line]
    rows: list[list[int]] = []
    for line in drawn:
        pairs = [_HALVES[c] for c in line]
        rows += [[top for top, _ in pairs], [bottom for _, bottom in pairs]]
    border = 2
    symbol = segno.make(address, micro=False)
    size = symbol.symbol_size(border=0)[0]
    modules = [row[border : border + size] for row in rows[border : border + size]]
    assert modules == [[int(bool(m)) for m in row] for row in symbol.matrix]
    assert all(not any(row) for row in rows[:border])  # a light quiet zone around it


# --- passphrases ---------------------------------------------------------------------------


def _prompting_env(tmp_path: Path) -> dict[str, str]:
    """No passphrase in the environment: every one is typed at the terminal."""
    env = subprocess_env(tmp_path / "home")
    for name in ("MPC_PASSPHRASE", "MPC_COSIGNER_PASSPHRASE", "MPC_BACKUP_PASSPHRASE"):
        del env[name]
    env["MPC_COSIGNER_URL"] = closed_port_url()
    return env


def test_the_cosigner_passphrase_gets_three_tries_and_names_its_file(tmp_path: Path) -> None:
    from mpcwallet.cosigner.keyring import unlock
    from mpcwallet.homes.paths import CosignerPaths

    env = _prompting_env(tmp_path)
    keyring_file = CosignerPaths(tmp_path / "home" / "cosigner").keyring_file
    keyring_file.parent.mkdir(parents=True, mode=0o700)
    unlock(keyring_file, "the right co-signer passphrase")  # an existing keyring
    term = Terminal([*mpc_cmd(), "cosigner", "start"], env)
    try:
        for attempt in range(3):
            term.expect("Co-signer passphrase (unlocks the co-signer's keyring): ")
            term.send(f"wrong guess {attempt}")
        assert term.wait(60) == 3
    finally:
        term.close()
    assert "(2 left)" in term.text and "(1 left)" in term.text, term.text
    (error,) = [line for line in term.text.splitlines() if line.startswith("error")]
    assert str(keyring_file) in error and "wrong passphrase" in error, term.text
    assert not (tmp_path / "home" / "cosigner" / "cosigner.pid").exists()


def test_a_weak_new_passphrase_is_refused_at_a_terminal_with_the_reason(tmp_path: Path) -> None:
    env = _prompting_env(tmp_path)
    term = Terminal([*mpc_cmd(), "keygen"], env)
    try:
        for weak in ("password1234", "short", "qwertyqwerty"):
            term.expect("New share passphrase (protects your key share): ")
            term.send(weak)
            term.expect("Repeat the share passphrase: ")
            term.send(weak)
        assert term.wait(60) == 2
    finally:
        term.close()
    assert "is a common password" in term.text and "has 5 characters" in term.text, term.text
    assert "--allow-weak-passphrase" in term.text
    assert not (tmp_path / "home" / "shares").exists()  # nothing written
    # the explicit flag accepts it: keygen goes on to the co-signer's passphrase
    term = Terminal([*mpc_cmd(), "keygen", "--allow-weak-passphrase"], env)
    try:
        term.expect("New share passphrase (protects your key share): ")
        term.send("password1234")
        term.expect("Repeat the share passphrase: ")
        term.send("password1234")
        term.expect("New co-signer passphrase")
        term.interrupt()
        assert term.wait(30) == 130
    finally:
        term.close()
    assert "refused" not in term.text


def test_a_weak_passphrase_from_mpc_passphrase_is_a_warning_not_a_refusal(
    tmp_path: Path,
) -> None:
    env = _prompting_env(tmp_path)
    env["MPC_PASSPHRASE"] = "password1234"
    cp = run_mpc(["keygen"], env)
    assert "warning: the new share passphrase from MPC_PASSPHRASE is a common password" in (
        cp.stderr
    )
    # not refused: keygen went on, to the co-signer's passphrase (none without a terminal)
    assert "(passphrase_required): no co-signer passphrase" in cp.stderr, cp.stderr


def test_the_common_password_list_is_package_data_with_its_source() -> None:
    from mpcwallet.storage.strength import common_passwords, weakness

    assert {"password", "qwerty", "iloveyou"} <= common_passwords()
    text = (Path(__file__).resolve().parents[2] / "mpcwallet/data/common-passwords.txt").read_text()
    assert "Source:" in text and "SecLists" in text
    assert weakness("Password123!") is not None and weakness("tuba elephant quiet lamp") is None


# --- the OS keyring ------------------------------------------------------------------------

SUPPORT = Path(__file__).resolve().parents[1] / "support"


def test_remember_and_forget_a_passphrase_in_the_os_keyring(
    home: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    """A real keyring backend (tests/support/file_keyring.py, loaded by `keyring` itself
    through PYTHON_KEYRING_BACKEND) stands in for the OS store."""
    import json

    env, _ = home
    store = tmp_path / "os-keyring-store.json"
    env.update(
        PYTHON_KEYRING_BACKEND="file_keyring.FileKeyring",
        PYTHONPATH=os.pathsep.join(p for p in (str(SUPPORT), env.get("PYTHONPATH")) if p),
        MPC_TEST_KEYRING_FILE=str(store),
    )
    cp = run_mpc(["key", "remember"], env)
    assert cp.returncode == 0, cp.stderr
    assert "backend file_keyring.FileKeyring" in cp.stdout
    assert TEST_PASSPHRASE in json.loads(store.read_text()).values()
    index = (Path(env["MPC_HOME"]) / "os-keyring.json").read_text()
    assert TEST_PASSPHRASE not in index and "k-newcomer" in index
    without = {k: v for k, v in env.items() if k != "MPC_PASSPHRASE"}
    cp = run_mpc(["sign-message", "--message", "hi", "--yes"], without)
    assert "share passphrase from the OS keyring (file_keyring.FileKeyring)" in cp.stderr
    assert "(key_blob_mismatch)" in cp.stderr, cp.stderr  # the passphrase opened the share
    ok_data(run_mpc(["--json", "key", "forget"], env))
    assert json.loads(store.read_text()) == {}
    cp = run_mpc(["--json", "sign-message", "--message", "hi", "--yes"], without)
    error_of(cp, 3, "passphrase_required")


def test_a_machine_without_a_keyring_backend_is_told_in_one_line(
    home: tuple[dict[str, str], str],
) -> None:
    env, _ = home
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    cp = run_mpc(["key", "remember"], env)
    assert cp.returncode == 3
    (line,) = [line for line in cp.stderr.splitlines() if not line.startswith("home:")]
    assert line.startswith("error (keyring_unavailable): no OS keyring on this machine"), line
