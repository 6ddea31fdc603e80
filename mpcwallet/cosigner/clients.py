"""Who may open a session with the co-signer: the local client, paired clients, key holders.

Every client has its own secret, the PSK of its keygen and health sessions:

* the local client (same machine, same ``MPC_HOME``) reads ``cosigner/auth.token`` and names no
  client id in its hello (nothing to pair);
* each client paired with a one-time code (:mod:`mpcwallet.homes.pairing`) gets a random id
  and a secret of its own, kept in the registry ``cosigner/clients.json`` (0600, like the token
  file: the co-signer must hold the PSK itself) with a label and the time it was made. Removing
  one pairing (``mpc cosigner pairings remove``) takes effect at that client's next session and
  touches no other. The registry is read at every session, so no restart is needed.

Sign and refresh sessions use the key's own per-key secret, whoever the client is.

The co-signer also has a static X25519 key (``cosigner/static.key``, 0600), the ``s`` of the
Noise pattern (:mod:`mpcwallet.session.secure`): the local client reads its public half from the
home, a paired client pins it at pairing.

Upgrading a home made by a release with one token shared by every client: at the daemon's first
start the static key and an empty registry are made; if the home ever issued pairing codes, the
old token (held by every client it paired) is replaced, so those clients are refused until they
pair again (their own side says so and what to run: they have no static key to pin). The local
client reads the new token from the home and keeps working with no step.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpcwallet.cosigner import logs
from mpcwallet.errors import AuthFailed, BadInput, FileFormatError, NotFound
from mpcwallet.homes.paths import (
    CLIENT_ID_RE,
    CosignerPaths,
    check_client_id,
    check_key_id,
    check_label,
)
from mpcwallet.homes.token import TOKEN_BYTES, ensure_token, read_static_key
from mpcwallet.session.wire import AUTH_KEY, AUTH_PAIRING, Hello
from mpcwallet.storage.files import write_atomic, write_new

if TYPE_CHECKING:
    from mpcwallet.cosigner.keystore import KeyStore
    from mpcwallet.session.channel import Channel

AUTH_CODE = "code"
_MAX_REGISTRY_BYTES = 4 * 1024 * 1024
_DUMMY_PSK_LABEL = b"mpcwallet/cosigner dummy psk\x00"


# --- the registry file -------------------------------------------------------------------------


def _read(paths: CosignerPaths) -> list[dict[str, Any]]:
    from mpcwallet.jsonio import load_file

    path = paths.clients_file
    try:
        doc = load_file(path, what="the paired-client registry", max_bytes=_MAX_REGISTRY_BYTES)
    except NotFound:
        return []
    rows = doc.get("clients") if isinstance(doc, dict) else None
    if not isinstance(rows, list) or not _valid_rows(rows):
        raise FileFormatError(
            f"{path} is not a paired-client registry; restore it from a co-signer backup, or "
            "delete it and pair every remote client again",
            field="clients",
        )
    return list(rows)


def _valid_rows(rows: Any) -> bool:
    try:
        if not isinstance(rows, list):
            return False
        for row in rows:
            check_client_id(row["id"])
            if len(bytes.fromhex(row["secret"])) != TOKEN_BYTES:
                return False
    except (BadInput, KeyError, TypeError, ValueError):
        return False
    return True


def _write(paths: CosignerPaths, rows: list[dict[str, Any]]) -> None:
    data = json.dumps({"version": 1, "clients": rows}, indent=1) + "\n"
    write_atomic(paths.clients_file, data.encode(), force=True)


@contextlib.contextmanager
def _locked(paths: CosignerPaths) -> Iterator[None]:
    """One read-modify-write of the registry at a time (the daemon pairs, the CLI removes)."""
    fd = os.open(paths.root / "clients.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def list_clients(paths: CosignerPaths) -> list[dict[str, str]]:
    """The paired clients: id, label, created_at (never a secret)."""
    return [{k: str(row.get(k, "")) for k in ("id", "label", "created_at")} for row in _read(paths)]


def add_client(paths: CosignerPaths, label: str) -> tuple[str, bytes]:
    """Register a new paired client; ``(client_id, secret)``."""
    client_id, secret = secrets.token_hex(8), secrets.token_bytes(TOKEN_BYTES)
    row = {
        "id": client_id,
        "secret": secret.hex(),
        "label": check_label(label),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with _locked(paths):
        _write(paths, [*_read(paths), row])
    return client_id, secret


def remove_client(paths: CosignerPaths, client_id: str) -> dict[str, str]:
    """Remove one pairing; the removed row (without its secret). :class:`NotFound` if absent."""
    check_client_id(client_id)
    with _locked(paths):
        rows = _read(paths)
        kept = [row for row in rows if row["id"] != client_id]
        if len(kept) == len(rows):
            raise NotFound(
                f"no paired client {client_id}; `mpc cosigner pairings list` shows them",
                field="client_id",
            )
        _write(paths, kept)
    gone = next(row for row in rows if row["id"] == client_id)
    return {k: str(gone.get(k, "")) for k in ("id", "label", "created_at")}


def client_secret(paths: CosignerPaths, client_id: str) -> bytes | None:
    for row in _read(paths):
        if row["id"] == client_id:
            return bytes.fromhex(row["secret"])
    return None


def ensure_static_key(path: Path) -> None:
    """The co-signer's static Noise key (:mod:`mpcwallet.homes.token`), made at its first start."""
    from mpcwallet.session.secure import new_static_key

    if path.exists():
        read_static_key(path)
        return
    write_new(path, new_static_key().hex().encode() + b"\n")


