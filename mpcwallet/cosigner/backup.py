"""Co-signer backups: every share it holds, its identity (install id, static key), the local
token and the paired-client registry, in one envelope.

The co-signer's shares are encrypted under its KEK (:mod:`mpcwallet.cosigner.keyring`), which
only its passphrase unlocks. A backup decrypts them with the KEK and re-encrypts them, together,
under a separate backup passphrase in the same envelope format as every share (Argon2id with the
backup profile, ChaCha20-Poly1305). Its clear header lists key ids, addresses, engines and
generations, never a secret. Import re-encrypts each share under the KEK of the home it goes
into (created from the co-signer passphrase on a fresh home) and restores the local token if
that home has none, and the static key and client registry together, only into a home with the
backup's install id and no registry of its own (``clients.restore_from_backup``).

Stale: a backup holding an older generation of a key than the latest one known outside it (the
co-signer's own share, a client share in the same MPC_HOME, ``--expect-generation``) predates a
refresh; it is refused, and so is a key whose latest generation nothing here knows, unless the
operator allows older generations (:mod:`mpcwallet.cosigner.restore_check`). Nothing is written
then.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mpcwallet.cosigner import keyring
from mpcwallet.cosigner.keystore import KeyStore
from mpcwallet.errors import FileFormatError, MpcError
from mpcwallet.homes.paths import CosignerPaths, check_key_id
from mpcwallet.session.install_id import INSTALL_ID_FILE
from mpcwallet.storage import envelope
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.files import read_share_file, write_atomic, write_new
from mpcwallet.storage.generation import generation_of

KIND = "cosigner-backup"
VERSION = 1


def _summary(key_id: str, header: dict[str, Any]) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "address": header.get("address"),
        "engine": header.get("engine"),
        "generation": generation_of(header),
    }


def export_backup(
    paths: CosignerPaths, cosigner_passphrase: str, backup_passphrase: str, out: Path, force: bool
) -> dict[str, Any]:
    kek = keyring.unlock_existing(paths.keyring_file, cosigner_passphrase)
    store = KeyStore(paths, kek)
    entries = []
    keys = []
    for key_id in store.key_ids():
        header, body = store.load(key_id)
        entries.append({"header": header, "body": base64.b64encode(body.encode()).decode()})
        keys.append(_summary(key_id, header))
    token = paths.token_file.read_text().strip() if paths.token_file.exists() else None
    id_file = paths.root / INSTALL_ID_FILE
    install_id = id_file.read_text().strip() if id_file.exists() else None
    from mpcwallet.cosigner.clients import for_backup

    identity = {"token": token, "install_id": install_id, **for_backup(paths)}
    payload = json.dumps({"shares": entries, **identity}, sort_keys=True).encode()
    header = {
        "kind": KIND,
        "version": VERSION,
        "purpose": "backup",
        "backed_up_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "keys": keys,
    }
    data = envelope.encrypt_share(payload, header, backup_passphrase, params=envelope.BACKUP_KDF)
    write_atomic(out, data, force=force)
    _audit(paths, "backup_exported", f"co-signer backup of {len(keys)} key(s) exported", keys)
    return {"path": str(out), "keys": keys}


def _audit(paths: CosignerPaths, event: str, msg: str, keys: list[dict[str, Any]]) -> None:
    """Record a backup export or import in the co-signer's hash-chained trail (key ids and a
    count only: never a share, token or passphrase)."""
    from mpcwallet.cosigner import logs
    from mpcwallet.cosigner.audit import attach

    attach(paths.root.parent)
    for key in keys:
        logs.audit(event, msg, key_id=key["key_id"], count=len(keys))
    if not keys:
        logs.audit(event, msg, count=0)


def read_backup(path: Path, backup_passphrase: str) -> tuple[dict[str, Any], list[Any], Any]:
    """``(header, [(header, ShareBody)], token)``; FileFormatError if not a co-signer backup."""
    data = read_share_file(path, what="co-signer backup")
    if envelope.read_header(data).get("kind") != KIND:
        raise FileFormatError(
            f"{path} is not a co-signer backup (client share backups use `mpc backup`)",
            field="in",
        )
    header, raw = envelope.decrypt_share(data, backup_passphrase)
    from mpcwallet import jsonio

    doc = jsonio.loads(raw, what=f"{path} (decrypted)", max_bytes=len(raw) + 1, field="in")
    try:
        shares = [
            (dict(e["header"]), ShareBody.decode(base64.b64decode(e["body"], validate=True)))
            for e in doc["shares"]
        ]
        token = {k: doc.get(k) for k in ("token", "install_id", "static_key", "clients")}
    except (ValueError, KeyError, TypeError):
        raise FileFormatError(f"{path}: the backup's contents are malformed", field="in") from None
    from mpcwallet.cosigner.clients import check_backup_identity

    check_backup_identity(token, path)
    for share_header, _ in shares:
        check_key_id(share_header.get("key_id"))
    return header, shares, token


def import_backup(
    paths: CosignerPaths,
    cosigner_passphrase: str,
    backup_passphrase: str,
    src: Path,
    *,
    expected: Mapping[str, int] | None = None,
    allow_older: bool = False,
) -> dict[str, Any]:
    """Restore ``src``; every key's generation is checked first (:mod:`restore_check`), and
    nothing (not even a new home's keyring) is written when one is refused."""
    from mpcwallet.cosigner.restore_check import check_restore

    _, shares, token = read_backup(src, backup_passphrase)
    plan = check_restore(paths, [h for h, _ in shares], expected or {}, allow_older=allow_older)
    present = plan.present
    kek = keyring.unlock(paths.keyring_file, cosigner_passphrase)
    restored = []
    already = []
    for header, body in shares:
        key_id = str(header["key_id"])
        if present.get(key_id) == generation_of(header):
            already.append(key_id)  # the same generation is already here
            continue
        # Absent, or an older generation here (the backup is newer): the backup's share wins.
        data = envelope.encrypt_share_with_key(body.encode(), header, kek)
        write_atomic(paths.share_file(key_id), data, force=key_id in present)
        restored.append(_summary(key_id, header))
    # The pairing token and the install id (the co-signer's identity, which clients check) move
    # with the shares, unless this home already has its own.
    if isinstance(token.get("token"), str) and not paths.token_file.exists():
        write_new(paths.token_file, str(token["token"]).encode() + b"\n")
    install_id = token.get("install_id")
    if isinstance(install_id, str) and re.fullmatch(r"[0-9a-f]{32}", install_id):
        write_new(paths.root / INSTALL_ID_FILE, install_id.encode() + b"\n")
    from mpcwallet.cosigner.clients import restore_from_backup

    restore_from_backup(paths, token, install_id)
    _audit(paths, "backup_imported", f"co-signer backup restored {len(restored)} key(s)", restored)
    if plan.unchecked:
        _audit(paths, "backup_older_allowed", "restored with --allow-older", plan.unchecked)
    return {"restored": restored, "already_present": sorted(already), "unchecked": plan.unchecked}


def verify_backup(src: Path, backup_passphrase: str) -> dict[str, Any]:
    """Decrypt and check every share in the backup (engine public key where the engine loads)."""
    from mpcwallet.engine import get_engine

    header, shares, _ = read_backup(src, backup_passphrase)
    keys = []
    for share_header, body in shares:
        row = _summary(str(share_header["key_id"]), share_header)
        try:
            engine = get_engine(str(share_header.get("engine")))
            ok = engine.public_key(body.key_blob).hex() == share_header.get("public_key")
            row["public_key"] = "passed" if ok else "MISMATCH"
        except MpcError as exc:
            row["public_key"] = f"skipped: {exc.code}"
        keys.append(row)
    bad = [k["key_id"] for k in keys if k["public_key"] == "MISMATCH"]
    if bad:
        from mpcwallet.errors import InconsistentShare

        raise InconsistentShare(f"{src}: key blob and public key disagree for {', '.join(bad)}")
    return {"path": str(src), "backed_up_at": header.get("backed_up_at"), "keys": keys}
