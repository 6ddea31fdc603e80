"""`mpc key status` and `mpc key unquarantine`: the client-side quarantine of a key.

Why quarantine: in two-party ECDSA a malicious co-signer can make signing fail depending on a
bit of the client's secret share and learn that bit from whether the client aborts (the
"abort attack", Lindell 2017, ePrint 2017/552, §1.2 and §4: P1 verifies the output of
Protocol 4, and whether it aborts leaks information). So after one protocol violation while
signing, the client refuses to sign with that key again until an operator has looked at it
and lifts the quarantine.

The record is a small JSON file next to the share (``<share>.quarantine``, 0600, written
atomically), so it survives restarts. It holds the time, error code, message and key id, never a
secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.cli import options
from mpcwallet.errors import BadInput, KeyQuarantined, MpcError

QUARANTINE_SUFFIX = ".quarantine"


def quarantine_path(share: Path) -> Path:
    return share.with_name(share.name + QUARANTINE_SUFFIX)


def read_quarantine(share: Path) -> dict[str, Any] | None:
    path = quarantine_path(share)
    from mpcwallet import jsonio
    from mpcwallet.errors import NotFound

    try:
        record = jsonio.load_file(path, what="quarantine record", max_bytes=64 * 1024)
    except NotFound:
        return None
    except MpcError:
        # Unreadable or malformed still means quarantined: the record exists.
        return {"reason": "unreadable or malformed quarantine record"}
    return record if isinstance(record, dict) else {"reason": "malformed quarantine record"}


def record_quarantine(
    share: Path, err: MpcError, *, key_id: str | None, session_id: str | None = None
) -> Path:
    from mpcwallet.storage.files import write_atomic

    record = {
        "version": 1,
        "quarantined_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "error_code": err.code,
        "reason": err.message,
        "key_id": key_id,
        "session_id": session_id,
        "share": str(share),
    }
    path = quarantine_path(share)
    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode(), force=True)
    return path


def ensure_not_quarantined(share: Path) -> None:
    record = read_quarantine(share)
    if record is None:
        return
    raise KeyQuarantined(
        f"the key in {share} is quarantined since {record.get('quarantined_at', '?')}: a "
        f"protocol violation ({record.get('error_code', '?')}) happened while signing with it. "
        "A co-signer that makes signing fail on purpose can learn bits of your key share from "
        "repeated attempts (the abort attack on two-party ECDSA), so signing with this key is "
        "refused. Check the co-signer (its log, its binary, who controls it); then lift this "
        f"with `mpc key unquarantine --share {share} --yes-i-understand`, or move the funds "
        "to a fresh key made with `mpc keygen`.",
        field="share",
    )


def _share_path(share: Path | None) -> Path:
    from mpcwallet.config import default_share_path

    return share if share is not None else default_share_path()


def register(app: typer.Typer) -> None:
    key_app = typer.Typer(
        name="key", help="Key state: quarantine after a protocol violation.", no_args_is_help=True
    )
    app.add_typer(key_app)

    @key_app.command("status")
    def status(share: options.Share = None) -> None:
        """Show whether signing with a key is allowed or quarantined."""
        from mpcwallet.cli.output import out
        from mpcwallet.storage.store import load_header

        path = _share_path(share)
        header = load_header(path)
        record = read_quarantine(path)
        data: dict[str, Any] = {
            "share": str(path),
            "key_id": header.get("key_id"),
            "address": header.get("address"),
            "quarantined": record is not None,
        }
        if record is not None:
            data["quarantine"] = record
            human = (
                f"[bold red]quarantined[/bold red] since {record.get('quarantined_at', '?')} "
                f"({record.get('error_code', '?')}): signing with {path} is refused.\n"
                f"Lift with: mpc key unquarantine --share {path} --yes-i-understand"
            )
        else:
            human = f"[green]ok[/green]: signing with {path} is allowed"
        out().success(data, human)

    @key_app.command("unquarantine")
    def unquarantine(
        share: options.Share = None,
        yes: Annotated[
            bool,
            typer.Option(
                "--yes-i-understand",
                help="Confirm that you checked the co-signer and accept the risk of signing again.",
            ),
        ] = False,
    ) -> None:
        """Allow signing again with a quarantined key (after you checked the co-signer)."""
        from mpcwallet.cli.output import out

        path = _share_path(share)
        record = read_quarantine(path)
        if record is None:
            out().success(
                {"share": str(path), "quarantined": False, "lifted": False},
                f"{path} is not quarantined; nothing to do",
            )
            return
        if not yes:
            if not sys.stdin.isatty():
                raise BadInput(
                    "unquarantine needs an explicit confirmation: pass --yes-i-understand "
                    "(after checking the co-signer)",
                    field="yes_i_understand",
                )
            out().warn(
                "a protocol violation happened while signing with this key; a co-signer that "
                "fails on purpose can learn bits of your share from repeated attempts."
            )
            typed = typer.prompt("Type 'unquarantine' to allow signing with this key again")
            if typed.strip() != "unquarantine":
                raise BadInput("confirmation not given; the key stays quarantined", field="yes")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(quarantine_path(path))
        out().success(
            {"share": str(path), "quarantined": False, "lifted": True, "was": record},
            f"quarantine lifted: signing with {path} is allowed again",
        )
