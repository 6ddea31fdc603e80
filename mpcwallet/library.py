"""The public Python API for integrators: a :class:`Wallet` opened from a home.

A thin layer over the use cases in :mod:`mpcwallet.wallet` (the same code ``mpc`` and
``mpc serve`` run): it holds a home, a passphrase source and a :class:`ShareStore`, and calls the
use cases with a ``Ui`` that shows and asks nothing. Documented in ``docs/library.md``; the
names in ``__all__`` are the API, everything else here is private.

The wallet's state lives in a directory (``MPC_HOME``); the lower layers read it from the
process environment, so each call sets ``MPC_HOME`` (and ``MPC_COSIGNER_URL`` when given) for
its duration, under one process-wide lock: calls of all ``Wallet`` objects in a process run one
at a time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mpcwallet.errors import BadInput, NotFound

if TYPE_CHECKING:
    from mpcwallet.wallet.ports import PassphraseKeyring

__all__ = [
    "HomeShareStore",
    "KeyInfo",
    "MessageSignature",
    "ShareStore",
    "TransactionSignature",
    "Wallet",
]

_ENV_LOCK = threading.RLock()
PassphraseSource = str | Callable[[str], str]  # a passphrase, or key name -> passphrase


@runtime_checkable
class ShareStore(Protocol):
    """Where the client's encrypted share files are kept.

    ``data`` is a whole share file as ``mpc`` writes it: already encrypted (Argon2id and
    ChaCha20-Poly1305 under the share passphrase), so a store never sees a secret in clear.
    The wallet works on a copy in ``HOME/shares/`` (the engines and the crash-safe refresh need
    a file); it loads a key from the store when the home lacks it and saves it after keygen
    and refresh (after a refresh every earlier copy is stale: keep only the latest)."""

    def names(self) -> list[str]:
        """The key names the store holds."""
        ...

    def load(self, name: str) -> bytes | None:
        """The share file of ``name``, or None if the store has none."""
        ...

    def save(self, name: str, data: bytes) -> None:
        """Keep ``data`` as the share file of ``name``, replacing an older one."""
        ...


class HomeShareStore:
    """The default store: the home's own ``shares/`` directory (nothing is copied)."""

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self._dir = Path(home).expanduser() / "shares"

    def names(self) -> list[str]:
        if not self._dir.is_dir():
            return []
        return sorted(
            p.name[: -len(".enc")]
            for p in self._dir.glob("*.enc")
            if p.is_file() and not p.name.startswith(".")
        )

    def load(self, name: str) -> bytes | None:
        from mpcwallet.storage.files import read_share_file

        path = self._dir / f"{name}.enc"
        return read_share_file(path) if path.is_file() else None

    def save(self, name: str, data: bytes) -> None:
        pass  # the home is the store: keygen and refresh wrote the file already


@dataclass(frozen=True)
class KeyInfo:
    """A key's public facts: its name, account 0's address, key id, public key (SEC1
    compressed, hex), engine and generation (+1 per refresh)."""

    name: str
    address: str
    key_id: str
    public_key: str
    engine: str
    generation: int


