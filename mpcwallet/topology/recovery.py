"""Recovery keys: the PVE base keys node backups are encrypted to (issue 25).

A recovery key pair is one of cb-mpc's built-in PVE base keys (RSA-OAEP 2048 or ECIES P-256,
``pve_base_pke.h``). The private half lives offline, in one of two forms this module supports:

* a file in the storage envelope (Argon2id + ChaCha20-Poly1305, backup-profile cost), under a
  passphrase, with a public header (kind, name, key kind, public half, fingerprint);
* paper: the private half as hex (:func:`paper_hex`), typed back with :func:`from_paper`.

An HSM through cb-mpc's PVE callbacks is not supported (the binding exposes only the built-in
base keys).

The cluster configuration pins the public halves and the quorum (``"recovery"`` in
``cluster.json``, parsed here by :func:`parse_recovery`): a backup is encrypted to the single
key, or, with several keys, to ``quorum`` of them (PVE-AC, cb-mpc ``pve_ac``).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpcwallet.errors import BadInput, FileFormatError, MpcError
from mpcwallet.storage.envelope import KdfParams, decrypt_share, encrypt_share
from mpcwallet.storage.files import read_share_file, write_atomic

__all__ = [
    "KEY_KINDS",
    "RecoveryKey",
    "RecoverySet",
    "from_paper",
    "load_recovery_key",
    "new_recovery_key",
    "paper_hex",
    "parse_recovery",
    "save_recovery_key",
]

FILE_KIND = "mpc-recovery-key"
KEY_KINDS = ("rsa-oaep-2048", "ecies-p256")
MAX_RECOVERY_KEYS = 16
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_EK_BYTES = 4096
_RECOVERY_FIELDS = ("quorum", "keys")
_KEY_FIELDS = ("name", "kind", "ek")


@dataclass(frozen=True)
class RecoveryKey:
    """The public half of a recovery key, as the cluster configuration pins it."""

    name: str
    kind: str
    ek: bytes

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(b"mpcwallet recovery key v1\x00" + self.ek).hexdigest()[:24]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "ek": self.ek.hex()}


@dataclass(frozen=True)
class RecoverySet:
    """The pinned recovery keys and how many of them a restore needs (1 for a single key)."""

    keys: tuple[RecoveryKey, ...]
    quorum: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    @property
    def single(self) -> bool:
        return len(self.keys) == 1

    @property
    def fingerprint(self) -> str:
        """What a backup records as "encrypted to": the keys and the quorum, hashed."""
        doc = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(b"mpcwallet recovery set v1\x00" + doc).hexdigest()[:32]

    def key(self, name: str) -> RecoveryKey:
        for k in self.keys:
            if k.name == name:
                return k
        raise BadInput(f"{name!r} is not a pinned recovery key", field="recovery_key")

    def describe(self) -> str:
        if self.single:
            return f"recovery key {self.keys[0].name}"
        return f"{self.quorum} of recovery keys {', '.join(self.names)}"

    def to_json(self) -> dict[str, Any]:
        return {"quorum": self.quorum, "keys": [k.to_json() for k in self.keys]}


def _fail(source: str, fld: str, message: str) -> FileFormatError:
    return FileFormatError(f"{source}: {fld}: {message}", field=fld)


def parse_recovery(doc: Any, source: str) -> RecoverySet:
    """Validate the ``recovery`` object of a cluster configuration; errors name the file and
    the field (``recovery.keys[1].ek``)."""
    if not isinstance(doc, dict):
        raise _fail(source, "recovery", "must be a JSON object {quorum, keys}")
    for fld in _RECOVERY_FIELDS:
        if fld not in doc:
            raise _fail(source, f"recovery.{fld}", "is missing")
    extra = sorted(set(doc) - set(_RECOVERY_FIELDS))
    if extra:
        raise _fail(source, f"recovery.{extra[0]}", "is not a known field (known: quorum, keys)")
    raw_keys = doc["keys"]
    if not isinstance(raw_keys, list) or not 1 <= len(raw_keys) <= MAX_RECOVERY_KEYS:
        raise _fail(source, "recovery.keys", f"must list 1 to {MAX_RECOVERY_KEYS} keys")
    keys = []
    for i, raw in enumerate(raw_keys):
        fld = f"recovery.keys[{i}]"
        if not isinstance(raw, dict) or sorted(raw) != sorted(_KEY_FIELDS):
            raise _fail(source, fld, "must be an object with exactly name, kind, ek")
        name, kind, ek = raw["name"], raw["kind"], raw["ek"]
        if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
            raise _fail(source, f"{fld}.name", "must be 1 to 64 letters, digits, '.', '_', '-'")
        if kind not in KEY_KINDS:
            raise _fail(source, f"{fld}.kind", f"must be one of {', '.join(KEY_KINDS)}")
        if not isinstance(ek, str) or not re.fullmatch(r"(?:[0-9a-f]{2}){16,4096}", ek):
            raise _fail(source, f"{fld}.ek", "must be the public half in lowercase hex")
        keys.append(RecoveryKey(name, kind, bytes.fromhex(ek)))
    for attr in ("name", "ek"):
        values = [getattr(k, attr) for k in keys]
        if len(set(values)) != len(values):
            dup = next(i for i, v in enumerate(values) if values.index(v) != i)
            raise _fail(source, f"recovery.keys[{dup}].{attr}", "is pinned twice")
    quorum = doc["quorum"]
    if type(quorum) is not int or not 1 <= quorum <= len(keys):
        raise _fail(source, "recovery.quorum", f"must be an integer from 1 to {len(keys)}")
    return RecoverySet(tuple(keys), quorum)


# --- the private half -----------------------------------------------------------------------


def new_recovery_key(
    path: Path,
    name: str,
    kind: str,
    passphrase: str | bytes,
    *,
    params: KdfParams | None = None,
    force: bool = False,
) -> tuple[RecoveryKey, bytes]:
    """A fresh recovery key pair; the private half written to ``path`` under ``passphrase``
    (0600, atomic). Returns the public half and the private half (for :func:`paper_hex`)."""
    from mpcwallet.engine import pve  # needs cb-mpc

    if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
        raise BadInput(
            "the recovery key name must be 1 to 64 letters, digits, '.', '_', '-'", field="name"
        )
    if kind not in KEY_KINDS:
        raise BadInput(f"the key kind must be one of {', '.join(KEY_KINDS)}", field="kind")
    ek, dk = pve.generate_base_key(pve.BaseKeyKind(kind))
    public = RecoveryKey(name, kind, ek)
    save_recovery_key(path, public, dk, passphrase, params=params, force=force)
    return public, dk


def save_recovery_key(
    path: Path,
    public: RecoveryKey,
    dk: bytes,
    passphrase: str | bytes,
    *,
    params: KdfParams | None = None,
    force: bool = False,
) -> None:
    """Write a recovery key's private half under ``passphrase`` (0600, atomic)."""
    name, kind, ek = public.name, public.kind, public.ek
    header = {
        "kind": FILE_KIND,
        "name": name,
        "key_kind": kind,
        "ek": ek.hex(),
        "fingerprint": public.fingerprint,
        "created_at": int(time.time()),
    }
    data = encrypt_share(dk, header, passphrase, params=params or KdfParams.fresh("backup"))
    write_atomic(Path(path), data, force=force)


