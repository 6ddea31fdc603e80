"""Type stub for the native module built from native/cbmpc_module.cpp (cb-mpc bindings).

Roles are ours: 1 = P1 (client), 2 = P2 (co-signer). ``transport`` is any object with
``send(bytes) -> None`` and ``receive() -> bytes`` (mpcwallet.engine.base.Transport); an
exception it raises is re-raised unchanged by the call. Protocol calls release the GIL.
"""

from collections.abc import Sequence
from typing import Protocol

class _Transport(Protocol):
    def send(self, data: bytes) -> None: ...
    def receive(self) -> bytes: ...

class Error(Exception):
    """args: (code, op, detail); ``code`` is cb-mpc's signed 32-bit error_t."""

SUCCESS: int
E_GENERAL: int
E_BADARG: int
E_FORMAT: int
E_NOT_SUPPORTED: int
E_NOT_FOUND: int
E_INSUFFICIENT: int
E_RANGE: int
E_NET_GENERAL: int
E_CRYPTO: int
E_ECDSA_2P_BIT_LEAK: int
EXCEPTION_CODE: int
ECATEGORY_GENERIC: int
ECATEGORY_NETWORK: int
ECATEGORY_CRYPTO: int
ECATEGORY_OPENSSL: int

def ecdsa_2p_dkg(role: int, p1_name: str, p2_name: str, transport: _Transport) -> bytes: ...
def ecdsa_2p_refresh(
    role: int, p1_name: str, p2_name: str, transport: _Transport, key_blob: bytes
) -> bytes: ...
def ecdsa_2p_sign(
    role: int,
    p1_name: str,
    p2_name: str,
    transport: _Transport,
    key_blob: bytes,
    msg_hash: bytes,
    sid: bytes = b"",
) -> tuple[bytes, bytes]: ...
def ecdsa_2p_public_key(key_blob: bytes) -> bytes: ...
def ecdsa_2p_detach_private_scalar(key_blob: bytes) -> tuple[bytes, bytes]: ...
def ecdsa_2p_attach_private_scalar(
    scalar_detached_key_blob: bytes, private_scalar: bytes, public_share_compressed: bytes
) -> bytes: ...
def hd_keyset_ecdsa_2p_dkg(
    role: int, p1_name: str, p2_name: str, transport: _Transport
) -> bytes: ...
def hd_keyset_ecdsa_2p_refresh(
    role: int, p1_name: str, p2_name: str, transport: _Transport, keyset_blob: bytes
) -> bytes: ...
def hd_keyset_ecdsa_2p_derive(
    role: int,
    p1_name: str,
    p2_name: str,
    transport: _Transport,
    keyset_blob: bytes,
    hardened_path: Sequence[int],
    non_hardened_paths: Sequence[Sequence[int]],
    sid: bytes = b"",
) -> tuple[bytes, list[bytes]]: ...
def hd_keyset_ecdsa_2p_root_public_key(keyset_blob: bytes) -> bytes: ...
