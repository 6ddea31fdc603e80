"""The cb-mpc engine: an adapter over the native module ``mpcwallet._cbmpc``.

cb-mpc's ECDSA-2PC (``coinbase::api::ecdsa_2p``) is Lindell 2017 two-party ECDSA with
Paillier, constant-time arithmetic, audited. This module only moves bytes between our
:class:`~mpcwallet.engine.base.Job` and the binding and turns cb-mpc's error codes into
:mod:`mpcwallet.errors`. Importing it raises :class:`ImportError` when the native module was not
built (the engine registry reads that as "not installed").

Messages on the wire: dkg, refresh and sign flights are cb-mpc's own. After a successful sign,
P1 sends one more message, the DER signature, so that P2 (which cb-mpc gives no signature, and
which returns success even when P1 then finds a failure) only reports success once P1 holds a
valid signature; P2 checks that signature against the digest and the joint public key itself.

Key blob: ``blob.wrap("cb-mpc", role, payload)`` with ``payload = 0x01 | Q (33 bytes, SEC1
compressed) | cb-mpc key blob``. Q is cb-mpc's own ``get_public_key_compressed`` of that blob,
stored alongside because computing it parses the whole blob (~6 ms, mostly the Paillier key),
which would cost a sign ~10 % for nothing.
"""

from __future__ import annotations

import coincurve

from mpcwallet import _cbmpc  # ImportError here means: cb-mpc engine not installed
from mpcwallet.engine import blob
from mpcwallet.engine.base import MAX_MESSAGE_BYTES, Job, Role, Transport, check_account
from mpcwallet.errors import (
    AccountUnavailable,
    BadInput,
    InternalError,
    KeyBlobMismatch,
    MalformedMessage,
    MpcError,
    PeerUnreachable,
    ProtocolViolation,
)

__all__ = ["CbMpcEngine", "map_error", "wrap_key"]

ENGINE_NAME = "cb-mpc"
_U32 = 0xFFFFFFFF


class _CountingTransport:
    """Wraps the job's transport to know whether any message moved before an error.

    cb-mpc parses and checks a key blob before its first message; an argument or format error
    with no traffic is therefore ours (bad blob, bad argument), one after traffic came from the
    peer's messages.
    """

    __slots__ = ("inner", "moved")

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.moved = 0

    def send(self, data: bytes) -> None:
        self.moved += 1
        self.inner.send(data)

    def receive(self) -> bytes:
        self.moved += 1
        data = self.inner.receive()
        if not data:
            # cb-mpc never sends an empty flight; handed one, it reports a network error,
            # which would read as "retry later" for what is a malformed peer message.
            raise MalformedMessage("the peer sent an empty protocol message")
        return data


def _category(code: int) -> int:
    # cb-mpc include/cbmpc/core/error.h: ECATEGORY(code) = (code >> 16) & 0xff.
    return ((code & _U32) >> 16) & 0xFF