@dataclass(frozen=True)
class TransactionSignature:
    """A signed transaction: ``raw_tx`` is what a node accepts (``eth_sendRawTransaction``)."""

    sender: str
    account: int
    hash: str
    signing_hash: str
    r: int
    s: int
    v: int
    raw_tx: str
    preview: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The same object ``mpc sign --json`` prints in ``data``."""
        return {
            "from": self.sender,
            "hash": self.hash,
            "signing_hash": self.signing_hash,
            "r": hex(self.r),
            "s": hex(self.s),
            "v": self.v,
            "raw_tx": self.raw_tx,
            "account": self.account,
            "preview": self.preview,
        }


@dataclass(frozen=True)
class MessageSignature:
    """An EIP-191 or EIP-712 signature: ``signature`` is r || s || v (65 bytes, hex, v 27 or
    28), ``hash`` the digest that was signed, ``address`` the signer, ``preview`` what
    ``mpc sign-message``/``sign-typed-data`` would have shown before signing."""

    signature: str
    r: int
    s: int
    v: int
    hash: str
    address: str
    account: int
    preview: dict[str, Any]


class Wallet:
    """A wallet home: its keys, their accounts, and signing with its co-signer.

    Open it with :meth:`open`. Every method raises the error tree (:class:`mpcwallet.MpcError`
    and its subclasses, each with a stable ``code``) and nothing else for bad input or a failed
    protocol."""

    def __init__(
        self,
        home: Path,
        passphrase: PassphraseSource,
        store: ShareStore,
        cosigner_url: str | None,
        cosigner_passphrase: str | None,
    ) -> None:
        self._home = home
        self._passphrase = passphrase
        self._store = store
        self._cosigner_url = cosigner_url
        self._cosigner_passphrase = cosigner_passphrase

    @classmethod
    def open(
        cls,
        home: str | os.PathLike[str],
        *,
        passphrase: PassphraseSource,
        store: ShareStore | None = None,
        cosigner_url: str | None = None,
        cosigner_passphrase: str | None = None,
    ) -> Wallet:
        """The wallet in directory ``home`` (made at the first keygen if missing).

        ``passphrase``: the share passphrase, or a function of the key name that returns it.
        ``store``: where shares are kept (default: the home's ``shares/``); keys it holds that
        the home lacks are copied into the home now. ``cosigner_url``: the co-signer to use
        (default: this home's own, started at keygen if none runs, which asks
        ``cosigner_passphrase``, else ``MPC_COSIGNER_PASSPHRASE``)."""
        path = Path(home).expanduser().absolute()
        if path.exists() and not path.is_dir():
            raise BadInput(f"home: {path} is not a directory", field="home")
        wallet = cls(
            path, passphrase, store or HomeShareStore(path), cosigner_url, cosigner_passphrase
        )
        wallet._restore_from_store()
        return wallet

    @property
    def home(self) -> Path:
        return self._home

    def names(self) -> list[str]:
        """The names of the keys in this home."""
        return HomeShareStore(self._home).names()

    def keygen(self, name: str = "default", *, engine: str | None = None) -> KeyInfo:
        """A new 2-of-2 key with the co-signer; its share is written under the passphrase and
        saved to the store. Never replaces an existing key (``already_exists``)."""
        from mpcwallet.wallet.keygen import keygen
        from mpcwallet.wallet.ports import QuietUi

        with self._env():
            data = keygen(
                name=name,
                out=None,
                engine=engine,
                passphrase=self._passphrase_for(name),
                ui=QuietUi(),
                cosigner_passphrase=self._cosigner_source(),
            )
            self._save(name)
            return self._info(Path(str(data["share"])))

    def key(self, key: str | None = None) -> KeyInfo:
        """The public facts of ``key`` (default: the only key, else ``default``)."""
        with self._env():
            return self._info(self._share(key))

    def address(self, account: int = 0, *, key: str | None = None) -> str:
        """The EIP-55 address of ``account`` (no passphrase, no co-signer)."""
        return self.accounts(account, 1, key=key)[0]

    def accounts(self, start: int = 0, count: int = 10, *, key: str | None = None) -> list[str]:
        """The addresses of accounts ``start`` .. ``start + count - 1``."""
        from mpcwallet.wallet.shares import addresses

        if count < 1 or start < 0:
            raise BadInput("accounts: start must be >= 0 and count >= 1", field="count")
        with self._env():
            rows = addresses(self._share(key), range(start, start + count))
        return [str(row["address"]) for row in rows]

    def sign_transaction(
        self,
        tx: Mapping[str, Any],
        *,
        key: str | None = None,
        account: int = 0,
        rpc_url: str | None = None,
        permits: list[dict[str, Any]] | None = None,
    ) -> TransactionSignature:
        """Sign ``tx`` (a tx.json object; missing nonce, gas and fees are filled from
        ``rpc_url`` or ``MPC_RPC_URL``) with the co-signer. Nothing is broadcast."""
        from mpcwallet.evm.txjson import parse_tx
        from mpcwallet.wallet.ports import QuietUi
        from mpcwallet.wallet.sign import sign_transaction

        unsigned = parse_tx(dict(tx))
        with self._env():
            share = self._share(key)
            result = sign_transaction(
                unsigned,
                share=share,
                account=account,
                permits=permits,
                rpc_url=rpc_url,
                yes=True,
                keys=self._keyring(),
                ui=QuietUi(),
            )
        signed = result.signed
        return TransactionSignature(
            sender=signed.sender,
            account=result.account,
            hash="0x" + signed.tx_hash.hex(),
            signing_hash="0x" + signed.signing_hash.hex(),
            r=signed.r,
            s=signed.s,
            v=signed.v,
            raw_tx="0x" + signed.raw.hex(),
            preview=result.preview,
        )

    def sign_message(
        self,
        message: str | bytes,
        *,
        key: str | None = None,
        account: int = 0,
        permits: list[dict[str, Any]] | None = None,
    ) -> MessageSignature:
        """Sign ``message`` as ``personal_sign`` does (EIP-191); text is UTF-8."""
        from mpcwallet.wallet.messages import sign_message
        from mpcwallet.wallet.ports import QuietUi

        raw = message.encode() if isinstance(message, str) else bytes(message)
        with self._env():
            data = sign_message(
                raw,
                share=self._share(key),
                account=account,
                permits=permits,
                yes=True,
                keys=self._keyring(),
                ui=QuietUi(),
            )
        return _message_signature(data)

    def sign_typed_data(
        self,
        document: Mapping[str, Any],
        *,
        chain_id: int | None = None,
        key: str | None = None,
        account: int = 0,
        permits: list[dict[str, Any]] | None = None,
    ) -> MessageSignature:
        """Sign an EIP-712 document (``eth_signTypedData_v4``). ``chain_id``: refuse it unless
        its domain names this chain (``chain_id_mismatch``); without it, a domain chain other
        than the wallet's (``MPC_CHAIN_ID``, default Sepolia) is refused the same way."""
        from mpcwallet.wallet.messages import sign_typed_data
        from mpcwallet.wallet.ports import QuietUi

        with self._env():
            data = sign_typed_data(
                dict(document),
                chain_id=chain_id,
                share=self._share(key),
                account=account,
                permits=permits,
                yes=True,
                keys=self._keyring(),
                ui=QuietUi(),
            )
        return _message_signature(data)

    def broadcast(
        self,
        signed: TransactionSignature | str,
        *,
        rpc_url: str | None = None,
        wait: bool = False,
        confirmations: int | None = None,
        timeout: float = 120.0,
    ) -> dict[str, Any]:
        """Record a signed transaction in the home's ``chain.db``, then send it to the node;
        with ``wait``, follow it until it is confirmed. Returns what ``mpc broadcast --json``
        prints in ``data`` (``hash``, ``state``, and the ``receipt`` once mined)."""
        from mpcwallet.evm.txjson import parse_hex_bytes
        from mpcwallet.wallet.ports import QuietUi
        from mpcwallet.wallet.send import broadcast

        raw_hex = signed.raw_tx if isinstance(signed, TransactionSignature) else signed
        raw = parse_hex_bytes(raw_hex, "raw_tx")
        with self._env():
            return broadcast(
                raw,
                rpc_url=rpc_url,
                wait=wait,
                confirmations=confirmations,
                retry_seconds=None,
                receipt_timeout=timeout,
                ui=QuietUi(),
            )

    def refresh(self, *, key: str | None = None) -> KeyInfo:
        """Re-randomise both shares with the co-signer (the address stays) and save the new
        share to the store; every earlier copy of the share is stale afterwards."""
        from mpcwallet.wallet.ports import QuietUi
        from mpcwallet.wallet.refresh import refresh

        with self._env():
            share = self._share(key)
            refresh(share, keys=self._keyring(), ui=QuietUi())
            self._save(share.name[: -len(".enc")])
            return self._info(share)

    # --- private ---------------------------------------------------------------------------

    @contextmanager
    def _env(self) -> Iterator[None]:
        wanted = {"MPC_HOME": str(self._home)}
        if self._cosigner_url is not None:
            wanted["MPC_COSIGNER_URL"] = self._cosigner_url
        with _ENV_LOCK:
            saved = {k: os.environ.get(k) for k in wanted}
            os.environ.update(wanted)
            try:
                yield
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

    def _share(self, key: str | None) -> Path:
        from mpcwallet.wallet.shares import find_share

        return find_share(None, key)

    def _passphrase_for(self, name: str) -> str:
        source = self._passphrase
        return source if isinstance(source, str) else source(name)

    def _keyring(self) -> PassphraseKeyring:
        from mpcwallet.wallet.ports import PassphraseKeyring

        def source(path: Path, check: Callable[[str], object] | None) -> str:
            typed = self._passphrase_for(path.name[: -len(".enc")])
            if check is not None:
                check(typed)  # wrong_passphrase now, naming the file
            return typed

        return PassphraseKeyring(source)

    def _cosigner_source(self) -> Callable[[bool], str]:
        from mpcwallet.wallet.cosigner import passphrase_from_env

        given = self._cosigner_passphrase
        if given is None:
            return passphrase_from_env
        return lambda first_start: given

    def _info(self, share: Path) -> KeyInfo:
        from mpcwallet.wallet.shares import share_summary

        data = share_summary(share)
        return KeyInfo(
            name=share.name[: -len(".enc")],
            address=str(data["address"]),
            key_id=str(data["key_id"]),
            public_key=str(data["public_key"]),
            engine=str(data["engine"]),
            generation=int(data.get("generation") or 0),
        )

    def _save(self, name: str) -> None:
        from mpcwallet.storage.files import read_share_file

        path = self._home / "shares" / f"{name}.enc"
        self._store.save(name, read_share_file(path))

    def _restore_from_store(self) -> None:
        from mpcwallet.storage.files import ensure_dir, write_new

        if isinstance(self._store, HomeShareStore):
            return
        from mpcwallet.wallet.keygen import NAME_RE

        shares = self._home / "shares"
        for name in self._store.names():
            if not NAME_RE.match(name):
                raise BadInput(f"store: {name!r} is not a key name", field="store")
            target = shares / f"{name}.enc"
            if target.exists():
                continue
            data = self._store.load(name)
            if data is None:
                raise NotFound(f"store: it lists {name!r} but loads nothing", field="store")
            ensure_dir(shares)
            write_new(target, data)


def _message_signature(data: Mapping[str, Any]) -> MessageSignature:
    return MessageSignature(
        signature=str(data["signature"]),
        r=int(str(data["r"]), 16),
        s=int(str(data["s"]), 16),
        v=int(data["v"]),
        hash=str(data["hash"]),
        address=str(data["address"]),
        account=int(data["account"]),
        preview=dict(data.get("preview") or {}),
    )
