"""Type stub for the native module built from native/*.cpp (cb-mpc bindings).

Two-party calls: roles are ours, 1 = P1 (client), 2 = P2 (co-signer); ``transport`` is any
object with ``send(bytes) -> None`` and ``receive() -> bytes`` (mpcwallet.engine.base.Transport).
Multi-party calls (``ecdsa_mp_*``): ``self_index`` indexes ``party_names``, and ``transport`` has
``send(to, bytes)``, ``receive(sender) -> bytes`` and ``receive_all(senders) -> list[bytes]``
with the same indices (mpcwallet.engine.base_mp.MpTransport); each message either way is at most
``max_message`` bytes. An exception a transport raises is re-raised unchanged by the call.
Protocol calls release the GIL. ``access`` is an access structure in the form of
mpcwallet.engine.base_mp.AccessStructure.native(): a leaf is a party name, a node
``(kind, k, children)`` with kind "and", "or" or "threshold". The curve is secp256k1 throughout
(PVE: the outer curve). PVE decrypt / combine do not verify: call the matching verify first.
"""

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeAlias

class _Transport(Protocol):
    def send(self, data: bytes) -> None: ...
    def receive(self) -> bytes: ...

class _MpTransport(Protocol):
    def send(self, to: int, data: bytes) -> None: ...
    def receive(self, sender: int) -> bytes: ...
    def receive_all(self, senders: list[int]) -> Sequence[bytes]: ...

_Access: TypeAlias = str | tuple[str, int, Sequence[object]]

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
MAX_MESSAGE: int

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

# ---- ecdsa_mp (native/ecdsa_mp.cpp) ------------------------------------------------------------

def ecdsa_mp_dkg_additive(
    self_index: int, party_names: Sequence[str], transport: _MpTransport, max_message: int = ...
) -> tuple[bytes, bytes]: ...
def ecdsa_mp_dkg_ac(
    self_index: int,
    party_names: Sequence[str],
    transport: _MpTransport,
    access: _Access,
    quorum: Sequence[str],
    sid: bytes = b"",
    max_message: int = ...,
) -> tuple[bytes, bytes]: ...
def ecdsa_mp_refresh_additive(
    self_index: int,
    party_names: Sequence[str],
    transport: _MpTransport,
    key_blob: bytes,
    sid: bytes = b"",
    max_message: int = ...,
) -> tuple[bytes, bytes]: ...
def ecdsa_mp_refresh_ac(
    self_index: int,
    party_names: Sequence[str],
    transport: _MpTransport,
    key_blob: bytes,
    access: _Access,
    quorum: Sequence[str],
    sid: bytes = b"",
    max_message: int = ...,
) -> tuple[bytes, bytes]: ...
def ecdsa_mp_sign_additive(
    self_index: int,
    party_names: Sequence[str],
    transport: _MpTransport,
    key_blob: bytes,
    msg_hash: bytes,
    sig_receiver: int,
    max_message: int = ...,
) -> bytes: ...
def ecdsa_mp_sign_ac(
    self_index: int,
    party_names: Sequence[str],
    transport: _MpTransport,
    key_blob: bytes,
    access: _Access,
    msg_hash: bytes,
    sig_receiver: int,
    max_message: int = ...,
) -> bytes: ...
def ecdsa_mp_public_key(key_blob: bytes) -> bytes: ...
def ecdsa_mp_public_share(key_blob: bytes) -> bytes: ...
def ecdsa_mp_detach_private_scalar(key_blob: bytes) -> tuple[bytes, bytes]: ...
def ecdsa_mp_attach_private_scalar(
    public_key_blob: bytes, private_scalar: bytes, public_share_compressed: bytes
) -> bytes: ...

# ---- pve (native/pve.cpp) ----------------------------------------------------------------------

def pve_generate_rsa_keypair() -> tuple[bytes, bytes]: ...
def pve_generate_ecies_p256_keypair() -> tuple[bytes, bytes]: ...
def pve_encrypt(ek: bytes, label: bytes, x: bytes) -> bytes: ...
def pve_verify(ek: bytes, ciphertext: bytes, Q_compressed: bytes, label: bytes) -> None: ...
def pve_decrypt(dk: bytes, ek: bytes, ciphertext: bytes, label: bytes) -> bytes: ...
def pve_public_key(ciphertext: bytes) -> bytes: ...
def pve_label(ciphertext: bytes) -> bytes: ...
def pve_encrypt_batch(ek: bytes, label: bytes, xs: Sequence[bytes]) -> bytes: ...
def pve_verify_batch(
    ek: bytes, ciphertext: bytes, Qs_compressed: Sequence[bytes], label: bytes
) -> None: ...
def pve_decrypt_batch(dk: bytes, ek: bytes, ciphertext: bytes, label: bytes) -> list[bytes]: ...
def pve_public_keys_batch(ciphertext: bytes) -> list[bytes]: ...
def pve_encrypt_ac(
    access: _Access, leaf_eks: Mapping[str, bytes], label: bytes, xs: Sequence[bytes]
) -> bytes: ...
def pve_verify_ac(
    access: _Access,
    leaf_eks: Mapping[str, bytes],
    ciphertext: bytes,
    Qs_compressed: Sequence[bytes],
    label: bytes,
) -> None: ...
def pve_partial_decrypt_ac(
    access: _Access, ciphertext: bytes, attempt: int, leaf_name: str, dk: bytes, label: bytes
) -> bytes: ...
def pve_combine_ac(
    access: _Access, ciphertext: bytes, attempt: int, label: bytes, shares: Mapping[str, bytes]
) -> list[bytes]: ...
def pve_public_keys_ac(ciphertext: bytes) -> list[bytes]: ...