def map_error(exc: _cbmpc.Error, *, traffic: bool, has_blob: bool) -> MpcError:
    """Our error for a failed cb-mpc call. Never includes payloads or key material."""
    code, op = int(exc.args[0]), str(exc.args[1])
    where = f"cb-mpc {op} failed (code 0x{code & _U32:08x})"
    cat = _category(code)
    if code == _cbmpc.E_ECDSA_2P_BIT_LEAK:
        # cb-mpc protocol/ecdsa_2p.cpp sign_batch_impl: P1's final verification of the joint
        # signature failed (Lindell 2017, ePrint 2017/552, signing protocol: P1 verifies before
        # output; a failed signature may leak a bit of x1, so it is never retried).
        return ProtocolViolation(
            f"{where}: the joint signature did not verify (E_ECDSA_2P_BIT_LEAK); the peer may "
            "be malicious. Do not retry with this key until an operator has checked the peer"
        )
    if cat == _cbmpc.ECATEGORY_CRYPTO:
        return ProtocolViolation(
            f"{where}: a cryptographic check on the peer's messages failed "
            "(zero-knowledge proof, commitment or signature check); not retried"
        )
    if cat == _cbmpc.ECATEGORY_NETWORK:
        return PeerUnreachable(f"{where}: the transport to the peer failed; retry later")
    if not traffic:
        if code in (_cbmpc.E_FORMAT, _cbmpc.E_RANGE, _cbmpc.E_BADARG) and has_blob:
            return KeyBlobMismatch(
                f"{where}: the key share is not a valid cb-mpc key for this party; "
                "restore it from a backup or run keygen again",
                field="key_blob",
            )
        if code in (_cbmpc.E_BADARG, _cbmpc.E_NOT_SUPPORTED, _cbmpc.E_RANGE, _cbmpc.E_FORMAT):
            return BadInput(f"{where}: cb-mpc refused the arguments")
        return InternalError(f"{where}: unexpected local failure")
    # Our arguments and key blob were checked before the first message (see
    # _CountingTransport), so a failure after traffic comes from what the peer sent:
    # E_FORMAT / E_BADARG (converter: a peer message did not parse or had trailing bytes),
    # E_RANGE, E_INSUFFICIENT, OpenSSL failures on peer-supplied values, a cb_assert tripped
    # by them. The peer's fault, never a retry.
    return MalformedMessage(f"{where}: the peer sent a malformed or invalid message")


def _names(job: Job) -> tuple[str, str]:
    p1, p2 = job.party_names
    # cb-mpc api/job_util.h validate_job_2p: non-empty and distinct.
    if not p1 or not p2 or p1 == p2:
        raise BadInput("party names must be non-empty and distinct", field="party_names")
    return p1, p2


_PAYLOAD_VERSION = 1
_PUB_LEN = 33


def _public_key_of(cb_blob: bytes) -> bytes:
    try:
        return _cbmpc.ecdsa_2p_public_key(cb_blob)
    except _cbmpc.Error as exc:
        raise map_error(exc, traffic=False, has_blob=True) from None


def _pack(role: Role, cb_blob: bytes) -> bytes:
    pub = _public_key_of(cb_blob)
    return blob.wrap(ENGINE_NAME, role, bytes([_PAYLOAD_VERSION]) + pub + cb_blob)


def wrap_key(role: Role, cb_blob: bytes) -> bytes:
    """Our key blob for a raw cb-mpc ``ecdsa_2p`` key blob of ``role``.

    For keys made outside :meth:`CbMpcEngine.dkg`, e.g. by
    ``_cbmpc.hd_keyset_ecdsa_2p_derive`` (multi-account work). Raises KeyBlobMismatch when
    cb-mpc does not accept the blob.
    """
    return _pack(role, cb_blob)


def _unpack(key_blob: bytes, role: Role) -> tuple[bytes, bytes]:
    """(public key, cb-mpc key blob) of one of our blobs for ``role``."""
    payload = blob.unwrap(key_blob, ENGINE_NAME, role)
    if len(payload) <= 1 + _PUB_LEN or payload[0] != _PAYLOAD_VERSION:
        raise KeyBlobMismatch(
            "the cb-mpc key share is truncated or of an unknown layout", field="key_blob"
        )
    return payload[1 : 1 + _PUB_LEN], payload[1 + _PUB_LEN :]


def _account_zero(account: int) -> None:
    """cb-mpc keys have account 0 only for now.

    cb-mpc's HD keyset (``hd_keyset_ecdsa_2p``, bound as ``_cbmpc.hd_keyset_ecdsa_2p_*``)
    derives through a hardened VRF step (``key_share_ecdsa_hdmpc_2p_t::derive_keys``: both
    parties' shares of k make Z = k·H(path), which yields delta and the chain code), so every
    derivation, even of a public key, is a protocol run with the co-signer, and the chain code
    never leaves cb-mpc. Addresses that both sides compute alone (what accounts promise) need
    that chain code; until cb-mpc exposes it, accounts are a portable-engine feature.
    """
    if check_account(account) != 0:
        raise AccountUnavailable(
            "cb-mpc keys have account 0 only in this version; use a portable-engine key "
            "for more accounts",
            field="account",
        )


