"""The encrypted envelope around a share body: pure functions, no I/O.

File format (version 1), one line of canonical JSON (keys sorted, no spaces, ASCII) plus "\\n"::

    {"check": B64, "cipher": "chacha20-poly1305", "ciphertext": B64,
     "header": {"key_id": ..., "role": ..., "engine": ..., "public_key": ..., "address": ...,
                "created_at": ..., ...any JSON},
     "kdf": "argon2id", "kdf_params": {"m": KiB, "p": lanes, "salt": B64, "t": passes},
     "nonce": B64, "sha256": HEX, "version": 1}

B64 is standard base64 with padding; HEX is lowercase. Salt 16 bytes, nonce 12, check 16.

Keys. ``K = Argon2id(passphrase, salt, m, t, p)`` (argon2-cffi ``hash_secret_raw``, 32 bytes);
two subkeys by HKDF-SHA256 (``cryptography``): ``aead_key`` and ``check_key``.

* ``check = HMAC-SHA256(check_key, CHECK_LABEL)[:16]`` depends on the passphrase, salt and
  params only. A mismatch means the passphrase is wrong (:class:`WrongPassphrase`).
* ``ciphertext = ChaCha20-Poly1305(aead_key, nonce, body, ad)`` where ``ad`` is the canonical JSON
  of the public part ``{version, kdf, kdf_params, cipher, nonce, header}``. Check OK but AEAD
  failure means the file was modified (:class:`TamperedFile`): editing any header field fails.
* ``sha256`` is an unkeyed digest of the canonical JSON of every other field. It is not a
  security check (anyone can recompute it); it turns accidental or naive edits of the fields the
  key depends on (salt, params, check) into :class:`TamperedFile` instead of a misleading
  "wrong passphrase", and lets :func:`read_header` notice a damaged header without a passphrase.
  A file deliberately re-made with another salt or check and a recomputed digest is
  indistinguishable from a file under another passphrase, and is reported as such.

KDF parameters are read from the file and must lie between :data:`KDF_FLOOR` (OWASP's Argon2id
minimum: m = 19 MiB, t = 2, p = 1) and :data:`KDF_CEILING` (so a crafted file cannot make us
allocate or spin without bound).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from argon2.exceptions import HashingError
from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mpcwallet import jsonio
from mpcwallet.errors import (
    BadInput,
    FileFormatError,
    KdfParamsMismatch,
    TamperedFile,
    WeakKdfParams,
    WrongPassphrase,
)

__all__ = [
    "BACKUP_KDF",
    "FORMAT_VERSION",
    "KDF_CEILING",
    "KDF_FLOOR",
    "MAX_ENVELOPE_BYTES",
    "SHARE_KDF",
    "DerivedKey",
    "KdfParams",
    "decrypt_share",
    "decrypt_share_with_key",
    "derive_key",
    "encrypt_share",
    "encrypt_share_with_key",
    "read_header",
    "read_kdf_params",
]

FORMAT_VERSION = 1
KDF_NAME = "argon2id"
CIPHER_NAME = "chacha20-poly1305"
SALT_BYTES = 16
MAX_SALT_BYTES = 64
NONCE_BYTES = 12
CHECK_BYTES = 16
KEY_BYTES = 32
TAG_BYTES = 16
# A share file holds one key blob (tens of KB); anything far larger is not ours.
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024

_AEAD_INFO = b"mpcwallet/share/v1/aead-key"
_CHECK_INFO = b"mpcwallet/share/v1/check-key"
CHECK_LABEL = b"mpcwallet/share/v1/key-check"

_TOP_KEYS = frozenset(
    {"version", "kdf", "kdf_params", "cipher", "nonce", "header", "check", "ciphertext", "sha256"}
)
_PARAM_KEYS = frozenset({"m", "t", "p", "salt"})


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost (``m_kib`` KiB of memory, ``t`` passes, ``p`` lanes) and salt.

    The cost profiles :data:`SHARE_KDF` and :data:`BACKUP_KDF` have an empty salt; use
    :meth:`fresh` or :meth:`with_fresh_salt` for parameters to encrypt with.
    """

    m_kib: int
    t: int
    p: int
    salt: bytes = b""

    @classmethod
    def fresh(cls, profile: Literal["share", "backup"] | KdfParams = "share") -> KdfParams:
        """The ``profile``'s cost with a fresh random salt."""
        base = profile if isinstance(profile, KdfParams) else _PROFILES[profile]
        return base.with_fresh_salt()

    def with_fresh_salt(self) -> KdfParams:
        return replace(self, salt=os.urandom(SALT_BYTES))

    def same_cost(self, other: KdfParams) -> bool:
        return (self.m_kib, self.t, self.p) == (other.m_kib, other.t, other.p)


