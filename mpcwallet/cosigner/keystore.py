"""The co-signer's shares: ``shares/<key_id>.enc`` encrypted under the KEK (storage format).

Keygen writes ``<key_id>.enc.pending`` first and renames it only when the client commits
(see :mod:`mpcwallet.cosigner.service`); a refresh writes ``<key_id>.enc.<tag>.pending`` with a
tag unique to its session and only ever removes its own. Pending files left by a killed run are
removed at start. A share is decrypted only for the duration of one protocol call.

The key's session PSK (the per-key secret, also inside the share body) is kept a second time in
``<key_id>.psk``, encrypted under the KEK and bound to the exact share file it came from (the
SHA-256 of its bytes in the AEAD header). A handshake needs the PSK before the client has proved
anything; with this file it never decrypts a share for that (a replayed handshake message, say).
A PSK file that is missing or belongs to other share bytes (a backup import, a crash between the
two renames of a commit) is rebuilt from the share once.

A committed key whose client has not confirmed it yet (the ack may have been lost) has a marker
in ``unconfirmed/``; ``mpc cosigner keys`` shows such keys as orphans until a client asks about
them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

from mpcwallet.errors import MpcError, NotFound
from mpcwallet.homes.paths import KEY_ID_RE, CosignerPaths
from mpcwallet.storage import envelope
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.files import ensure_dir, publish, read_share_file, write_atomic
from mpcwallet.storage.generation import generation_of


class KeyStore:
    def __init__(self, paths: CosignerPaths, kek: envelope.DerivedKey) -> None:
        self.paths = paths
        self._kek = kek
        self.loads = 0  # shares decrypted since start (reported by /healthz)
        ensure_dir(paths.shares_dir)

    def __repr__(self) -> str:
        return f"KeyStore({self.paths.shares_dir})"

    def count(self) -> int:
        return sum(1 for _ in self.paths.shares_dir.glob("*.enc"))

    def key_ids(self) -> list[str]:
        return self.list_ids(self.paths)

    @staticmethod
    def list_ids(paths: CosignerPaths) -> list[str]:
        """Key ids with a committed share (no KEK needed)."""
        if not paths.shares_dir.is_dir():
            return []
        names = (p.name.removesuffix(".enc") for p in paths.shares_dir.glob("*.enc"))
        return sorted(n for n in names if KEY_ID_RE.match(n))

    def has(self, key_id: str) -> bool:
        return self.paths.share_file(key_id).exists()

    def save_pending(
        self, key_id: str, header: Mapping[str, Any], body: ShareBody, tag: str | None = None
    ) -> None:
        data = envelope.encrypt_share_with_key(body.encode(), header, self._kek)
        psk = self._seal_psk(key_id, data, body.auth_secret)
        write_atomic(self.paths.psk_file(key_id, tag, pending=True), psk, force=True)
        write_atomic(self.paths.pending_file(key_id, tag), data)

    def commit(self, key_id: str, tag: str | None = None) -> None:
        """Make the pending share the key; it stays unconfirmed until its client confirms."""
        ensure_dir(self.paths.unconfirmed_dir)
        write_atomic(self.paths.unconfirmed_file(key_id), b"", force=True)
        publish(self.paths.pending_file(key_id, tag), self.paths.share_file(key_id), force=True)
        publish(
            self.paths.psk_file(key_id, tag, pending=True), self.paths.psk_file(key_id), force=True
        )

    def _seal_psk(self, key_id: str, share: bytes, secret: bytes) -> bytes:
        header = {
            "key_id": key_id,
            "kind": "psk",
            "share_sha256": hashlib.sha256(share).hexdigest(),
        }
        return envelope.encrypt_share_with_key(secret, header, self._kek)

    def auth_secret(self, key_id: str) -> bytes:
        """The key's session PSK, from its PSK file when that belongs to the share on disk; else
        from the share (decrypted once, and the PSK file rebuilt)."""
        share = self._read(key_id)
        try:
            header, secret = envelope.decrypt_share_with_key(
                self.paths.psk_file(key_id).read_bytes(), self._kek
            )
            bound = str(header.get("share_sha256", ""))
            if header.get("key_id") == key_id and hmac.compare_digest(
                bound, hashlib.sha256(share).hexdigest()
            ):
                return secret
        except (OSError, MpcError):
            pass  # missing, unreadable or not ours: rebuilt below
        _header, body = self._decrypt(share)
        write_atomic(
            self.paths.psk_file(key_id), self._seal_psk(key_id, share, body.auth_secret), force=True
        )
        return body.auth_secret

    def confirm(self, key_id: str) -> None:
        """A client showed it holds this key's current share: no longer an orphan candidate."""
        try:
            os.unlink(self.paths.unconfirmed_file(key_id))
        except FileNotFoundError:
            pass

    def unconfirmed(self, key_id: str) -> bool:
        return self.paths.unconfirmed_file(key_id).exists()

    def discard_pending(self, key_id: str, tag: str | None = None) -> bool:
        self.paths.psk_file(key_id, tag, pending=True).unlink(missing_ok=True)
        try:
            self.paths.pending_file(key_id, tag).unlink()
        except FileNotFoundError:
            return False
        return True

    def cleanup_pending(self) -> list[str]:
        removed = []
        for path in self.paths.shares_dir.glob("*.pending"):
            path.unlink(missing_ok=True)
            if ".enc." in path.name:  # its PSK file goes too, without a line of its own
                removed.append(path.name.split(".", 1)[0])
        for path in self.paths.shares_dir.glob(".*.tmp*"):
            path.unlink(missing_ok=True)
        return removed

    def load_header(self, key_id: str) -> dict[str, Any]:
        """The share's public header (no decryption)."""
        path = self.paths.share_file(key_id)
        try:
            data = read_share_file(path)
        except NotFound:
            raise NotFound(f"the co-signer holds no key {key_id}", field="key_id") from None
        return envelope.read_header(data)

    def generation(self, key_id: str) -> int:
        return generation_of(self.load_header(key_id), where=f"the co-signer's share {key_id}")

    def load(self, key_id: str) -> tuple[dict[str, Any], ShareBody]:
        return self._decrypt(self._read(key_id))

    def _read(self, key_id: str) -> bytes:
        try:
            return self.paths.share_file(key_id).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"the co-signer holds no key {key_id}", field="key_id") from None

    def _decrypt(self, data: bytes) -> tuple[dict[str, Any], ShareBody]:
        self.loads += 1
        header, raw = envelope.decrypt_share_with_key(data, self._kek)
        return header, ShareBody.decode(raw)
