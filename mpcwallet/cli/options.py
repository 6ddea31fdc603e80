"""Command-line options that several commands share, declared once, and the handling they share
(the permit files of --permit, the message of --message/--message-file/--hex, the --out file).

``from __future__ import annotations`` is fine in the command modules: Typer resolves these
aliases from the module globals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet import numeric
from mpcwallet.errors import AlreadyExists, BadInput, FileFormatError


def checked(name: str) -> Callable[[Any], Any]:
    """A Typer callback refusing a value of option ``name`` outside ``numeric.RANGES`` (exit 2).

    Click parses ``nan`` and ``inf`` as floats; this is where they stop.
    """

    def callback(value: Any) -> Any:
        return None if value is None else numeric.check(value, name)

    return callback


Share = Annotated[
    Path | None,
    typer.Option("--share", help="Client share file (default: see --key)."),
]
Key = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="Key name in MPC_HOME/shares (default: the only key, else the one named 'default').",
    ),
]
SharePassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file", help="Read the share passphrase from this file (else MPC_PASSPHRASE)."
    ),
]
ApproverPassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file", help="Approver passphrase file (else MPC_APPROVER_PASSPHRASE)."
    ),
]
AllowWeakPassphrase = Annotated[
    bool,
    typer.Option(
        "--allow-weak-passphrase",
        help="Accept a new passphrase that is short or common (for tests; typed ones are "
        "otherwise refused).",
    ),
]
ForceOut = Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")]
TxFile = Annotated[Path, typer.Option("--tx", help="Unsigned transaction (tx.json).")]
TxFileOrTransfer = Annotated[
    Path | None,
    typer.Option("--tx", help="Unsigned transaction (tx.json; - reads stdin). Or --to/--value."),
]
To = Annotated[
    str | None,
    typer.Option("--to", help="Send ETH to this address (with --value; instead of --tx)."),
]
Value = Annotated[
    str | None,
    typer.Option("--value", help='Amount with --to: "0.01 ETH", "0.01eth", "30 gwei", or wei.'),
]
RpcUrl = Annotated[
    str | None,
    typer.Option("--rpc-url", help="JSON-RPC endpoint (else MPC_RPC_URL, else ETH_RPC_URL)."),
]
RpcTimeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help="Bound in seconds on RPC retries (else MPC_RPC_RETRY_SECONDS, default 30).",
        callback=checked("--timeout"),
    ),
]
ReceiptTimeout = Annotated[
    float,
    typer.Option(
        "--receipt-timeout",
        help="Seconds to wait for the receipt.",
        callback=checked("--receipt-timeout"),
    ),
]
Confirmations = Annotated[
    int,
    typer.Option(
        "--confirmations", help="Blocks to wait for.", callback=checked("--confirmations")
    ),
]
Account = Annotated[
    int,
    typer.Option(
        "--account",
        min=0,
        max=(1 << 31) - 1,
        help="Account index of the key set (0 .. 2^31-1; default 0). Keys made before "
        "accounts existed have account 0 only.",
    ),
]
Permits = Annotated[
    list[Path] | None,
    typer.Option(
        "--permit", help="A signing permit from `mpc approve` (repeat for several approvers)."
    ),
]
Yes = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help="Sign without asking (the preview is still shown). Without a terminal nothing is "
        "asked anyway.",
    ),
]

# Fields of a prepared tx.json (`mpc tx transfer`, `mpc tx erc20-transfer`).
TxChainId = Annotated[
    int | None,
    typer.Option(
        "--chain-id",
        help="Chain id (default: MPC_CHAIN_ID, else 11155111, Sepolia).",
        callback=checked("--chain-id"),
    ),
]
TxNonce = Annotated[
    int | None,
    typer.Option("--nonce", help="Else filled at signing.", callback=checked("--nonce")),
]
TxGas = Annotated[
    int | None,
    typer.Option("--gas", help="Else estimated at signing.", callback=checked("--gas")),
]


# --- reading and writing what shared options name (mpc sign, sign-message, approve, broadcast) ---


def read_permits(paths: list[Path]) -> list[dict[str, Any]]:
    """The permit objects in the given files (the co-signer verifies them)."""
    from mpcwallet.jsonio import load_file

    out = []
    for path in paths:
        doc = load_file(path, what="permit file", max_bytes=16 * 1024, field="permit")
        if not isinstance(doc, dict):
            raise FileFormatError(f"{path}: not a JSON permit", field="permit")
        out.append(doc)
    return out


def read_message(text: str | None, file: Path | None, hex_text: str | None) -> bytes:
    """Exactly one of --message (UTF-8), --message-file (bytes as they are), --hex."""
    from mpcwallet.evm.eip191 import check_message, parse_hex_message

    given = [
        n for n, v in (("--message", text), ("--message-file", file), ("--hex", hex_text)) if v
    ]
    if len(given) != 1:
        raise BadInput(
            "give exactly one of --message TEXT, --message-file FILE or --hex 0x..",
            field="message",
        )
    if text is not None:
        return check_message(text.encode("utf-8"))
    if hex_text is not None:
        return check_message(parse_hex_message(hex_text))
    assert file is not None
    from mpcwallet.evm.eip191 import MAX_MESSAGE_BYTES
    from mpcwallet.jsonio import read_bounded

    return read_bounded(
        file, what="message file", max_bytes=MAX_MESSAGE_BYTES, error=BadInput, field="message_file"
    )


def refuse_existing_out(out_file: Path | None, force: bool) -> None:
    if out_file is not None and not force and (out_file.exists() or out_file.is_symlink()):
        raise AlreadyExists(f"{out_file} already exists; pass --force to overwrite it", field="out")


def write_out(out_file: Path, data: dict[str, Any], *, force: bool) -> None:
    from mpcwallet.storage.files import write_atomic

    write_atomic(out_file, (json.dumps(data, indent=2) + "\n").encode(), force=force)