# Shares: Argon2id m = 64 MiB, t = 3, p = 4 (~0.07 s here). Backups, opened rarely and kept
# off-machine, cost more: m = 256 MiB, t = 4, p = 4 (~0.45 s on the 2-core dev box).
SHARE_KDF = KdfParams(m_kib=64 * 1024, t=3, p=4)
BACKUP_KDF = KdfParams(m_kib=256 * 1024, t=4, p=4)
# OWASP Password Storage Cheat Sheet, Argon2id minimum: m = 19 MiB, t = 2, p = 1.
KDF_FLOOR = KdfParams(m_kib=19 * 1024, t=2, p=1)
# Above this a file is refused as malformed: 2 GiB of memory, 16 passes, 16 lanes.
KDF_CEILING = KdfParams(m_kib=2 * 1024 * 1024, t=16, p=16)

_PROFILES: dict[str, KdfParams] = {"share": SHARE_KDF, "backup": BACKUP_KDF}


class DerivedKey:
    """Subkeys derived from a passphrase under fixed KDF params. Its repr shows no key."""

    __slots__ = ("_aead_key", "_check", "params")

    def __init__(self, params: KdfParams, aead_key: bytes, check: bytes) -> None:
        self.params = params
        self._aead_key = aead_key
        self._check = check

    def __repr__(self) -> str:
        p = self.params
        return f"DerivedKey(m_kib={p.m_kib}, t={p.t}, p={p.p}, salt={p.salt.hex()})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a DerivedKey is not picklable")


# --- params --------------------------------------------------------------------------------


def check_params(params: KdfParams) -> None:
    """Refuse params below :data:`KDF_FLOOR` (WeakKdfParams) or above :data:`KDF_CEILING`."""
    for name, value in (("m", params.m_kib), ("t", params.t), ("p", params.p)):
        if type(value) is not int:
            raise FileFormatError(f"KDF parameter {name} must be an integer", field=name)
    weak = [
        f"{name}={value} (minimum {floor})"
        for name, value, floor in (
            ("m", params.m_kib, KDF_FLOOR.m_kib),
            ("t", params.t, KDF_FLOOR.t),
            ("p", params.p, KDF_FLOOR.p),
        )
        if value < floor
    ]
    if weak:
        raise WeakKdfParams(
            "Argon2id parameters below the floor: " + ", ".join(weak) + "; refusing the file",
            field="kdf_params",
        )
    big = [
        f"{name}={value} (maximum {ceiling})"
        for name, value, ceiling in (
            ("m", params.m_kib, KDF_CEILING.m_kib),
            ("t", params.t, KDF_CEILING.t),
            ("p", params.p, KDF_CEILING.p),
        )
        if value > ceiling
    ]
    if big:
        raise FileFormatError(
            "Argon2id parameters above the ceiling: " + ", ".join(big) + "; refusing the file",
            field="kdf_params",
        )
    # RFC 9106 section 3.1: memory must be at least 8 * p KiB (always true above the floor).
    if not SALT_BYTES <= len(params.salt) <= MAX_SALT_BYTES:
        raise FileFormatError(
            f"KDF salt must be {SALT_BYTES}..{MAX_SALT_BYTES} bytes", field="kdf_params.salt"
        )


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    if isinstance(passphrase, str):
        # NFC so the same passphrase typed on different systems derives the same key.
        raw = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    else:
        raw = bytes(passphrase)
    if not raw:
        raise BadInput("the passphrase is empty; choose a non-empty one", field="passphrase")
    return raw


def derive_key(passphrase: str | bytes, params: KdfParams) -> DerivedKey:
    """Run Argon2id once and derive the AEAD key and the key-check value."""
    check_params(params)
    secret = _passphrase_bytes(passphrase)
    try:
        master = hash_secret_raw(
            secret=secret,
            salt=params.salt,
            time_cost=params.t,
            memory_cost=params.m_kib,
            parallelism=params.p,
            hash_len=KEY_BYTES,
            type=Type.ID,
            version=ARGON2_VERSION,
        )
    except HashingError:
        raise BadInput(
            f"cannot run Argon2id with m={params.m_kib} KiB on this machine (out of memory?)",
            field="kdf_params",
        ) from None
    aead_key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_AEAD_INFO)
    check_key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_CHECK_INFO)
    check = hmac.new(check_key.derive(master), CHECK_LABEL, hashlib.sha256).digest()
    return DerivedKey(params, aead_key.derive(master), check[:CHECK_BYTES])


