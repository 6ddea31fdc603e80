"""The co-signer's shares: ``shares/<key_id>.enc`` encrypted under the KEK (storage format).

Keygen writes ``<key_id>.enc.pending`` first and renames it only when the client commits
(see :mod:`mpcwallet.cosigner.service`); pending files left by a killed run are removed at start.
A share is decrypted only for the duration of one protocol call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpcwallet.cosigner.paths import CosignerPaths
from mpcwallet.errors import NotFound
from mpcwallet.storage import envelope
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.files import ensure_dir, publish, write_atomic


class KeyStore:
    def __init__(self, paths: CosignerPaths, kek: envelope.DerivedKey) -> None:
        self.paths = paths
        self._kek = kek
        ensure_dir(paths.shares_dir)

    def __repr__(self) -> str:
        return f"KeyStore({self.paths.shares_dir})"

    def count(self) -> int:
        return sum(1 for _ in self.paths.shares_dir.glob("*.enc"))

    def has(self, key_id: str) -> bool:
        return self.paths.share_file(key_id).exists()

    def save_pending(self, key_id: str, header: Mapping[str, Any], body: ShareBody) -> None:
        data = envelope.encrypt_share_with_key(body.encode(), header, self._kek)
        write_atomic(self.paths.pending_file(key_id), data)

    def commit(self, key_id: str) -> None:
        publish(self.paths.pending_file(key_id), self.paths.share_file(key_id), force=True)

    def discard_pending(self, key_id: str) -> bool:
        try:
            self.paths.pending_file(key_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def cleanup_pending(self) -> list[str]:
        removed = []
        for path in self.paths.shares_dir.glob("*.enc.pending"):
            path.unlink(missing_ok=True)
            removed.append(path.name.split(".", 1)[0])
        for path in self.paths.shares_dir.glob(".*.tmp*"):
            path.unlink(missing_ok=True)
        return removed

    def load(self, key_id: str) -> tuple[dict[str, Any], ShareBody]:
        path = self.paths.share_file(key_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"the co-signer holds no key {key_id}", field="key_id") from None
        header, raw = envelope.decrypt_share_with_key(data, self._kek)
        return header, ShareBody.decode(raw)
