"""A newcomer's first hour (issue 15): one test per rough edge, each against the real `mpc`.

Real co-signer processes, real signals, real anvil; a pty where a terminal is the point.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import TEST_PASSPHRASE
from support.cosigner import running_cosigner, wait_for
from support.proc import json_result, mpc_cmd, run_mpc

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"


def keygen(env: dict[str, str]) -> str:
    cp = run_mpc(["--json", "keygen"], env)
    assert cp.returncode == 0, cp.stderr
    return str(json_result(cp)["data"]["address"])


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
def test_ctrl_c_while_waiting_on_the_cosigner(
    mpc_env: dict[str, str], tmp_path: Path, json_mode: bool
) -> None:
    """SIGINT while the client waits on a co-signer held at a pause point: one line / one
    object, exit 130, and promptly (not after the 30 s round timeout)."""
    pause_dir = tmp_path / "pause"
    pause_dir.mkdir()
    with running_cosigner(mpc_env) as cs:
        keygen(cs.env)
    paused = dict(
        mpc_env, MPC_TEST_PAUSE_AT="daemon_sign_before_last_send", MPC_TEST_PAUSE_DIR=str(pause_dir)
    )
    with running_cosigner(paused) as cs:
        client_env = dict(cs.env, MPC_TEST_PAUSE_AT="", MPC_TEST_PAUSE_DIR="")
        args = ["--json"] if json_mode else []
        proc = subprocess.Popen(
            [*mpc_cmd(), *args, "sign", "--tx", str(EXAMPLE)],
            env=client_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            wait_for(
                lambda: (pause_dir / "daemon_sign_before_last_send.reached").exists(),
                60,
                "the co-signer to reach the middle of signing",
            )
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=10)
        finally:
            (pause_dir / "daemon_sign_before_last_send.release").touch()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, (stdout, stderr)
    if json_mode:
        obj = json_result(subprocess.CompletedProcess([], 130, stdout, stderr))
        assert obj["error"]["code"] == "interrupted"
        assert stderr.strip() == "", stderr
    else:
        assert stdout == ""
        preview_end = stderr.index("max total")
        after = stderr[preview_end:].splitlines()[1:]
        assert after == ["error (interrupted): interrupted"], stderr


# --- rough edges, one test each ------------------------------------------------------------


def test_version_in_json_mode(mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["--json", "--version"], mpc_env)
    assert cp.returncode == 0, cp.stderr
    from mpcwallet import __version__

    assert json_result(cp) == {"ok": True, "data": {"version": __version__}}


def test_help_shows_types_and_is_not_cut_at_80_columns(mpc_env: dict[str, str]) -> None:
    env = dict(mpc_env, COLUMNS="80")
    start = run_mpc(["sign", "--help"], env).stdout
    flat = " ".join(start.split())  # wrapped is fine; cut is not (Typer's rich panel cut it)
    assert "(default: the only key, else the one named 'default')." in flat
    assert "<bool>" not in start and "…" not in start  # a flag takes no value
    assert "--tx <path>" in start and "--timeout <float>" in start and "--yes" in start
    top = run_mpc(["--help"], env).stdout
    commands = top.split("Commands:")[1]
    assert "..." not in commands and "…" not in commands  # every summary whole (wrapped)
    assert all(len(line) <= 80 for line in top.splitlines() + start.splitlines())


def test_install_completion_then_complete_in_bash(mpc_env: dict[str, str], tmp_path: Path) -> None:
    import shutil

    bash = shutil.which("bash")
    assert bash is not None, "bash is needed for this test"
    home = tmp_path / "user"
    home.mkdir()
    bin_dir = Path(mpc_cmd()[0]).parent
    env = dict(mpc_env, HOME=str(home), SHELL=bash, PATH=f"{bin_dir}:{os.environ['PATH']}")
    # As a user types it: typer finds the shell by walking up the process tree, so mpc runs as
    # a child of bash (the trailing command keeps bash from exec'ing mpc in its own place),
    # whatever runs the test suite.
    mpc = " ".join(mpc_cmd())
    cp = subprocess.run(
        [bash, "-c", f"{mpc} --install-completion; status=$?; exit $status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert ".bash_completions/mpc.sh" in (home / ".bashrc").read_text()
    script = (
        f"source {home}/.bash_completions/mpc.sh; COMP_WORDS=(mpc ke); COMP_CWORD=1; "
        '_mpc_completion mpc; echo "${COMPREPLY[@]}"'
    )
    done = subprocess.run([bash, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    offered = done.stdout.split()
    assert "keygen" in offered and all(w.startswith("ke") for w in offered), (
        done.stdout + done.stderr
    )


def test_cosigner_status_is_non_zero_when_not_running(mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["--json", "cosigner", "status"], mpc_env)
    assert cp.returncode == 12
    assert json_result(cp)["error"]["code"] == "cosigner_not_running"


def test_address_in_an_empty_home_suggests_keygen(mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["address"], mpc_env)
    assert cp.returncode == 5
    assert "`mpc keygen`" in cp.stderr, cp.stderr


def test_a_wrong_cosigner_url_is_named_not_blamed_on_a_stopped_daemon(
    mpc_env: dict[str, str],
) -> None:
    from support.anvil import free_port

    url = f"ws://127.0.0.1:{free_port()}"
    cp = run_mpc(["--json", "health"], dict(mpc_env, MPC_COSIGNER_URL=url))
    message = json_result(cp)["error"]["message"]
    assert f"MPC_COSIGNER_URL={url}" in message and "check that URL" in message, message
    assert "mpc cosigner start" not in message


def test_sign_checks_the_cosigner_before_asking_the_passphrase(mpc_env: dict[str, str]) -> None:
    with running_cosigner(mpc_env) as cs:
        keygen(cs.env)
        env = {k: v for k, v in cs.env.items() if k != "MPC_PASSPHRASE"}
    # The co-signer is gone; no passphrase is set and there is no terminal to ask one at.
    cp = run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], env)
    error = json_result(cp)["error"]
    assert error["code"] == "peer_unreachable", error  # not passphrase_required
    assert cp.returncode == 10


def test_a_mistyped_passphrase_may_be_retyped_at_a_terminal(mpc_env: dict[str, str]) -> None:
    from support.terminal import Terminal

    with running_cosigner(mpc_env) as cs:
        keygen(cs.env)
        env = {k: v for k, v in cs.env.items() if k != "MPC_PASSPHRASE"}
        term = Terminal([*mpc_cmd(), "sign", "--yes", "--tx", str(EXAMPLE)], env)
        try:
            term.expect("Share passphrase (unlocks your key share): ")
            term.send("not it")
            term.expect("wrong share passphrase; try again (2 left)")
            term.expect("Share passphrase (unlocks your key share): ")
            term.send(TEST_PASSPHRASE)
            term.expect("signed")
            assert term.wait() == 0, term.text
        finally:
            term.close()
        # three wrong ones: wrong_passphrase (exit 3), nothing signed
        term = Terminal([*mpc_cmd(), "sign", "--yes", "--tx", str(EXAMPLE)], env)
        try:
            for _ in range(3):
                term.expect("Share passphrase (unlocks your key share): ")
                term.send("still not it")
            assert term.wait() == 3, term.text
            assert "signed by" not in term.text
        finally:
            term.close()


def test_keygen_keys_and_health_name_the_engine_and_warn_on_portable(
    mpc_env: dict[str, str],
) -> None:
    with running_cosigner(mpc_env, engine="portable") as cs:
        cp = run_mpc(["--json", "keygen", "--engine", "portable"], cs.env)
        data = json_result(cp)["data"]
        assert data["engine"] == "portable" and data["engine_constant_time"] is False
        assert "README.md#engines-cb-mpc-and-portable" in data["engine_note"]
        health = run_mpc(["health"], cs.env)
        assert health.returncode == 0, health.stderr
        assert "engine portable" in health.stdout
        assert "portable engine is not constant-time" in health.stderr
        assert "README.md#engines-cb-mpc-and-portable" in health.stderr
        keys = run_mpc(["keys"], cs.env)
        assert keys.returncode == 0, keys.stderr
        assert "portable" in keys.stdout and "not constant-time" in keys.stderr


def test_a_frozen_cosigner_shows_its_countdown_and_ctrl_c_stops_it(
    mpc_env: dict[str, str], tmp_path: Path
) -> None:
    """In a terminal: the status line counts the round timeout down while the co-signer is held
    at a pause point; Ctrl-C from the terminal then ends it with one line."""
    from support.terminal import Terminal

    pause_dir = tmp_path / "pause"
    pause_dir.mkdir()
    with running_cosigner(mpc_env) as cs:
        keygen(cs.env)
    paused = dict(
        mpc_env, MPC_TEST_PAUSE_AT="daemon_sign_before_last_send", MPC_TEST_PAUSE_DIR=str(pause_dir)
    )
    with running_cosigner(paused) as cs:
        env = dict(cs.env, MPC_TEST_PAUSE_AT="", MPC_TEST_PAUSE_DIR="", MPC_ROUND_TIMEOUT="20")
        term = Terminal([*mpc_cmd(), "sign", "--yes", "--tx", str(EXAMPLE)], env)
        try:
            term.expect("signing with the co-signer: waiting for the co-signer (20 s left)")
            term.expect("waiting for the co-signer (19 s left)")  # it counts down
            term.interrupt()
            code = term.wait(timeout=15)
        finally:
            (pause_dir / "daemon_sign_before_last_send.release").touch()
            term.close()
    assert code == 130, term.text
    after = term.text.split("s left)")[-1]
    assert [line for line in after.splitlines() if any(c.isalpha() for c in line)] == [
        "error (interrupted): interrupted"
    ], term.text
    assert "Traceback" not in term.text


# --- the README's first command, as a person runs it -------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# What the README's first-run transcript shows, in order; the test finds each on the terminal.
KEYGEN_SCREEN = [
    "New share passphrase (protects your key share): ",
    "Repeat the share passphrase: ",
    "starting the co-signer",
    "New co-signer passphrase (protects the co-signer's keyring): ",
    "Repeat the co-signer passphrase: ",
    "started the co-signer at ws://127.0.0.1:",
    "generating the key with the co-signer",
    "address 0x",
    "engine  ",
]
SIGN_SCREEN = [
    "About to sign:",
    "chain       Sepolia testnet (chain id 11155111)",
    "value       0.01 ETH",
    "max total   0.01063 ETH (value + gas x fee)",
    "Sign this transaction? [y/N]: ",
    "Share passphrase (unlocks your key share): ",
    "signing with the co-signer",
    "signed by 0x",
]


def test_readme_first_command_in_a_terminal(mpc_env: dict[str, str], tmp_path: Path) -> None:
    """`mpc keygen` then `mpc sign --tx examples/tx.json`, typed at a terminal in a fresh home:
    each prompt, the progress lines, the preview and the confirmation, as the README shows them.

    One deviation from the README: MPC_COSIGNER_URL names a free port, so the co-signer this
    starts cannot meet another test's (or a developer's) on the default port 7447.
    """
    import re

    from support.anvil import free_port
    from support.terminal import Terminal

    readme = (ROOT / "README.md").read_text()
    first = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)[0]
    assert ".venv/bin/mpc keygen && .venv/bin/mpc sign --tx examples/tx.json" in first
    for line in KEYGEN_SCREEN + SIGN_SCREEN:
        assert line.strip() in readme, f"the README's first-run text lacks {line.strip()!r}"

    env = {
        k: v
        for k, v in mpc_env.items()
        if k not in ("MPC_PASSPHRASE", "MPC_COSIGNER_PASSPHRASE", "MPC_BACKUP_PASSPHRASE")
    }
    env.update(MPC_HOME=str(tmp_path / ".demo"), MPC_COSIGNER_URL=f"ws://127.0.0.1:{free_port()}")
    share, cosigner = "share passphrase 5", "co-signer passphrase 6"
    answers = {
        "New share passphrase (protects your key share): ": share,
        "Repeat the share passphrase: ": share,
        "New co-signer passphrase (protects the co-signer's keyring): ": cosigner,
        "Repeat the co-signer passphrase: ": cosigner,
        "Sign this transaction? [y/N]: ": "y",
        "Share passphrase (unlocks your key share): ": share,
    }
    try:
        for args, screen in (
            (["keygen"], KEYGEN_SCREEN),
            (["sign", "--tx", "examples/tx.json"], SIGN_SCREEN),
        ):
            term = Terminal([*mpc_cmd(), *args], env, cwd=ROOT)
            try:
                for expected in screen:
                    term.expect(expected)
                    if expected in answers:
                        term.send(answers[expected])
                assert term.wait() == 0, term.text
            finally:
                term.close()
    finally:
        stop = run_mpc(["cosigner", "stop"], env)
    assert stop.returncode == 0, stop.stderr
    assert share not in term.text and cosigner not in term.text  # prompts do not echo
