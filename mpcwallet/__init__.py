"""mpcwallet: a 2-of-2 threshold-ECDSA wallet for EVM chains.

The public Python API (docs/library.md) is what ``__all__`` lists::

    from mpcwallet import Wallet
    wallet = Wallet.open(".demo", passphrase="...")

Importing the package stays cheap (``mpc`` imports it for every command): the names are loaded
on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "HomeShareStore",
    "KeyInfo",
    "MessageSignature",
    "MpcError",
    "ShareStore",
    "TransactionSignature",
    "Wallet",
    "__version__",
]

if TYPE_CHECKING:
    from mpcwallet.errors import MpcError
    from mpcwallet.library import (
        HomeShareStore,
        KeyInfo,
        MessageSignature,
        ShareStore,
        TransactionSignature,
        Wallet,
    )


def __getattr__(name: str) -> Any:
    if name == "MpcError":
        from mpcwallet.errors import MpcError

        return MpcError
    if name in __all__:
        from mpcwallet import library

        return getattr(library, name)
    raise AttributeError(f"module 'mpcwallet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
