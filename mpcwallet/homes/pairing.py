"""Pairing a client with a co-signer on another machine: one-time codes and the client's record.

A pairing code is ``id (5 bytes) || secret (20 bytes)`` in base32, grouped by four
(e.g. ``ABCD-EFGH-...``, 40 letters). The id is public (it names the code in the session hello);
the secret never travels. Both sides derive the session PSK from the secret with HKDF-SHA256
(:meth:`PairingCode.psk`), run one session authenticated by it and by the co-signer's static
key (the client takes that key from ``/healthz``: a wrong one fails the handshake, since only
the co-signer holds the code's PSK and the key's private half). Over that session the co-signer
registers the client and hands it a client id and a secret of its own
(:mod:`mpcwallet.cosigner.clients`); the client pins the static key the session authenticated.

Why no PAKE: the secret has 160 bits. A captured pairing exchange lets an observer test guesses
of the code offline, but with 2^160 candidates that is hopeless, so a plain PSK handshake is as
good as a PAKE here. Online guessing is cut off too: a code is claimed (and so burnt) by the
first session that names its id, whether that session then authenticates or not, and it
expires (default 10 minutes). A wrong code for a known id and an unknown, used or expired id
get the same refusal (the co-signer uses a dummy PSK for the latter).

The co-signer keeps a pending code as ``pairing-codes/<id>.json`` holding the derived PSK, the
expiry and the operator's label for the client, never the code itself; claiming renames the
file away (atomic, so two sessions cannot both claim one code).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mpcwallet.errors import AuthFailed, BadInput, FileFormatError, NotFound, ProtocolViolation
from mpcwallet.homes.paths import CLIENT_ID_RE, CosignerPaths, check_label
from mpcwallet.jsonio import load_file, loads
from mpcwallet.storage.files import ensure_dir, write_atomic

CODE_ID_BYTES = 5
CODE_SECRET_BYTES = 20
DEFAULT_TTL_S = 600
MAX_TTL_S = 24 * 3600
CODE_ID_RE = re.compile(r"^[A-Z2-7]{8}$")
_CODE_RE = re.compile(r"^[A-Z2-7]{40}$")
_INSTALL_ID_RE = re.compile(r"[0-9a-f]{32}")
_PSK_INFO = b"mpcwallet pairing-code psk v1 "
_WRAP_AAD = b"mpcwallet pairing token v1"
_HEX64_RE = re.compile(r"[0-9a-f]{64}")

PAIRING_FILE = "pairing.json"


@dataclass(frozen=True, repr=False)
class PairingCode:
    code_id: str  # public: 8 base32 letters
    secret: bytes  # 20 bytes

    def __repr__(self) -> str:
        return f"PairingCode(id={self.code_id})"

    def text(self) -> str:
        raw = base64.b32encode(base64.b32decode(self.code_id) + self.secret).decode()
        return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))

    def psk(self) -> bytes:
        """The 32-byte session PSK both sides derive from the code."""
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_PSK_INFO + self.code_id.encode()
        ).derive(self.secret)


def new_code() -> PairingCode:
    raw = secrets.token_bytes(CODE_ID_BYTES)
    return PairingCode(base64.b32encode(raw).decode(), secrets.token_bytes(CODE_SECRET_BYTES))


def parse_code(text: str) -> PairingCode:
    compact = re.sub(r"[\s-]", "", text).upper()
    if not _CODE_RE.match(compact):
        raise BadInput(
            "the pairing code is 40 letters and digits 2-7 (dashes optional), as printed "
            "by `mpc cosigner pair`",
            field="code",
        )
    raw = base64.b32decode(compact)
    return PairingCode(base64.b32encode(raw[:CODE_ID_BYTES]).decode(), raw[CODE_ID_BYTES:])


def check_code_id(value: object) -> str:
    if not isinstance(value, str) or not CODE_ID_RE.match(value):
        raise AuthFailed("the pairing code id in the hello is malformed")
    return value


# --- co-signer side ----------------------------------------------------------------------------


def issue_code(
    paths: CosignerPaths, ttl_s: float = DEFAULT_TTL_S, label: str | None = None
) -> tuple[PairingCode, float]:
    """A new one-time code, recorded as pending; ``(code, expires_at)`` (epoch seconds).
    ``label`` names the client it will pair in ``mpc cosigner pairings list``."""
    if not 0 < ttl_s <= MAX_TTL_S:
        raise BadInput(f"--ttl must be in (0, {MAX_TTL_S}] seconds", field="ttl")
    prune_expired(paths)
    code = new_code()
    expires_at = time.time() + ttl_s
    label = check_label(label) if label is not None else f"paired with code {code.code_id}"
    doc = {"id": code.code_id, "psk": code.psk().hex(), "expires_at": expires_at, "label": label}
    ensure_dir(paths.pairing_codes_dir)
    write_atomic(paths.pairing_codes_dir / f"{code.code_id}.json", json.dumps(doc).encode())
    return code, expires_at


def claim_code(paths: CosignerPaths, code_id: str) -> tuple[bytes, str]:
    """Burn the pending code ``code_id``; its PSK and label.

    Unknown, used and expired codes all raise the same :class:`AuthFailed` with a ``reason``
    for the log; the caller answers them with a dummy PSK, so a peer learns nothing about
    which ids exist.
    """
    pending = paths.pairing_codes_dir / f"{check_code_id(code_id)}.json"
    claimed = pending.with_name(f".{code_id}.{secrets.token_hex(8)}.claimed")
    refused = AuthFailed(
        "the pairing code is unknown, expired or already used; run `mpc cosigner pair` on the "
        "co-signer's machine for a new one"
    )
    try:
        os.rename(pending, claimed)  # atomic: exactly one session claims a code
    except FileNotFoundError:
        refused.reason = "unknown_or_used"  # type: ignore[attr-defined]
        raise refused from None
    try:
        doc = loads(claimed.read_bytes(), what="a pending pairing code", max_bytes=4096)
    except (OSError, BadInput):
        doc = {}
    finally:
        claimed.unlink(missing_ok=True)
    expires_at = doc.get("expires_at") if isinstance(doc, dict) else None
    if not isinstance(expires_at, (int, float)) or time.time() > expires_at:
        refused.reason = "expired"  # type: ignore[attr-defined]
        raise refused
    try:
        psk = bytes.fromhex(str(doc.get("psk")))
    except ValueError:
        psk = b""
    if len(psk) != 32:
        raise refused
    label = doc.get("label")
    return psk, label if isinstance(label, str) else f"paired with code {code_id}"


def prune_expired(paths: CosignerPaths) -> int:
    """Remove pending codes past their expiry; how many."""
    removed = 0
    directory = paths.pairing_codes_dir
    if not directory.is_dir():
        return 0
    now = time.time()
    for path in directory.glob("*.json"):
        try:
            doc = loads(path.read_bytes(), what="a pending pairing code", max_bytes=4096)
            expired = not isinstance(doc, dict) or not now <= float(doc.get("expires_at", 0))
        except (OSError, BadInput, ValueError, TypeError):
            expired = True
        if expired:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# --- what the pairing session hands over --------------------------------------------------------
# The client's secret travels inside the session, and additionally sealed under a key derived
# from this session's own export secret, so it is confidential whatever the frame layer does.


def _wrap_cipher(wrap_key: bytes) -> ChaCha20Poly1305:
    return ChaCha20Poly1305(wrap_key)


def wrap_token(wrap_key: bytes, token: bytes) -> str:
    # One key per session and one message per key: a fixed nonce is safe.
    return _wrap_cipher(wrap_key).encrypt(bytes(12), token, _WRAP_AAD).hex()


def unwrap_token(wrap_key: bytes, sealed: object) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        raw = bytes.fromhex(sealed) if isinstance(sealed, str) else b""
        token = _wrap_cipher(wrap_key).decrypt(bytes(12), raw, _WRAP_AAD)
    except (ValueError, InvalidTag):
        raise ProtocolViolation("the co-signer's pairing token did not open") from None
    if len(token) != 32:
        raise ProtocolViolation("the co-signer's pairing token has the wrong size")
    return token


# --- client side: the pairing record ---------------------------------------------------------


@dataclass(frozen=True, repr=False)
class PairingRecord:
    url: str
    client_id: str  # public: names this client in its hello
    secret: bytes  # secret: this client's own PSK for keygen and health sessions
    install_id: str
    engine: str
    cosigner_static: bytes  # the co-signer's static X25519 public key, pinned at pairing

    def __repr__(self) -> str:
        return f"PairingRecord(url={self.url}, client_id={self.client_id})"


def pairing_file(home: Path) -> Path:
    return home / PAIRING_FILE


def write_pairing(home: Path, record: PairingRecord) -> Path:
    path = pairing_file(home)
    doc = {
        "url": record.url,
        "client_id": record.client_id,
        "secret": record.secret.hex(),
        "cosigner_static": record.cosigner_static.hex(),
        "install_id": record.install_id,
        "engine": record.engine,
        "paired_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_atomic(path, (json.dumps(doc, indent=2) + "\n").encode(), force=True)
    return path


def read_pairing(home: Path) -> PairingRecord | None:
    """This home's pairing with a remote co-signer, or None if it has none."""
    path = pairing_file(home)
    try:
        doc: Any = load_file(path, what="the pairing record", max_bytes=64 * 1024)
    except NotFound:
        return None
    except BadInput:
        doc = None
    if isinstance(doc, dict) and "token" in doc and "client_id" not in doc:
        raise FileFormatError(
            f"{path} is from an older release (one token shared by every client, no co-signer key "
            "to pin) and is no longer used: run `mpc cosigner pair` on the co-signer's machine, "
            f"then `mpc pair --url {str(doc.get('url'))[:200]}` here",
            field="pairing",
        )
    try:
        if not isinstance(doc, dict):
            raise ValueError
        url, engine, client_id = doc["url"], doc["engine"], doc["client_id"]
        secret, static = doc["secret"], doc["cosigner_static"]
        if not (isinstance(url, str) and isinstance(engine, str) and isinstance(client_id, str)):
            raise ValueError
        if not (CLIENT_ID_RE.fullmatch(client_id) and _HEX64_RE.fullmatch(str(secret))):
            raise ValueError
        if not _HEX64_RE.fullmatch(str(static)):
            raise ValueError
        install_id = doc.get("install_id")
        if not isinstance(install_id, str) or not _INSTALL_ID_RE.fullmatch(install_id):
            raise ValueError
    except (KeyError, ValueError):
        raise FileFormatError(
            f"{path} is not a pairing record; pair again: `mpc cosigner pair` on the co-signer's "
            "machine, then `mpc pair --url URL` here",
            field="pairing",
        ) from None
    return PairingRecord(
        url, client_id, bytes.fromhex(secret), install_id, engine, bytes.fromhex(static)
    )
