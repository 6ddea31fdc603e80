"""`mpc pair --url URL`: pair this MPC_HOME with a co-signer on another machine.

The one-time code is a secret: it is read from a hidden prompt (a terminal), from stdin (one
line, for scripts) or from ``--code-file``, never from the command line, where shell history
and ``ps`` would keep it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

MAX_CODE_BYTES = 1024


def _read_code(code_file: Path | None) -> str:
    from mpcwallet.errors import BadInput, NotFound

    if code_file is not None:
        try:
            with open(code_file, "rb") as fh:
                raw = fh.read(MAX_CODE_BYTES + 1)
        except FileNotFoundError:
            raise NotFound(f"--code-file: {code_file} does not exist", field="code_file") from None
        except OSError as exc:
            raise BadInput(
                f"--code-file: cannot read {code_file}: {exc.strerror or type(exc).__name__}",
                field="code_file",
            ) from None
        text = raw.decode("ascii", errors="replace")
    elif sys.stdin.isatty():
        import getpass

        text = getpass.getpass("pairing code (from `mpc cosigner pair`): ")
    else:
        text = sys.stdin.readline(MAX_CODE_BYTES + 1)
    if len(text) > MAX_CODE_BYTES or not text.strip():
        raise BadInput(
            "no pairing code: type it at the prompt, pipe it on stdin, or use --code-file",
            field="code",
        )
    return text.strip()


def register(app: typer.Typer) -> None:
    @app.command("pair")
    def pair(
        url: Annotated[
            str, typer.Option("--url", help="The co-signer's URL, as `mpc cosigner pair` prints.")
        ],
        code_file: Annotated[
            Path | None,
            typer.Option(
                "--code-file",
                help="Read the one-time code from this file (default: a prompt, or stdin).",
            ),
        ] = None,
        code: Annotated[str | None, typer.Option("--code", hidden=True)] = None,
    ) -> None:
        """Pair with a remote co-signer; later keygen, sign and health of this home use it.

        The one-time code from `mpc cosigner pair` is read from a prompt, stdin or --code-file.
        """
        from mpcwallet.cli.output import out
        from mpcwallet.config import mpc_home
        from mpcwallet.errors import UsageError
        from mpcwallet.homes.pairing import pairing_file
        from mpcwallet.session.peer import run_pair

        if code is not None:
            raise UsageError(
                "--code is refused: a pairing code on the command line stays in shell history "
                "and `ps`; pipe it on stdin (`mpc pair --url URL < code.txt`), use --code-file, "
                "or type it at the prompt",
                field="code",
            )
        record = run_pair(url, _read_code(code_file))
        out().success(
            {
                "url": record.url,
                "client_id": record.client_id,
                "install_id": record.install_id,
                "engine": record.engine,
                "pairing": str(pairing_file(mpc_home())),
            },
            f"paired with the co-signer at {record.url} (engine {record.engine}) as client "
            f"{record.client_id}; keygen, sign and health of this MPC_HOME now use it",
        )
