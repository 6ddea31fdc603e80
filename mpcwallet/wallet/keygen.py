"""Keygen: a new 2-of-2 key with the local co-signer (started for you if needed).

Atomicity (either both shares exist or neither):

1. DKG runs; the co-signer writes ``<key_id>.enc.pending`` and reports the public key.
2. We write our encrypted share to ``<out>.pending`` (atomic, 0600) and send ``commit``.
3. The co-signer renames its pending file into place and acks; only then do we rename
   ``<out>.pending`` to ``<out>`` and report success.

A failure before ``commit`` was sent removes our pending file, and the co-signer removes its
pending file when the session ends uncommitted (or at its next start, if it was killed). If the
connection drops after ``commit`` was sent but before the ack, nobody can know whether the
co-signer renamed its file, so ``<out>.pending`` is kept and the error says so. A client killed
at any point leaves at most ``<out>.pending``. The next keygen for the same ``<out>`` settles
it: it asks the co-signer whether it holds that key; if it does, the pending share is promoted
and reported (``"recovered": true``); if it positively does not, the file is deleted; if the
co-signer cannot answer, the file is kept and the error shown. A per-path lock file (under
``MPC_HOME/locks/``, never in ``shares/``) keeps two keygens from writing one path at once.

Keygen never replaces an existing share, with or without ``--force``: a key is replaced only by
retiring it first (`mpc key retire NAME`, which keeps the old share in ``MPC_HOME/retired/``).
Once our share is in place we tell the co-signer (``confirm``), so it does not list the key as
a possible orphan.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpcwallet.errors import AlreadyExists, BadInput, MpcError
from mpcwallet.storage.files import clean_stale_temps, ensure_dir, publish
from mpcwallet.wallet.cosigner import CosignerPassphrase, passphrase_from_env

if TYPE_CHECKING:
    from mpcwallet.session.client import KeygenResult
    from mpcwallet.wallet.ports import Ui

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_keygen(*, name: str, out: Path | None, engine: str | None) -> tuple[Path, str]:
    """Everything a keygen can refuse before a passphrase is asked: the name, the target
    (never a directory, never an existing share), the engine and MPC_ROUND_TIMEOUT.

    Returns the share path to write and the engine's name. Reads only."""
    from mpcwallet.config import default_share_path
    from mpcwallet.engine import get_engine
    from mpcwallet.session.channel import round_timeout_from_env
    from mpcwallet.session.client import engine_for_home

    if not NAME_RE.match(name):
        raise BadInput(
            "--name: use 1-64 letters, digits, '_', '.' or '-' (starting with a letter or digit)",
            field="name",
        )
    target = out or default_share_path(name)
    if target.is_dir():
        raise BadInput(f"--out: {target} is a directory", field="out")
    refuse_existing_share(target)
    engine_name = engine or engine_for_home()
    get_engine(engine_name)
    round_timeout_from_env()  # bad MPC_ROUND_TIMEOUT: say so before anything happens
    return target, engine_name


def keygen(
    *,
    name: str,
    out: Path | None,
    engine: str | None,
    passphrase: str,
    ui: Ui,
    cosigner_passphrase: CosignerPassphrase = passphrase_from_env,
) -> dict[str, Any]:
    """A new key with the co-signer, its share written to the target under ``passphrase``.

    Starts this home's co-signer if none runs (``cosigner_passphrase(first_start)`` is asked
    only then). A share left by an interrupted keygen that the co-signer committed is finished
    instead: the result is its summary with ``"recovered": True``. Otherwise the result is
    ``{address, key_id, public_key, engine, name, share, cosigner}``."""
    from mpcwallet.session.client import resolve_endpoint
    from mpcwallet.wallet.cosigner import ensure_running

    target, engine_name = check_keygen(name=name, out=out, engine=engine)
    endpoint = resolve_endpoint()
    with ui.step("starting the co-signer"):
        started = ensure_running(endpoint, cosigner_passphrase)
    if started is not None:
        endpoint = str(started.get("url", endpoint))
        ui.info(f"started the co-signer at {endpoint} (pid {started.get('pid')})")
    pending = pending_path(target)
    with _target_lock(target):
        recovered = _recover(pending, target, endpoint)
        if recovered is not None:
            ui.warn(
                "an earlier keygen was interrupted after the co-signer committed; "
                f"its share is now at {target}"
            )
            return {**recovered, "recovered": True}
        refuse_existing_share(target)  # again, under the lock
        with ui.step(f"generating the key with the co-signer ({engine_name} engine)"):
            result = _run(endpoint, name, engine_name, pending, target, passphrase)
    return {
        "address": result.address,
        "key_id": result.key_id,
        "public_key": result.public_key.hex(),
        "engine": result.engine,
        "name": name,
        "share": str(target),
        "cosigner": endpoint,
    }


def pending_path(out: Path) -> Path:
    return out.with_name(out.name + ".pending")