# --- encoding ------------------------------------------------------------------------------


def _canonical(obj: Any) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, field: str, *, min_len: int, max_len: int) -> bytes:
    if not isinstance(value, str):
        raise FileFormatError(f"field {field!r} must be a base64 string", field=field)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FileFormatError(f"field {field!r} is not valid base64", field=field) from None
    if _b64(raw) != value:
        raise FileFormatError(f"field {field!r} is not canonical base64", field=field)
    if not min_len <= len(raw) <= max_len:
        raise FileFormatError(f"field {field!r} has the wrong length", field=field)
    return raw


def _public_part(params: KdfParams, nonce: bytes, header: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "kdf": KDF_NAME,
        "kdf_params": {"m": params.m_kib, "t": params.t, "p": params.p, "salt": _b64(params.salt)},
        "cipher": CIPHER_NAME,
        "nonce": _b64(nonce),
        "header": dict(header),
    }


def _checked_header(header: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(header)
    if not all(isinstance(k, str) for k in out):
        raise BadInput("header keys must be strings", field="header")
    try:
        _canonical(out)
    except (TypeError, ValueError):
        raise BadInput("the header must hold JSON values only", field="header") from None
    # What we write must read back identically (e.g. no tuples, no non-str nested keys).
    if json.loads(_canonical(out)) != out:
        raise BadInput("the header does not survive a JSON round trip", field="header")
    return out


def _seal(body: bytes, header: Mapping[str, Any], key: DerivedKey) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    public = _public_part(key.params, nonce, _checked_header(header))
    ciphertext = ChaCha20Poly1305(key._aead_key).encrypt(nonce, bytes(body), _canonical(public))
    whole = {**public, "check": _b64(key._check), "ciphertext": _b64(ciphertext)}
    whole["sha256"] = hashlib.sha256(_canonical(whole)).hexdigest()
    return _canonical(whole) + b"\n"


# --- decoding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    public: dict[str, Any]
    params: KdfParams
    nonce: bytes
    header: dict[str, Any]
    check: bytes
    ciphertext: bytes


def _parse(data: bytes) -> _Parsed:
    """Structure, canonical form and digest. Raises FileFormatError or TamperedFile."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise FileFormatError("not an mpcwallet share file (far too large)")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise FileFormatError("not an mpcwallet share file (not ASCII JSON)") from None
    # Bounded and strict: depth, integer length, duplicate keys, NaN (mpcwallet.jsonio).
    obj = jsonio.loads(text, what="not an mpcwallet share file", max_bytes=MAX_ENVELOPE_BYTES)
    if not isinstance(obj, dict):
        raise FileFormatError("not an mpcwallet share file (not a JSON object)")
    version = obj.get("version")
    if "version" not in obj or type(version) is not int:
        raise FileFormatError("not an mpcwallet share file (no format version)", field="version")
    if version != FORMAT_VERSION:
        raise FileFormatError(
            f"share file format version {version}; this mpcwallet reads {FORMAT_VERSION}",
            field="version",
        )
    missing = sorted(_TOP_KEYS - obj.keys())
    if missing:
        raise FileFormatError(f"share file lacks field {missing[0]!r}", field=missing[0])
    extra = sorted(obj.keys() - _TOP_KEYS)
    if extra:
        raise FileFormatError(f"share file has unknown field {extra[0]!r}", field=extra[0])
    digest = obj["sha256"]
    if not isinstance(digest, str) or len(digest) != 64:
        raise FileFormatError("field 'sha256' must be 64 hex digits", field="sha256")
    # Integrity of the bytes as written (canonical form, then the digest over the other fields)
    # before the fields' own checks, so any edit inside a value reads as tampering.
    if _canonical(obj) + b"\n" != data:
        raise TamperedFile("the share file was modified after it was written (not canonical)")
    rest = {k: v for k, v in obj.items() if k != "sha256"}
    if not hmac.compare_digest(
        hashlib.sha256(_canonical(rest)).hexdigest().encode(), digest.encode()
    ):
        raise TamperedFile("the share file was modified after it was written (digest mismatch)")
    if obj["kdf"] != KDF_NAME:
        raise FileFormatError(f"unsupported KDF; this mpcwallet reads {KDF_NAME}", field="kdf")
    if obj["cipher"] != CIPHER_NAME:
        raise FileFormatError(
            f"unsupported cipher; this mpcwallet reads {CIPHER_NAME}", field="cipher"
        )
    kp = obj["kdf_params"]
    if not isinstance(kp, dict) or kp.keys() != _PARAM_KEYS:
        raise FileFormatError("field 'kdf_params' must hold m, t, p, salt", field="kdf_params")
    for name in ("m", "t", "p"):
        if type(kp[name]) is not int:
            raise FileFormatError(
                f"KDF parameter {name} must be an integer", field=f"kdf_params.{name}"
            )
    salt = _unb64(kp["salt"], "kdf_params.salt", min_len=1, max_len=MAX_SALT_BYTES)
    nonce = _unb64(obj["nonce"], "nonce", min_len=NONCE_BYTES, max_len=NONCE_BYTES)
    check = _unb64(obj["check"], "check", min_len=CHECK_BYTES, max_len=CHECK_BYTES)
    ciphertext = _unb64(
        obj["ciphertext"], "ciphertext", min_len=TAG_BYTES, max_len=MAX_ENVELOPE_BYTES
    )
    header = obj["header"]
    if not isinstance(header, dict):
        raise FileFormatError("field 'header' must be a JSON object", field="header")
    public = {k: obj[k] for k in ("version", "kdf", "kdf_params", "cipher", "nonce", "header")}
    params = KdfParams(m_kib=kp["m"], t=kp["t"], p=kp["p"], salt=salt)
    return _Parsed(public, params, nonce, dict(header), check, ciphertext)


def _open(parsed: _Parsed, key: DerivedKey) -> bytes:
    if not hmac.compare_digest(parsed.check, key._check):
        raise WrongPassphrase("wrong passphrase for this file")
    try:
        return ChaCha20Poly1305(key._aead_key).decrypt(
            parsed.nonce, parsed.ciphertext, _canonical(parsed.public)
        )
    except InvalidTag:
        raise TamperedFile(
            "the share file was modified after it was written (authentication failed); "
            "restore it from a backup"
        ) from None


# --- API -----------------------------------------------------------------------------------


def encrypt_share(
    body: bytes,
    header: Mapping[str, Any],
    passphrase: str | bytes,
    *,
    params: KdfParams | None = None,
) -> bytes:
    """Envelope bytes for ``body``. Cost from ``params`` (default :data:`SHARE_KDF`); the salt
    and nonce are always fresh."""
    key = derive_key(passphrase, KdfParams.fresh(params or SHARE_KDF))
    return _seal(body, header, key)


def decrypt_share(data: bytes, passphrase: str | bytes) -> tuple[dict[str, Any], bytes]:
    """``(header, body)``. FileFormatError / WeakKdfParams / WrongPassphrase / TamperedFile."""
    parsed = _parse(data)
    key = derive_key(passphrase, parsed.params)
    return parsed.header, _open(parsed, key)


def encrypt_share_with_key(body: bytes, header: Mapping[str, Any], key: DerivedKey) -> bytes:
    """As :func:`encrypt_share` under an already derived key (its salt and params), fresh nonce."""
    return _seal(body, header, key)


def decrypt_share_with_key(data: bytes, key: DerivedKey) -> tuple[dict[str, Any], bytes]:
    """As :func:`decrypt_share`; KdfParamsMismatch if the file was made under other params."""
    parsed = _parse(data)
    if parsed.params != key.params:
        raise KdfParamsMismatch(
            "this file was encrypted under other KDF parameters or salt than the unlocked key"
        )
    return parsed.header, _open(parsed, key)


def read_header(data: bytes) -> dict[str, Any]:
    """The public header, without a passphrase. Checks structure and the (unkeyed) digest only:
    the header is authenticated only when the file is decrypted."""
    return _parse(data).header


def read_kdf_params(data: bytes) -> KdfParams:
    """The file's KDF params (checked against floor and ceiling), e.g. to derive a key once."""
    params = _parse(data).params
    check_params(params)
    return params
