"""The share store: envelope + body + atomic files, with the file's path in every error.

The only functions that put a share on disk; they write envelopes only, never plaintext.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from mpcwallet.errors import MpcError
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.envelope import (
    DerivedKey,
    KdfParams,
    decrypt_share,
    decrypt_share_with_key,
    encrypt_share,
    encrypt_share_with_key,
    read_header,
    read_kdf_params,
)
from mpcwallet.storage.files import read_share_file, write_atomic

__all__ = [
    "load_header",
    "load_kdf_params",
    "load_share",
    "load_share_with_key",
    "save_share",
    "save_share_with_key",
]

T = TypeVar("T")


def _about(path: Path, fn: Callable[[], T]) -> T:
    """Run ``fn``; an MpcError gets the file's path in front of its message."""
    try:
        return fn()
    except MpcError as err:
        if str(path) in err.message:
            raise
        raise type(err)(f"{path}: {err.message}", field=err.field) from None


def save_share(
    path: Path,
    body: ShareBody,
    header: Mapping[str, Any],
    passphrase: str | bytes,
    *,
    params: KdfParams | None = None,
    force: bool = False,
) -> None:
    data = encrypt_share(body.encode(), header, passphrase, params=params)
    write_atomic(Path(path), data, force=force)


def save_share_with_key(
    path: Path,
    body: ShareBody,
    header: Mapping[str, Any],
    key: DerivedKey,
    *,
    force: bool = False,
) -> None:
    write_atomic(Path(path), encrypt_share_with_key(body.encode(), header, key), force=force)


def load_share(
    path: Path, passphrase: str | bytes, *, what: str = "share file"
) -> tuple[dict[str, Any], ShareBody]:
    path = Path(path)
    data = read_share_file(path, what=what)

    def run() -> tuple[dict[str, Any], ShareBody]:
        header, raw = decrypt_share(data, passphrase)
        return header, ShareBody.decode(raw)

    return _about(path, run)


def load_share_with_key(path: Path, key: DerivedKey) -> tuple[dict[str, Any], ShareBody]:
    path = Path(path)
    data = read_share_file(path)

    def run() -> tuple[dict[str, Any], ShareBody]:
        header, raw = decrypt_share_with_key(data, key)
        return header, ShareBody.decode(raw)

    return _about(path, run)


def load_header(path: Path, *, what: str = "share file") -> dict[str, Any]:
    """The public header of a share or backup file, without a passphrase."""
    path = Path(path)
    data = read_share_file(path, what=what)
    return _about(path, lambda: read_header(data))


def load_kdf_params(path: Path) -> KdfParams:
    path = Path(path)
    data = read_share_file(path)
    return _about(path, lambda: read_kdf_params(data))