def refuse_existing_share(target: Path, command: str = "keygen", other: str = "--name") -> None:
    """:class:`AlreadyExists` recommending the safe step (never --force) if ``target`` exists."""
    if not (target.exists() or target.is_symlink()):
        return
    held = ""
    try:
        from mpcwallet.wallet.shares import share_summary

        held = f" (the key of {share_summary(target)['address']})"
    except MpcError:
        pass
    name = target.name.removesuffix(".enc")
    raise AlreadyExists(
        f"{target} already holds a key share{held}; {command} never replaces a share. Choose "
        f"another {other}, or retire this key first with `mpc key retire {name}` (it keeps the "
        "share in MPC_HOME/retired/ and prints its address so funds can still be moved).",
        field="out",
    )


def _recover(pending: Path, out: Path, endpoint: str) -> dict[str, Any] | None:
    """Deal with ``<out>.pending`` left by an interrupted keygen (see the module doc).

    The file is deleted only when the co-signer positively says it does not hold that key;
    if the co-signer cannot answer, the file is kept and the error raised.
    """
    if not pending.exists():
        return None
    from mpcwallet.errors import Unhealthy
    from mpcwallet.session.client import health
    from mpcwallet.wallet.shares import share_summary

    try:
        summary = share_summary(pending)
    except MpcError:
        pending.unlink(missing_ok=True)  # unreadable: never a usable share
        return None
    try:
        health(endpoint, key_id=str(summary["key_id"]), engine_name=str(summary["engine"]))
    except Unhealthy as exc:
        if exc.field != "key":
            raise Unhealthy(
                f"cannot tell whether an interrupted keygen ({pending}) completed: {exc.message}",
                field=exc.field,
            ) from None
        pending.unlink(missing_ok=True)  # the co-signer never committed it
        return None
    if out.exists() or out.is_symlink():
        raise AlreadyExists(
            f"{out} exists and {pending} holds another key the co-signer committed; keygen "
            f"replaces neither. Retire {out} with `mpc key retire` (or move it away), then run "
            "`mpc keygen` again to finish the interrupted one.",
            field="out",
        )
    publish(pending, out, force=False)
    summary["share"] = str(out)
    return summary


@contextlib.contextmanager
def _target_lock(target: Path) -> Iterator[None]:
    """One keygen at a time per share path (a concurrent run must not take our pending file)."""
    import hashlib

    from mpcwallet.lifecycle.locks import home_lock

    ensure_dir(target.parent)
    digest = hashlib.sha256(str(target.absolute()).encode()).hexdigest()[:24]
    with home_lock(
        f"keygen-{digest}",
        lambda: AlreadyExists(f"another `mpc keygen` is writing {target} right now", field="out"),
    ):
        _clean_temps(target)
        yield


def _clean_temps(target: Path) -> None:
    """Remove temp files a killed keygen left: encrypted copies of abandoned shares.

    Only our own pattern, only files no live writer holds (``storage.files.clean_stale_temps``):
    the shares directory, and our target's and pending file's names wherever --out points.
    """
    from mpcwallet.config import shares_dir

    clean_stale_temps(shares_dir())
    for name in (target.name, pending_path(target).name):
        clean_stale_temps(target.parent, name)


def _run(
    endpoint: str, name: str, engine_name: str, pending: Path, target: Path, passphrase: str
) -> KeygenResult:
    """DKG + two-phase commit; our share is at ``pending`` when this returns."""
    from mpcwallet.accounts import header_fields
    from mpcwallet.session.client import run_keygen
    from mpcwallet.storage.body import ShareBody
    from mpcwallet.storage.store import save_share

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
            **header_fields(result.chain_code),
            "generation": 0,
        }
        save_share(
            pending, ShareBody(result.key_blob, result.auth_secret), header, passphrase, force=True
        )

    def put_in_place(_result: KeygenResult) -> None:
        try:
            publish(pending, target, force=False)
        except (MpcError, OSError) as exc:
            err = AlreadyExists(
                f"the key was made, but {target} could not be written "
                f"({getattr(exc, 'message', type(exc).__name__)})",
                field="out",
            )
            err.commit_uncertain = True  # type: ignore[attr-defined]
            raise err from None

    try:
        return run_keygen(
            endpoint,
            name=name,
            engine_name=engine_name,
            write_pending=write_pending,
            on_committed=put_in_place,
        )
    except MpcError as exc:
        if target.exists() and not pending.exists():
            # Our share is in place; only the confirmation to the co-signer was lost.
            raise type(exc)(
                f"{exc.message}. The key was made and {target} written; the co-signer may list it "
                "as unconfirmed until the key is next used.",
                field=exc.field,
            ) from None
        if getattr(exc, "commit_uncertain", False) and pending.exists():
            # The co-signer may have stored its share: keep ours for the next run to settle.
            raise type(exc)(
                f"{exc.message}. The co-signer lost the connection after being asked to commit, "
                f"so whether it kept the new key is unknown; {pending} is kept. Run `mpc keygen` "
                "again (same --out/--name): it finishes the key if the co-signer has it and "
                "cleans up otherwise.",
                field=exc.field,
            ) from None
        pending.unlink(missing_ok=True)
        raise
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
