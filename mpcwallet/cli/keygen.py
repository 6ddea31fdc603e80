"""`mpc keygen`: a new 2-of-2 key with the local co-signer (started for you if needed).

Atomicity (either both shares exist or neither):

1. DKG runs; the co-signer writes ``<key_id>.enc.pending`` and reports the public key.
2. We write our encrypted share to ``<out>.pending`` (atomic, 0600) and send ``commit``.
3. The co-signer renames its pending file into place and acks; only then do we rename
   ``<out>.pending`` to ``<out>`` and report success.

A failure before the ack removes our pending file, and the co-signer removes its pending file
when the session ends uncommitted (or at its next start, if it was killed). A client killed
before step 3 leaves only ``<out>.pending``; the next keygen for the same ``<out>`` asks the
co-signer whether it committed that key: if it did (the client died in the instant between the
ack and the rename) the share is promoted and reported, otherwise the stale file is deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.errors import AlreadyExists, BadInput, MpcError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def pending_path(out: Path) -> Path:
    return out.with_name(out.name + ".pending")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _promote(pending: Path, out: Path, *, force: bool) -> None:
    if force:
        os.replace(pending, out)
    else:
        try:
            os.link(pending, out)
        except FileExistsError:
            raise AlreadyExists(
                f"{out} already exists; pass --force to overwrite it", field="out"
            ) from None
        pending.unlink()
    _fsync_dir(out.parent)


def _recover(pending: Path, out: Path, endpoint: str, force: bool) -> dict[str, Any] | None:
    """Deal with ``<out>.pending`` left by an interrupted keygen (see the module doc)."""
    if not pending.exists():
        return None
    from mpcwallet.cli.address import share_summary
    from mpcwallet.session.client import health

    try:
        summary = share_summary(pending)
        health(endpoint, key_id=str(summary["key_id"]), engine_name=str(summary["engine"]))
    except MpcError:
        summary = None
    if summary is not None and (force or not out.exists()):
        _promote(pending, out, force=force)
        summary["share"] = str(out)
        return summary
    pending.unlink(missing_ok=True)
    return None


def register(app: typer.Typer) -> None:
    @app.command("keygen")
    def keygen(
        out_path: Annotated[
            Path | None,
            typer.Option(
                "--out", help="Where to write the client share (default MPC_HOME/shares/NAME.enc)."
            ),
        ] = None,
        name: Annotated[str, typer.Option("--name", help="A name for the key.")] = "default",
        force: Annotated[
            bool, typer.Option("--force", help="Overwrite an existing share file.")
        ] = False,
        passphrase_file: Annotated[
            Path | None,
            typer.Option(
                "--passphrase-file", help="File holding the passphrase for the new share."
            ),
        ] = None,
        engine: Annotated[str | None, typer.Option("--engine", help="cb-mpc or portable.")] = None,
    ) -> None:
        """Create a new key with the co-signer; prints its address and key id."""
        from mpcwallet.cli.cosigner import ensure_running
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import get_passphrase
        from mpcwallet.config import default_share_path
        from mpcwallet.engine import default_engine_name, get_engine
        from mpcwallet.session.client import KeygenResult, resolve_endpoint, run_keygen
        from mpcwallet.storage.body import ShareBody
        from mpcwallet.storage.store import save_share

        if not NAME_RE.match(name):
            raise BadInput(
                "--name: use 1-64 letters, digits, '_', '.' or '-' (starting with a letter or "
                "digit)",
                field="name",
            )
        target = out_path or default_share_path(name)
        if target.is_dir():
            raise BadInput(f"--out: {target} is a directory", field="out")
        if not force and (target.exists() or target.is_symlink()):
            raise AlreadyExists(
                f"{target} already exists; pass --force to overwrite it", field="out"
            )
        engine_name = engine or default_engine_name()
        get_engine(engine_name)
        passphrase = get_passphrase("share", passphrase_file=passphrase_file, confirm=True)
        endpoint = resolve_endpoint()
        started = ensure_running(endpoint)
        if started is not None:
            endpoint = str(started.get("url", endpoint))
            out().info(f"started the co-signer at {endpoint} (pid {started.get('pid')})")
        pending = pending_path(target)
        recovered = _recover(pending, target, endpoint, force)
        if recovered is not None:
            out().warn(
                "an earlier keygen was interrupted after the co-signer committed; "
                f"its share is now at {target}"
            )
            out().success(
                {**recovered, "recovered": True},
                f"address {recovered['address']}\nkey id  {recovered['key_id']}\n"
                f"share   {target} (recovered)",
            )
            return

        def write_pending(result: KeygenResult) -> None:
            header = {
                "key_id": result.key_id,
                "role": "P1",
                "engine": result.engine,
                "public_key": result.public_key.hex(),
                "address": result.address,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "name": name,
                "cosigner": endpoint,
            }
            body = ShareBody(result.key_blob, result.auth_secret)
            save_share(pending, body, header, passphrase, force=True)

        try:
            result = run_keygen(
                endpoint, name=name, engine_name=engine_name, write_pending=write_pending
            )
        except BaseException:
            with contextlib.suppress(OSError):
                pending.unlink()
            raise
        _promote(pending, target, force=force)
        data = {
            "address": result.address,
            "key_id": result.key_id,
            "public_key": result.public_key.hex(),
            "engine": result.engine,
            "name": name,
            "share": str(target),
            "cosigner": endpoint,
        }
        out().success(
            data,
            f"address {result.address}\nkey id  {result.key_id}\nshare   {target}",
        )