def prepare_home(paths: CosignerPaths) -> bool:
    """At daemon start: token, static key and registry exist. True if an old shared token was
    replaced (the home had paired remote clients with it; see the module doc)."""
    ensure_token(paths.token_file)
    ensure_static_key(paths.static_key_file)
    if paths.clients_file.exists():
        return False
    with _locked(paths):
        if paths.clients_file.exists():
            return False
        rotated = paths.pairing_codes_dir.exists()
        if rotated:
            token = secrets.token_hex(TOKEN_BYTES).encode() + b"\n"
            write_atomic(paths.token_file, token, force=True)
        _write(paths, [])
    return rotated


# --- what a co-signer backup carries -----------------------------------------------------------


def for_backup(paths: CosignerPaths) -> dict[str, Any]:
    """The static key and the registry (with secrets), for the encrypted backup payload."""
    key = paths.static_key_file
    return {
        "static_key": key.read_text().strip() if key.exists() else None,
        "clients": _read(paths),
    }


def check_backup_identity(doc: dict[str, Any], path: Any) -> None:
    """:class:`FileFormatError` if a backup's static key or registry is malformed (checked
    before anything of the backup is written)."""
    static, rows = doc.get("static_key"), doc.get("clients")
    if static is None and rows is None:
        return  # a backup from before pairing registries
    try:
        ok = isinstance(static, str) and len(bytes.fromhex(static)) == 32 and _valid_rows(rows)
    except ValueError:
        ok = False
    if not ok:
        raise FileFormatError(
            f"{path}: the backup's static key or paired-client registry is malformed",
            field="in",
        )


def restore_from_backup(paths: CosignerPaths, doc: dict[str, Any], install_id: object) -> None:
    """Restore the static key and the registry from a backup, together and only into a home
    whose identity is the backup's (its install id) and that has neither of its own yet: paired
    clients pinned that static key and hold those secrets."""
    from mpcwallet.session.install_id import INSTALL_ID_FILE

    id_file = paths.root / INSTALL_ID_FILE
    if not id_file.exists() or id_file.read_text().strip() != install_id:
        return
    static, rows = doc.get("static_key"), doc.get("clients")
    if not isinstance(static, str) or not isinstance(rows, list):
        return  # a backup from before pairing registries: the home keeps its own
    if paths.static_key_file.exists() and paths.static_key_file.read_text().strip() != static:
        return  # this home already has another identity key: keep it
    if _read(paths):
        return
    with _locked(paths):
        write_atomic(paths.static_key_file, static.encode() + b"\n", force=True)
        _write(paths, rows)


