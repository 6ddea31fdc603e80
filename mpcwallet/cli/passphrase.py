"""Getting a passphrase: from a file, an environment variable or a hidden prompt; never argv.

Order: ``--passphrase-file`` (one trailing newline stripped) > the purpose's environment
variable > a hidden prompt (with confirmation when creating) if stdin is a terminal >
:class:`PassphraseRequired` naming the variable and the flag. An empty passphrase is refused.

A new passphrase (``confirm``) that is too short or common (:mod:`mpcwallet.storage.strength`)
is refused at a terminal with the reason, and asked again (three tries), unless the command's
``--allow-weak-passphrase`` accepts it; from a file or a variable (a script) it is a warning.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from mpcwallet.errors import BadInput, NotFound, PassphraseRequired, WrongPassphrase

__all__ = ["ENV_VARS", "FILE_FLAGS", "Purpose", "get_passphrase", "read_passphrase_file"]

Purpose = Literal["share", "backup", "cosigner", "approver"]

ENV_VARS: dict[str, str] = {
    "share": "MPC_PASSPHRASE",
    "backup": "MPC_BACKUP_PASSPHRASE",
    "cosigner": "MPC_COSIGNER_PASSPHRASE",
    "approver": "MPC_APPROVER_PASSPHRASE",
}
FILE_FLAGS: dict[str, str] = {
    "share": "--passphrase-file",
    "backup": "--backup-passphrase-file",
    "cosigner": "--passphrase-file",
    "approver": "--passphrase-file",
}
_LABELS: dict[str, str] = {
    "share": "share",
    "backup": "backup",
    "cosigner": "co-signer",
    "approver": "approver",
}
MAX_PASSPHRASE_FILE_BYTES = 64 * 1024


def read_passphrase_file(path: Path, *, flag: str = "--passphrase-file") -> str:
    """The passphrase in ``path`` (UTF-8), without one trailing newline."""
    field = flag.lstrip("-").replace("-", "_")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_PASSPHRASE_FILE_BYTES + 1)
    except FileNotFoundError:
        raise NotFound(f"{flag}: {path} does not exist", field=field) from None
    except OSError as exc:
        raise BadInput(
            f"{flag}: cannot read {path}: {exc.strerror or type(exc).__name__}", field=field
        ) from None
    if len(raw) > MAX_PASSPHRASE_FILE_BYTES:
        raise BadInput(f"{flag}: {path} is too large for a passphrase file", field=field)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{flag}: {path} is not UTF-8 text", field=field) from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise BadInput(f"{flag}: {path} holds an empty passphrase", field=field)
    return text


# What each prompt asks for, so nobody has to guess which passphrase is meant.
_HINTS: dict[str, str] = {
    "share": "your key share",
    "backup": "the backup file",
    "cosigner": "the co-signer's keyring",
}
MAX_TRIES = 3


def _prompt(label: str, confirm: bool, hint: str | None = None) -> str:
    from mpcwallet.cli.progress import suspended

    with suspended():
        return _ask(label, confirm, hint)


def _ask(label: str, confirm: bool, hint: str | None) -> str:
    what = f" ({'protects' if confirm else 'unlocks'} {hint})" if hint else ""
    new = "New " if confirm else ""
    try:
        text = f"{new}{label} passphrase{what}: "
        first = getpass.getpass(text[0].upper() + text[1:])
        if not first:
            raise BadInput(f"the {label} passphrase is empty; choose a non-empty one")
        if confirm:
            again = getpass.getpass(f"Repeat the {label} passphrase: ")
            if again != first:
                raise BadInput(f"the two {label} passphrases differ; nothing was written")
    except EOFError:
        raise PassphraseRequired(f"no {label} passphrase was entered") from None
    return first


def get_passphrase(
    purpose: Purpose,
    *,
    passphrase_file: Path | None,
    confirm: bool,
    flag: str | None = None,
    verify: Callable[[str], object] | None = None,
    allow_weak: bool = False,
) -> str:
    """A passphrase for ``purpose`` ("share", "backup" or "cosigner").

    ``flag`` names the command's passphrase-file option in messages (default per purpose).
    ``confirm`` asks twice when prompting (use it when the passphrase protects a new file).
    ``verify`` (raising :class:`WrongPassphrase`) lets a typed passphrase be retyped, up to
    three tries; only at a terminal (a wrong passphrase from a file or variable fails at once).
    """
    env_var = ENV_VARS[purpose]
    label = _LABELS[purpose]
    flag = flag or FILE_FLAGS[purpose]
    if passphrase_file is not None:
        value = read_passphrase_file(passphrase_file, flag=flag)
        if confirm and not allow_weak:
            _warn_weak(label, value, str(passphrase_file))
        return value
    if env_var in os.environ:
        value = os.environ[env_var]
        if not value:
            raise BadInput(
                f"{env_var} is set but empty; unset it or set a passphrase", field=env_var
            )
        if confirm and not allow_weak:
            _warn_weak(label, value, env_var)
        return value
    if sys.stdin is not None and sys.stdin.isatty():
        hint = _HINTS.get(purpose)
        if confirm and not allow_weak:
            return _prompt_strong(label, hint)
        if verify is None:
            return _prompt(label, confirm, hint)
        for attempt in range(1, MAX_TRIES + 1):
            value = _prompt(label, confirm, hint)
            try:
                verify(value)
                return value
            except WrongPassphrase:
                if attempt == MAX_TRIES:
                    raise
                from mpcwallet.cli.output import out

                left = MAX_TRIES - attempt
                out().info(f"wrong {label} passphrase; try again ({left} left)")
    raise PassphraseRequired(
        f"no {label} passphrase: set {env_var} or pass {flag} FILE "
        "(or run in a terminal to be prompted)",
        field=env_var,
    )


def _warn_weak(label: str, value: str, source: str) -> None:
    from mpcwallet.storage.strength import weakness

    why = weakness(value)
    if why is not None:
        from mpcwallet.cli.output import out

        out().warn(f"the new {label} passphrase from {source} {why}")


def _prompt_strong(label: str, hint: str | None) -> str:
    """A new passphrase typed at a terminal: refused with the reason when too weak."""
    from mpcwallet.cli.output import out
    from mpcwallet.storage.strength import weakness

    for attempt in range(1, MAX_TRIES + 1):
        value = _prompt(label, True, hint)
        why = weakness(value)
        if why is None:
            return value
        if attempt < MAX_TRIES:
            out().info(f"refused: that {label} passphrase {why}; choose another")
    raise BadInput(
        f"the new {label} passphrase {why}; nothing was written. Choose a longer one of several "
        "words (or pass --allow-weak-passphrase to keep a weak one)",
        field="passphrase",
    )
