"""Entry point of ``mpc`` and ``python -m mpcwallet``: the one place errors become exit codes.

No traceback reaches a user for an expected error (:class:`MpcError`). An unexpected exception
prints its type only (its arguments might hold anything); ``MPC_DEBUG=1`` shows the traceback,
never with local variables.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback

import typer

from mpcwallet.cli import output
from mpcwallet.errors import InternalError, Interrupted, MpcError, UsageError


def _pop_json(args: list[str]) -> bool:
    """``--json`` is global and accepted anywhere before a ``--``."""
    found = False
    end = args.index("--") if "--" in args else len(args)
    i = 0
    while i < end:
        if args[i] == "--json":
            del args[i]
            end -= 1
            found = True
        else:
            i += 1
    return found


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    json_mode = _pop_json(args)
    out = output.configure(json_mode)
    if not json_mode:
        code, err = _run(args)
    else:
        # One JSON object on stdout, whatever happens: what the command framework prints on
        # stdout (help for a missing command, say) is held back and dropped on an error.
        held = io.StringIO()
        with contextlib.redirect_stdout(held):
            code, err = _run(args)
        if err is None:
            sys.stdout.write(held.getvalue())
            sys.stdout.flush()
    if err is not None:
        if isinstance(err, Interrupted) and not json_mode and sys.stderr.isatty():
            # the terminal echoed ^C after a prompt or a status line: start a line of our own
            sys.stderr.write("\n")
        out.error(err)
    return code


def _run(args: list[str]) -> tuple[int, MpcError | None]:
    """Run the app; an error comes back instead of being printed, for ``main`` to show."""
    try:
        from mpcwallet.cli.app import build_app, modules_for

        app = build_app(modules_for(args))
        result = app(args=args, prog_name="mpc", standalone_mode=False)
        if result == Interrupted.exit_code:
            # Typer turns Ctrl-C into a silent Exit(130), which click returns here; say it once
            # (in --json mode: as the one JSON object).
            return Interrupted.exit_code, Interrupted("interrupted")
        return (result if isinstance(result, int) else 0), None
    except MpcError as err:
        return err.exit_code, err
    except typer.Exit as exc:
        return int(exc.exit_code), None
    except (typer.Abort, KeyboardInterrupt):
        return Interrupted.exit_code, Interrupted("interrupted")
    except typer.TyperException as exc:
        message = exc.format_message() or "a command is required; see `mpc --help`"
        return int(exc.exit_code), UsageError(message)
    except Exception as exc:  # noqa: BLE001 - the last line of defence, see module doc
        if os.environ.get("MPC_DEBUG") == "1":
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        return InternalError.exit_code, InternalError(
            f"unexpected {type(exc).__name__}; this is a bug. "
            "Rerun with MPC_DEBUG=1 for a traceback."
        )