def _verify(pub: bytes, der: bytes, digest: bytes) -> bool:
    try:
        return bool(coincurve.PublicKey(pub).verify(der, digest, hasher=None))
    except ValueError:  # DER that does not parse
        return False


class CbMpcEngine:
    """cb-mpc ECDSA-2PC on secp256k1 behind the :class:`~mpcwallet.engine.base.Engine` API."""

    name = ENGINE_NAME
    protocol_version = 1

    def dkg(self, job: Job) -> bytes:
        p1, p2 = _names(job)
        t = _CountingTransport(job.transport)
        try:
            payload = _cbmpc.ecdsa_2p_dkg(int(job.role), p1, p2, t)
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=t.moved > 0, has_blob=False) from None
        return _pack(job.role, payload)

    def refresh(self, job: Job, key_blob: bytes) -> bytes:
        p1, p2 = _names(job)
        pub, payload = _unpack(key_blob, job.role)
        t = _CountingTransport(job.transport)
        try:
            new = _cbmpc.ecdsa_2p_refresh(int(job.role), p1, p2, t, payload)
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=t.moved > 0, has_blob=True) from None
        out = _pack(job.role, new)
        if _unpack(out, job.role)[0] != pub:
            # Refresh re-randomises the shares; the joint public key must not move.
            raise ProtocolViolation("cb-mpc refresh: the public key changed")
        return out

    def sign(self, job: Job, key_blob: bytes, digest: bytes, account: int = 0) -> bytes | None:
        _account_zero(account)
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise BadInput("the digest must be exactly 32 bytes", field="digest")
        p1, p2 = _names(job)
        pub, payload = _unpack(key_blob, job.role)
        t = _CountingTransport(job.transport)
        try:
            # cb-mpc's sid binds the commitments and proofs of this run. With an empty sid,
            # cb-mpc agrees one first (protocol/sid.h generate_sid_fixed_2p: one extra round,
            # both parties contribute). Our session id already is such a value: identical on
            # both sides, fresh per run, hashed from a handshake transcript carrying both
            # parties' nonces (session/wire.py derive_session_keys). So it is passed as the sid.
            _sid, der = _cbmpc.ecdsa_2p_sign(
                int(job.role), p1, p2, t, payload, digest, job.session_id
            )
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=t.moved > 0, has_blob=True) from None
        if job.role == Role.P1:
            # cb-mpc verifies too (ecdsa_2p.cpp, end of sign_batch_impl); we check again with
            # libsecp256k1, which also rejects high-s, before anything leaves this process.
            if not _verify(pub, der, digest):
                raise ProtocolViolation(
                    "cb-mpc sign: the joint signature did not verify against the public key"
                )
            job.transport.send(der)
            return der
        confirmation = job.transport.receive()
        if len(confirmation) > MAX_MESSAGE_BYTES or not _verify(pub, confirmation, digest):
            raise ProtocolViolation(
                "cb-mpc sign: P1's confirmation is not a valid signature for this digest and key"
            )
        return None

    def account_public_key(self, key_blob: bytes, account: int) -> bytes:
        _account_zero(account)
        _, role = blob.peek(key_blob)
        return _unpack(key_blob, role)[0]

    def chain_code(self, key_blob: bytes) -> bytes | None:
        return None

    def public_key(self, key_blob: bytes) -> bytes:
        """Q as cb-mpc computes it from the share itself (not the stored copy), so that
        ``mpc backup verify`` checks the key material; the stored copy must agree."""
        _, role = blob.peek(key_blob)
        stored, payload = _unpack(key_blob, role)
        computed = _public_key_of(payload)
        if computed != stored:
            raise KeyBlobMismatch(
                "the cb-mpc key share does not match its recorded public key", field="key_blob"
            )
        return computed