# --- the handshake's PSK, and the pairing operation --------------------------------------------


class ClientAuth:
    """The co-signer's side of authentication: which PSK a hello names, and pairing."""

    def __init__(
        self, paths: CosignerPaths, keystore: KeyStore, token: bytes, static_key: bytes
    ) -> None:
        self.paths = paths
        self.keystore = keystore
        self.static_key = static_key
        self._token = token
        # Per-daemon random secret for dummy PSKs: an unknown id gets a PSK nobody holds.
        self._dummy_key = os.urandom(32)
        self._labels: dict[str, str] = {}  # code id -> label, between claim and pair

    def __repr__(self) -> str:
        return "ClientAuth()"

    def _dummy(self, kind: str, name: str) -> bytes:
        return hmac.new(
            self._dummy_key, _DUMMY_PSK_LABEL + f"{kind}:{name}".encode(), hashlib.sha256
        ).digest()

    async def resolve(self, hello: Hello) -> bytes:
        """The PSK for the hello's auth mode (the handshake's ``resolve_secret``).

        Never reveals before the client is authenticated whether a key, a paired client or a
        pairing code exists: an unknown (or used, or expired) one gets a dummy PSK, so it fails
        at Noise message 1 exactly as a wrong secret does. A key made with another engine
        authenticates normally and is refused afterwards, in the encrypted session.
        """
        if hello.auth == AUTH_PAIRING:
            if hello.key_id is None:
                return self._token  # the local client
            client_id = hello.key_id
            if not CLIENT_ID_RE.fullmatch(client_id):
                raise AuthFailed("the client id in the hello is malformed")
            found = await asyncio.to_thread(client_secret, self.paths, client_id)
            return found if found is not None else self._dummy("client", client_id)
        if hello.auth == AUTH_CODE:
            return await self._claim(str(hello.key_id))
        if hello.auth != AUTH_KEY or hello.key_id is None:
            raise AuthFailed(f"auth mode {hello.auth!r} is not served here, or lacks its key id")
        try:
            key_id = check_key_id(hello.key_id)
        except BadInput:
            raise AuthFailed("the key id in the hello is malformed") from None
        if self.keystore.has(key_id):  # never decrypts the share (see KeyStore.auth_secret)
            return await asyncio.to_thread(self.keystore.auth_secret, key_id)
        return self._dummy("key", key_id)

    async def _claim(self, code_id: str) -> bytes:
        from mpcwallet.homes.pairing import check_code_id, claim_code

        code_id = check_code_id(code_id)
        try:
            psk, label = await asyncio.to_thread(claim_code, self.paths, code_id)
        except AuthFailed as exc:
            reason = getattr(exc, "reason", "malformed")
            logs.log(
                "pairing_refused", f"pairing code refused ({reason})", level=logging.WARNING,
                code=reason,
            )  # fmt: skip
            return self._dummy("code", code_id)
        if len(self._labels) > 1024:
            self._labels.clear()  # labels of claims whose handshake never completed
        self._labels[code_id] = label
        return psk

    async def pair(
        self, ch: Channel, hello: Hello, ctx: dict[str, Any], install_id: str, engine: str
    ) -> None:
        """Register a client that proved a one-time code, and hand it its id, its own secret
        (sealed under a key from this session) and the co-signer's install id. The client pins
        the static key this session authenticated."""
        from mpcwallet.homes.pairing import wrap_token

        if hello.auth != AUTH_CODE or hello.key_id is None:
            raise AuthFailed("pairing needs a session authenticated with a pairing code")
        label = self._labels.pop(hello.key_id, f"paired with code {hello.key_id}")
        client_id, secret = await asyncio.to_thread(add_client, self.paths, label)
        wrap_key = ch.keys.per_key_secret(f"pairing:{hello.key_id}", b"")
        await ch.send_control(
            {
                "type": "paired",
                "client_id": client_id,
                "secret": wrap_token(wrap_key, secret),
                "install_id": install_id,
                "engine": engine,
            }
        )
        logs.audit("paired", f"client {client_id} paired with a one-time code", **ctx)
