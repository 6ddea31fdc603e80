"""Client-side quarantine of a key after a protocol violation; fails closed.

Why: in two-party ECDSA a malicious co-signer can make signing fail depending on a bit of the
client's share and learn that bit from whether the client aborts (the "abort attack", Lindell
2017, ePrint 2017/552, §1.2 and §4). After one violation the client refuses to use that key until
an operator lifts the quarantine.

Two records, each a small 0600 JSON file written atomically (time, code, message, key id; never a
secret): ``<share>.quarantine`` next to the share, and ``MPC_HOME/quarantine/<key_id>.json``.
The check reads both and goes by key id, so a copy or a symlink of the share is refused too.
If a record cannot be written the violation is still reported as one (exit 9), and the message
says which record exists; if neither could be written it says so and tells the user not to sign.

So that a write error never leaves a key that should be quarantined signing again (issue 20.8),
no session that could end in a violation starts unless the record by key id can be written:
:func:`ensure_can_quarantine` creates, fsyncs and removes a file in ``MPC_HOME/quarantine/`` and
checks nothing but a regular file (or nothing) sits at the record's own path, else
:class:`QuarantineUnavailable` (exit 7) and no session runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from mpcwallet.config import mpc_home
from mpcwallet.errors import BadInput, KeyQuarantined, MpcError, QuarantineUnavailable
from mpcwallet.homes.paths import check_key_id

QUARANTINE_SUFFIX = ".quarantine"


def quarantine_path(share: Path) -> Path:
    return share.with_name(share.name + QUARANTINE_SUFFIX)


def key_quarantine_path(key_id: str) -> Path:
    return mpc_home() / "quarantine" / f"{check_key_id(key_id)}.json"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return None  # a directory is not a record we wrote
    except OSError:
        return {"reason": f"unreadable quarantine record {path}"}  # fail closed
    from mpcwallet import jsonio

    try:
        record = jsonio.loads(text, what=str(path))
    except (ValueError, MpcError):
        return {"reason": f"unparseable quarantine record {path}"}  # fail closed
    return record if isinstance(record, dict) else {"reason": "malformed quarantine record"}


def _valid_key_id(key_id: object) -> str | None:
    try:
        return check_key_id(key_id)
    except BadInput:
        return None


def read_quarantine(share: Path, key_id: str | None = None) -> dict[str, Any] | None:
    """The record quarantining this share or its key id, if any (key id record first)."""
    kid = _valid_key_id(key_id)
    if kid is not None:
        record = _read(key_quarantine_path(kid))
        if record is not None:
            return record
    return _read(quarantine_path(share))


def record_quarantine(
    share: Path, err: MpcError, *, key_id: str | None, session_id: str | None = None
) -> tuple[list[Path], list[str]]:
    """Write both records; ``(written paths, failures)``. Never raises for a failed write."""
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
    data = (json.dumps(record, indent=2) + "\n").encode()
    targets = [quarantine_path(share)]
    kid = _valid_key_id(key_id)
    if kid is not None:
        targets.append(key_quarantine_path(kid))
    written: list[Path] = []
    failures: list[str] = []
    for path in targets:
        try:
            write_atomic(path, data, force=True)
            written.append(path)
        except (MpcError, OSError) as exc:
            failures.append(f"{path}: {getattr(exc, 'message', type(exc).__name__)}")
    return written, failures


def quarantine_note(written: list[Path], failures: list[str]) -> str:
    """What to tell the user about the records (appended to the violation's message)."""
    if not written:
        return (
            "The key could NOT be quarantined (" + "; ".join(failures) + "): do not sign with it "
            "until you have checked the co-signer"
        )
    note = "The key is now quarantined (" + ", ".join(str(p) for p in written) + ")"
    if failures:
        note += "; the record at " + "; ".join(failures) + " could not be written"
    return note


def quarantine_violation(
    share: Path, err: MpcError, *, key_id: str | None, session_id: str | None = None
) -> MpcError:
    """Record the quarantine; the same error class (same code, exit 9) with the note added."""
    written, failures = record_quarantine(share, err, key_id=key_id, session_id=session_id)
    return type(err)(
        f"{err.message}. {quarantine_note(written, failures)}; nothing was signed or written. "
        "See `mpc key status`."
    )


def ensure_not_quarantined(share: Path, key_id: str | None = None) -> None:
    if key_id is None:
        from mpcwallet.storage.store import load_header

        value = load_header(share).get("key_id")
        key_id = value if isinstance(value, str) else None
    record = read_quarantine(share, key_id)
    if record is None:
        return
    raise KeyQuarantined(
        f"the key in {share} (key id {key_id}) is quarantined since "
        f"{record.get('quarantined_at', '?')}: a protocol violation "
        f"({record.get('error_code', '?')}) happened while using it. A co-signer that makes "
        "signing fail on purpose can learn bits of your key share from repeated attempts (the "
        "abort attack on two-party ECDSA), so using this key is refused. Check the co-signer "
        "(its log, its binary, who controls it); then lift this with "
        f"`mpc key unquarantine --share {share} --yes-i-understand`, or move the funds to a "
        "fresh key made with `mpc keygen`.",
        field="share",
    )


def _unwritable(path: Path) -> str | None:
    """Why a record could not be written at ``path`` now, or None if it could."""
    import secrets
    import stat

    from mpcwallet.storage.files import ensure_dir

    try:
        mode = os.lstat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            return "something other than a file is in the way"
    except FileNotFoundError:
        pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    probe = path.parent / f".{path.name}.{secrets.token_hex(6)}.probe"
    try:
        ensure_dir(path.parent)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"{}\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.unlink(probe)
    except (MpcError, OSError) as exc:
        with contextlib.suppress(OSError):
            os.unlink(probe)
        return getattr(exc, "message", None) or getattr(exc, "strerror", None) or str(exc)
    return None


def ensure_can_quarantine(share: Path, key_id: str | None) -> None:
    """Before a session: :class:`QuarantineUnavailable` unless this key's quarantine record (by
    key id) can be written, so a violation in the session is always recorded."""
    kid = _valid_key_id(key_id)
    if kid is None:
        from mpcwallet.storage.store import load_header

        kid = _valid_key_id(load_header(share).get("key_id"))
    if kid is None:
        raise QuarantineUnavailable(
            f"{share}: the share header names no valid key id, so a quarantine could not be "
            "recorded by key id; refusing to start a session",
            field="share",
        )
    target = key_quarantine_path(kid)
    why = _unwritable(target)
    if why is not None:
        raise QuarantineUnavailable(
            f"refusing to start a session with key {kid}: its quarantine record {target} could "
            f"not be written ({why}), so a protocol violation could not be recorded and the key "
            "could sign again after one. Make that path writable (free space, remove what is in "
            "the way, check permissions) and retry.",
            field="share",
        )


def lift_quarantine(share: Path, key_id: str | None) -> None:
    paths = [quarantine_path(share)]
    kid = _valid_key_id(key_id)
    if kid is not None:
        paths.append(key_quarantine_path(kid))
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
