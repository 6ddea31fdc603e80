"""Entry point of ``mpc`` and ``python -m mpcwallet``: the one place errors become exit codes.

No traceback reaches a user for an expected error (:class:`MpcError`). An unexpected exception
prints its type only (its arguments might hold anything); ``MPC_DEBUG=1`` shows the traceback,
never with local variables.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

from mpcwallet.cli import output
from mpcwallet.errors import BadInput, InternalError, MpcError

EXIT_INTERRUPTED = 130


class UsageError(BadInput):
    code = "usage"


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
    try:
        from mpcwallet.cli.app import build_app

        app = build_app()
        result = app(args=args, prog_name="mpc", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except MpcError as err:
        out.error(err)
        return err.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        out.error(MpcError("interrupted"))
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        out.error(MpcError("interrupted"))
        return EXIT_INTERRUPTED
    except typer.TyperException as exc:
        message = exc.format_message() or "a command is required; see `mpc --help`"
        out.error(UsageError(message))
        return int(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence, see module doc
        if os.environ.get("MPC_DEBUG") == "1":
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        out.error(
            InternalError(
                f"unexpected {type(exc).__name__}; this is a bug. "
                "Rerun with MPC_DEBUG=1 for a traceback."
            )
        )
        return InternalError.exit_code
