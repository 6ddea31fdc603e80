"""`mpc cosigner start|stop|status|pair`: the co-signer daemon (party P2).

The passphrase comes from MPC_COSIGNER_PASSPHRASE, --passphrase-file, --passphrase-stdin or a
hidden prompt; never from the command line. A background start hands it to the daemon over a
pipe on its stdin. Typed at a terminal, a wrong passphrase for an existing keyring may be
retyped (three tries, as the share passphrase), checked against the keyring file before the
daemon starts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mpcwallet.cli import options
from mpcwallet.errors import BadInput, PassphraseRequired

# Further `mpc cosigner ...` command modules; each exposes ``register(group)``.
EXTENSIONS = (
    "cosigner_policy",
    "cosigner_approvers",
    "cosigner_audit",
    "cosigner_sessions",
    "cosigner_pairings",
)


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


def cosigner_passphrase(
    passphrase_file: Path | None, *, stdin: bool, first_start: bool, allow_weak: bool = False
) -> str:
    if stdin:
        if passphrase_file is not None:
            raise BadInput(
                "--passphrase-stdin and --passphrase-file exclude each other",
                field="passphrase_file",
            )
        return _stdin_passphrase()
    from mpcwallet.cli.passphrase import get_passphrase
    from mpcwallet.config import cosigner_dir
    from mpcwallet.homes.paths import CosignerPaths

    keyring_file = CosignerPaths(cosigner_dir()).keyring_file

    def verify(typed: str) -> None:
        from mpcwallet.cosigner.keyring import unlock

        unlock(keyring_file, typed)  # WrongPassphrase names the file

    return get_passphrase(
        "cosigner",
        passphrase_file=passphrase_file,
        confirm=first_start,
        verify=None if first_start or not keyring_file.exists() else verify,
        allow_weak=allow_weak,
    )


def start_passphrase(first_start: bool, *, allow_weak: bool = False) -> str:
    """The co-signer passphrase when a command starts the daemon for you (`mpc keygen`)."""
    return cosigner_passphrase(None, stdin=False, first_start=first_start, allow_weak=allow_weak)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="cosigner",
        help="Start, stop or inspect the co-signer daemon (the other key share); pair clients.",
        no_args_is_help=True,
    )

    @group.command("start")
    def start(
        host: Annotated[
            str,
            typer.Option(
                "--host",
                help="Listen address: loopback by default; this machine's address on purpose "
                "for a co-signer that clients on other machines pair with (`mpc cosigner pair`).",
            ),
        ] = "127.0.0.1",
        port: Annotated[
            int | None,
            typer.Option(
                "--port",
                help="TCP port, remembered for later starts (0 picks a free one). Default: the "
                "remembered port, else 7447, else a free one.",
                callback=options.checked("--port"),
            ),
        ] = None,
        foreground: Annotated[
            bool, typer.Option("--foreground", help="Run in this terminal.")
        ] = False,
        detached: Annotated[bool, typer.Option("--detached", hidden=True)] = False,
        no_remember_port: Annotated[bool, typer.Option("--no-remember-port", hidden=True)] = False,
        engine: Annotated[str | None, typer.Option("--engine", help="cb-mpc or portable.")] = None,
        passphrase_stdin: Annotated[
            bool,
            typer.Option("--passphrase-stdin", help="Read the co-signer passphrase from stdin."),
        ] = False,
        passphrase_file: Annotated[
            Path | None,
            typer.Option("--passphrase-file", help="File holding the co-signer passphrase."),
        ] = None,
        allow_weak: options.AllowWeakPassphrase = False,
    ) -> None:
        """Start the co-signer (in the background unless --foreground)."""
        from mpcwallet.cli.output import out
        from mpcwallet.cosigner import daemon
        from mpcwallet.wallet.cosigner import make_config

        config = make_config(
            host, port, engine, remember_port=port is not None and not no_remember_port
        )
        pid = daemon.running_pid(config.paths)
        if pid is not None:
            from mpcwallet.errors import CosignerRunning

            raise CosignerRunning(
                f"a co-signer is already running for this MPC_HOME (pid {pid}); "
                "stop it with `mpc cosigner stop` first"
            )
        first = not config.paths.keyring_file.exists()
        passphrase = cosigner_passphrase(
            passphrase_file, stdin=passphrase_stdin, first_start=first, allow_weak=allow_weak
        )
        if foreground:
            if not detached and not config.port_fallback:
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
        from mpcwallet.homes.paths import CosignerPaths

        pid = daemon.stop(CosignerPaths.for_home(mpc_home()))
        out().success({"stopped": True, "pid": pid}, f"co-signer (pid {pid}) stopped")

    @group.command("status")
    def status() -> None:
        """Is the co-signer running, where, and is it healthy (exit 12 when it is not running)."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import mpc_home
        from mpcwallet.cosigner import daemon
        from mpcwallet.homes.paths import CosignerPaths

        info = daemon.status(CosignerPaths.for_home(mpc_home()))
        if not info["running"]:
            from mpcwallet.errors import CosignerNotRunning

            # Non-zero, so `mpc cosigner status && ...` and service checks can rely on it.
            raise CosignerNotRunning(
                "the co-signer is not running for this MPC_HOME; start it with `mpc cosigner start`"
            )
        health = info.get("healthz", {})
        out().success(
            info,
            f"co-signer: running at {info.get('url')} (pid {info.get('pid')}), engine "
            f"{info.get('engine')}, {health.get('keys', '?')} keys, "
            f"health {health.get('status', '?')}",
        )

    @group.command("pair")
    def pair(
        ttl: Annotated[
            int, typer.Option("--ttl", help="Seconds until the code expires (default 600).")
        ] = 600,
        label: Annotated[
            str | None,
            typer.Option("--label", help="Names the client in `mpc cosigner pairings list`."),
        ] = None,
    ) -> None:
        """Print a one-time pairing code for a client on another machine (`mpc pair`)."""
        import time

        from mpcwallet.cli.output import out
        from mpcwallet.config import mpc_home
        from mpcwallet.cosigner import daemon
        from mpcwallet.homes.pairing import issue_code
        from mpcwallet.homes.paths import CosignerPaths

        paths = CosignerPaths.for_home(mpc_home())
        info = daemon.status(paths)
        if not info["running"]:
            from mpcwallet.errors import CosignerNotRunning

            raise CosignerNotRunning(
                "no co-signer is running for this MPC_HOME; start it first (for clients on "
                "other machines: `mpc cosigner start --host <this machine's address>`)"
            )
        code, expires_at = issue_code(paths, ttl, label)
        url = str(info.get("url"))
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at))
        # The code is the one secret this command exists to show; it is printed once and never
        # stored (the co-signer keeps only a key derived from it).
        out().success(
            {"code": code.text(), "url": url, "expires_at": expires},
            f"pairing code (single use, expires {expires}):\n\n    {code.text()}\n\n"
            f"on the client machine run `mpc pair --url {url}` and type the code at its prompt "
            "(or pipe it on stdin)",
        )

    import importlib

    for name in EXTENSIONS:
        importlib.import_module(f"mpcwallet.cli.{name}").register(group)
    from mpcwallet.cli import cosigner_keys

    cosigner_keys.register(group)
    app.add_typer(group)
