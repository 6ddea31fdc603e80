"""`mpc cosigner start|stop|status`: the local co-signer daemon (party P2).

The passphrase comes from MPC_COSIGNER_PASSPHRASE, --passphrase-file, --passphrase-stdin or a
hidden prompt; never from the command line. A background start hands it to the daemon over a
pipe on its stdin.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.errors import BadInput, PassphraseRequired

# Further `mpc cosigner ...` command modules; each exposes ``register(group)``.
EXTENSIONS = ("cosigner_policy", "cosigner_approvers", "cosigner_audit", "cosigner_sessions")

REMOTE_FLAG = "--allow-remote-i-know-what-i-am-doing"


def _stdin_passphrase() -> str:
    line = sys.stdin.readline()
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    if not line:
        raise PassphraseRequired(
            "--passphrase-stdin: no passphrase on standard input", field="passphrase_stdin"
        )
    return line


def cosigner_passphrase(passphrase_file: Path | None, *, stdin: bool, first_start: bool) -> str:
    if stdin:
        if passphrase_file is not None:
            raise BadInput(
                "--passphrase-stdin and --passphrase-file exclude each other",
                field="passphrase_file",
            )
        return _stdin_passphrase()
    from mpcwallet.cli.passphrase import get_passphrase

    return get_passphrase("cosigner", passphrase_file=passphrase_file, confirm=first_start)


def make_config(host: str, port: int, engine: str | None, allow_remote: bool) -> Any:
    from mpcwallet.config import mpc_home
    from mpcwallet.cosigner.config import CosignerConfig
    from mpcwallet.engine import default_engine_name, get_engine
    from mpcwallet.session.channel import round_timeout_from_env

    if engine is not None:
        get_engine(engine)
    return CosignerConfig(
        home=mpc_home(),
        engine_name=engine or default_engine_name(),
        host=host,
        port=port,
        allow_remote=allow_remote,
        round_timeout=round_timeout_from_env(),
    )


def ensure_running(endpoint: str) -> dict[str, Any] | None:
    """Start the local co-signer in the background if ``endpoint`` does not answer.

    Returns the new daemon's state, or None if one was already answering.
    """
    from mpcwallet.cosigner.daemon import running_pid, start_background
    from mpcwallet.cosigner.paths import CosignerPaths
    from mpcwallet.errors import PeerUnreachable
    from mpcwallet.session.client import fetch_healthz, parse_endpoint

    try:
        fetch_healthz(endpoint)
        return None
    except PeerUnreachable:
        pass
    host, port = parse_endpoint(endpoint)
    config = make_config(host, port, None, False)
    if running_pid(CosignerPaths.for_home(config.home)) is not None:
        return None  # running but not at this endpoint: let the session report it
    first = not config.paths.keyring_file.exists()
    passphrase = cosigner_passphrase(None, stdin=False, first_start=first)
    state: dict[str, Any] = start_background(config, passphrase)
    return state


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="cosigner",
        help="Start, stop or inspect the local co-signer daemon (holds the other key share).",
        no_args_is_help=True,
    )

    @group.command("start")
    def start(
        host: Annotated[
            str, typer.Option("--host", help="Listen address (loopback only).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port (0 picks a free one).")] = 7447,
        foreground: Annotated[
            bool, typer.Option("--foreground", help="Run in this terminal.")
        ] = False,
        detached: Annotated[bool, typer.Option("--detached", hidden=True)] = False,
        engine: Annotated[str | None, typer.Option("--engine", help="cb-mpc or portable.")] = None,
        passphrase_stdin: Annotated[
            bool,
            typer.Option("--passphrase-stdin", help="Read the co-signer passphrase from stdin."),
        ] = False,
        passphrase_file: Annotated[
            Path | None,
            typer.Option("--passphrase-file", help="File holding the co-signer passphrase."),
        ] = None,
        allow_remote: Annotated[
            bool,
            typer.Option(REMOTE_FLAG, help="Allow a non-loopback --host (exposes the co-signer)."),
        ] = False,
    ) -> None:
        """Start the co-signer (in the background unless --foreground)."""
        from mpcwallet.cli.output import out
        from mpcwallet.cosigner import daemon

        config = make_config(host, port, engine, allow_remote)
        pid = daemon.running_pid(config.paths)
        if pid is not None:
            from mpcwallet.errors import CosignerRunning

            raise CosignerRunning(
                f"a co-signer is already running for this MPC_HOME (pid {pid}); "
                "stop it with `mpc cosigner stop` first"
            )
        first = not config.paths.keyring_file.exists()
        passphrase = cosigner_passphrase(passphrase_file, stdin=passphrase_stdin, first_start=first)
        if foreground:
            if not detached:
                daemon.check_port_free(config.host, config.port)
            daemon.run_foreground(config, passphrase, text_logs=not detached)
            out().success({"stopped": True}, "co-signer stopped")
            return
        state = daemon.start_background(config, passphrase)
        data = {k: state.get(k) for k in ("pid", "url", "engine", "host", "port")}
        out().success(data, f"co-signer running at {state.get('url')} (pid {state.get('pid')})")

    @group.command("stop")
    def stop() -> None:
        """Stop the co-signer gracefully (open sessions get a going-away close)."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import mpc_home
        from mpcwallet.cosigner import daemon
        from mpcwallet.cosigner.paths import CosignerPaths

        pid = daemon.stop(CosignerPaths.for_home(mpc_home()))
        out().success({"stopped": True, "pid": pid}, f"co-signer (pid {pid}) stopped")

    @group.command("status")
    def status() -> None:
        """Is the co-signer running, where, and is it healthy."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import mpc_home
        from mpcwallet.cosigner import daemon
        from mpcwallet.cosigner.paths import CosignerPaths

        info = daemon.status(CosignerPaths.for_home(mpc_home()))
        if not info["running"]:
            out().success(info, "co-signer: not running (start it with `mpc cosigner start`)")
            return
        health = info.get("healthz", {})
        out().success(
            info,
            f"co-signer: running at {info.get('url')} (pid {info.get('pid')}), engine "
            f"{info.get('engine')}, {health.get('keys', '?')} keys, "
            f"health {health.get('status', '?')}",
        )

    import importlib

    for name in EXTENSIONS:
        importlib.import_module(f"mpcwallet.cli.{name}").register(group)
    app.add_typer(group)