def load_recovery_key(path: Path, passphrase: str | bytes) -> tuple[RecoveryKey, bytes]:
    """``(public half, private half)`` from a recovery key file; errors name the file."""
    path = Path(path)
    data = read_share_file(path, what="recovery key file")
    try:
        header, dk = decrypt_share(data, passphrase)
    except MpcError as err:
        raise type(err)(f"{path}: {err.message}", field=err.field) from None
    if header.get("kind") != FILE_KIND:
        raise FileFormatError(f"{path} is not a recovery key file (kind {header.get('kind')!r})")
    try:
        public = RecoveryKey(
            str(header["name"]), str(header["key_kind"]), bytes.fromhex(str(header["ek"]))
        )
    except (KeyError, ValueError):
        raise FileFormatError(f"{path}: the header lacks the public half", field="ek") from None
    return public, dk


def paper_hex(dk: bytes) -> str:
    """The private half for paper: hex in groups of 8, 8 groups a line, then a checksum line
    (first 8 hex digits of its SHA-256) to catch a typing error."""
    text = dk.hex()
    groups = [text[i : i + 8] for i in range(0, len(text), 8)]
    lines = [" ".join(groups[i : i + 8]) for i in range(0, len(groups), 8)]
    return "\n".join([*lines, f"check {hashlib.sha256(dk).hexdigest()[:8]}"])


def from_paper(text: str) -> bytes:
    """The private half typed back from :func:`paper_hex`'s output (whitespace ignored)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines or not lines[-1].startswith("check "):
        raise BadInput("the paper key's last line must be 'check XXXXXXXX'", field="paper")
    check = lines[-1].split()[1].lower()
    digits = "".join("".join(lines[:-1]).split()).lower()
    if not re.fullmatch(r"(?:[0-9a-f]{2})+", digits):
        raise BadInput("the paper key must be hex digits", field="paper")
    dk = bytes.fromhex(digits)
    if hashlib.sha256(dk).hexdigest()[:8] != check:
        raise BadInput("the paper key does not match its check line: a typing error", field="paper")
    return dk
