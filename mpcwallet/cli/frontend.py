"""The CLI's side of the wallet's ports (:mod:`mpcwallet.wallet.ports`): the rich status line,
stderr notes, the "Sign this transaction? [y/N]" prompt, and passphrases from a file, a
variable or a prompt."""

from __future__ import annotations

import sys
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
        return _confirm(yes=yes)


def _show(preview: dict[str, Any]) -> None:
    from mpcwallet.cli.output import out
    from mpcwallet.evm.preview import lines

    console = out().stderr
    console.print("[bold]About to sign:[/bold]")
    for label, text in lines(preview):
        console.print(f"  {label:<12}", end="")
        console.print(text, markup=False)


def _confirm(*, yes: bool) -> bool:
    from mpcwallet.cli.output import out

    if yes or out().json_mode or sys.stdin is None or not sys.stdin.isatty():
        return False
    from mpcwallet.cli.progress import suspended

    with suspended():
        sys.stderr.write("Sign this transaction? [y/N]: ")
        sys.stderr.flush()
        answer = sys.stdin.readline()
    if answer.strip().lower() not in ("y", "yes"):
        raise Declined("not confirmed; nothing was signed")
    return True


def keyring(passphrase_file: Path | None) -> PassphraseKeyring:
    """Share passphrases as every command asks them: --passphrase-file, MPC_PASSPHRASE, or a
    hidden prompt (retyped up to three times when the caller verifies it)."""
    from mpcwallet.cli.passphrase import get_passphrase

    return PassphraseKeyring(
        lambda _path, verify: get_passphrase(
            "share", passphrase_file=passphrase_file, confirm=False, verify=verify
        )
    )
