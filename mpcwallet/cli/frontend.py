"""The CLI's side of the wallet's ports (:mod:`mpcwallet.wallet.ports`): the rich status line,
stderr notes, the "Sign this transaction? [y/N]" prompt (and its "message" and "typed data"
forms: one review for everything signed), and passphrases from a file, a variable or a
prompt."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from mpcwallet.errors import Declined
from mpcwallet.wallet.ports import PassphraseKeyring


class CliUi:
    def step(self, label: str) -> AbstractContextManager[None]:
        from mpcwallet.cli.progress import step

        return step(label)

    def note(self, text: str) -> None:
        from mpcwallet.cli.progress import note

        note(text)

    def info(self, text: str) -> None:
        from mpcwallet.cli.output import out

        out().info(text)

    def warn(self, text: str) -> None:
        from mpcwallet.cli.output import out

        out().warn(text)

    def review(self, preview: dict[str, Any], *, yes: bool) -> bool:
        """Human mode shows the preview on stderr (--json carries it in the result); at a
        terminal, unless --yes or --json, asks (default no). Without a terminal there is no one
        to ask: the command proceeds, so scripts keep working."""
        from mpcwallet.cli.output import out

        if not out().json_mode:
            _show(preview)
        return _confirm(yes=yes, what=_WHAT.get(str(preview.get("kind")), "transaction"))


_WHAT = {"message": "message", "typed_data": "typed data"}


def _show(preview: dict[str, Any]) -> None:
    from mpcwallet.cli.output import out

    if preview.get("kind") in _WHAT:
        from mpcwallet.evm.message_preview import lines
    else:
        from mpcwallet.evm.preview import lines
    console = out().stderr
    console.print("[bold]About to sign:[/bold]")
    rows = lines(preview)
    width = max(12, *(len(label) + 1 for label, _ in rows))
    for label, text in rows:
        console.print(f"  {label:<{width}}", end="", markup=False)
        console.print(text, markup=False)


def _confirm(*, yes: bool, what: str = "transaction") -> bool:
    from mpcwallet.cli.output import out

    if yes or out().json_mode or sys.stdin is None or not sys.stdin.isatty():
        return False
    from mpcwallet.cli.progress import suspended

    with suspended():
        sys.stderr.write(f"Sign this {what}? [y/N]: ")
        sys.stderr.flush()
        answer = sys.stdin.readline()
    if answer.strip().lower() not in ("y", "yes"):
        raise Declined("not confirmed; nothing was signed")
    return True


def keyring(passphrase_file: Path | None, *, os_keyring: bool = True) -> PassphraseKeyring:
    """Share passphrases as every command asks them: --passphrase-file, MPC_PASSPHRASE, the OS
    keyring for a key `mpc key remember`ed, or a hidden prompt (retyped up to three times when
    the caller verifies it)."""
    import os

    from mpcwallet.cli.passphrase import ENV_VARS, get_passphrase

    def source(path: Path, verify: Callable[[str], object] | None) -> str:
        if os_keyring and passphrase_file is None and ENV_VARS["share"] not in os.environ:
            from mpcwallet.wallet.os_keyring import recall

            remembered = recall(path)
            if remembered is not None:
                from mpcwallet.cli.output import out

                value, backend = remembered
                out().info(f"share passphrase from the OS keyring ({backend})")
                if verify is not None:
                    verify(value)
                return value
        return get_passphrase(
            "share", passphrase_file=passphrase_file, confirm=False, verify=verify
        )

    return PassphraseKeyring(source)
