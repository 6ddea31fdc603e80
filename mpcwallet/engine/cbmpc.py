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
compressed) | cb-mpc key blob`` (keys from before accounts: account 0 only) or, since accounts,
``payload = 0x02 | Q | chain code (32 bytes) | cb-mpc key blob``. Q is cb-mpc's own
``get_public_key_compressed`` of that blob, stored alongside because computing it parses the
whole blob (~6 ms, mostly the Paillier key), which would cost a sign ~10 % for nothing.

Accounts (:mod:`mpcwallet.engine.derive`): the same construction as the portable engine, which
is the structure of cb-mpc's own HD derivation (``key_share_ecdsa_hdmpc_2p_t::derive_keys``:
P2's ``x_share + delta``, P1's share and c_key unchanged, Q moved). cb-mpc's
``hd_keyset_ecdsa_2p`` itself is not used for it: its derivation starts with a hardened VRF
step over both parties' shares of a second key k (Z = k1·H(path) + k2·H(path), with DH proofs)
and keeps the resulting chain code inside cb-mpc, so every address, even account 0's, would
need a protocol run with the co-signer. Instead the DKG adds a commit-then-reveal coin toss for
a chain code (portable ``hd.ChainCodeP1/P2``), and an account's cb-mpc key blob is made locally
through cb-mpc's public blob API: P2 detaches its scalar, adds the BIP-32 tweak (mod q, as
derive_keys does) and attaches it again (``attach_private_scalar`` checks it against its public
share); on both sides the blob's Q becomes Q + tweak·G (its ``Q_compressed`` field, at a fixed
offset of cb-mpc's ``key_blob_v1_t`` layout in api/ecdsa2pc.cpp; checked before it is
replaced, and the result must read back as the account's key). cb-mpc then parses the derived blob
(``blob_to_key`` checks the point and, on P1, that c_key still decrypts to x1), and the
signing protocol checks the rest as for any key.
"""

from __future__ import annotations

import coincurve

from mpcwallet import _cbmpc  # ImportError here means: cb-mpc engine not installed
from mpcwallet.engine import blob, derive
from mpcwallet.engine.base import MAX_MESSAGE_BYTES, Job, Role, Transport
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


_PAYLOAD_V1 = 1  # Q | cb-mpc blob: account 0 only
_PAYLOAD_V2 = 2  # Q | chain code | cb-mpc blob
_PUB_LEN = 33
_CC_LEN = 32


def _public_key_of(cb_blob: bytes) -> bytes:
    try:
        return _cbmpc.ecdsa_2p_public_key(cb_blob)
    except _cbmpc.Error as exc:
        raise map_error(exc, traffic=False, has_blob=True) from None


def _pack(role: Role, cb_blob: bytes, chain_code: bytes | None = None) -> bytes:
    pub = _public_key_of(cb_blob)
    if chain_code is None:
        return blob.wrap(ENGINE_NAME, role, bytes([_PAYLOAD_V1]) + pub + cb_blob)
    return blob.wrap(ENGINE_NAME, role, bytes([_PAYLOAD_V2]) + pub + chain_code + cb_blob)


def wrap_key(role: Role, cb_blob: bytes) -> bytes:
    """Our key blob for a raw cb-mpc ``ecdsa_2p`` key blob of ``role``.

    For keys made outside :meth:`CbMpcEngine.dkg`, e.g. by
    ``_cbmpc.hd_keyset_ecdsa_2p_derive`` (multi-account work). Raises KeyBlobMismatch when
    cb-mpc does not accept the blob.
    """
    return _pack(role, cb_blob)


def _unpack3(key_blob: bytes, role: Role) -> tuple[bytes, bytes | None, bytes]:
    """(public key, chain code or None, cb-mpc key blob) of one of our blobs for ``role``."""
    payload = blob.unwrap(key_blob, ENGINE_NAME, role)
    head = 1 + _PUB_LEN + (_CC_LEN if payload[:1] == bytes([_PAYLOAD_V2]) else 0)
    if len(payload) <= head or payload[0] not in (_PAYLOAD_V1, _PAYLOAD_V2):
        raise KeyBlobMismatch(
            "the cb-mpc key share is truncated or of an unknown layout", field="key_blob"
        )
    chain_code = payload[1 + _PUB_LEN : head] if head > 1 + _PUB_LEN else None
    return payload[1 : 1 + _PUB_LEN], chain_code, payload[head:]


def _unpack(key_blob: bytes, role: Role) -> tuple[bytes, bytes]:
    """(public key, cb-mpc key blob) of one of our blobs for ``role``."""
    pub, _, cb_blob = _unpack3(key_blob, role)
    return pub, cb_blob


# cb-mpc api/ecdsa2pc.cpp key_blob_v1_t, converted field by field: u32 version (1), u32 role,
# u32 curve, then Q_compressed as a length byte (33) and the point.
_CB_Q_AT = 13


def _with_q(cb_blob: bytes, q_old: bytes, q_new: bytes) -> bytes:
    if (
        cb_blob[:4] != b"\x00\x00\x00\x01"
        or cb_blob[_CB_Q_AT - 1] != _PUB_LEN
        or cb_blob[_CB_Q_AT : _CB_Q_AT + _PUB_LEN] != q_old
    ):
        raise KeyBlobMismatch(
            "the cb-mpc key blob does not have the layout accounts need (key_blob_v1_t)",
            field="key_blob",
        )
    return cb_blob[:_CB_Q_AT] + q_new + cb_blob[_CB_Q_AT + _PUB_LEN :]


def _account_blob(role: Role, key_blob: bytes, account: int) -> tuple[bytes, bytes]:
    """(public key, cb-mpc key blob) of ``account``: P2's scalar + tweak, Q + tweak·G (see the
    module docstring; cb-mpc ``key_share_ecdsa_hdmpc_2p_t::derive_keys``)."""
    root, chain_code, cb_blob = _unpack3(key_blob, role)
    tweak, pub = derive.account_tweak(root, chain_code, account)
    if tweak == 0:
        return root, cb_blob
    try:
        if role is Role.P1:
            out = _with_q(cb_blob, root, pub)
        else:
            detached, scalar = _cbmpc.ecdsa_2p_detach_private_scalar(cb_blob)
            # derive_keys: MODULO(q) x_share + delta + non_hard_delta (P2 only)
            x2 = (int.from_bytes(scalar, "big") + tweak) % derive.N
            if x2 == 0:
                raise AccountUnavailable(
                    f"account {account} cannot be used with this key set; use another account",
                    field="account",
                )
            x2_raw = x2.to_bytes(32, "big")
            share_pub = coincurve.PrivateKey(x2_raw).public_key.format(compressed=True)
            out = _cbmpc.ecdsa_2p_attach_private_scalar(
                _with_q(detached, root, pub), x2_raw, share_pub
            )
            del scalar, x2, x2_raw
    except _cbmpc.Error as exc:
        raise map_error(exc, traffic=False, has_blob=True) from None
    if _public_key_of(out) != pub:
        raise KeyBlobMismatch("the derived cb-mpc key blob does not read back", field="key_blob")
    return pub, out


def _chain_code_toss(job: Job) -> bytes:
    """The accounts' chain code: a commit-then-reveal coin toss after cb-mpc's DKG, in the same
    session (the portable engine's, engine/portable/hd.py; three small flights)."""
    from mpcwallet.engine.portable import hd
    from mpcwallet.engine.portable.transcript import Session

    if not job.session_id:
        raise BadInput("the session id must not be empty", field="session_id")
    s = Session(bytes(job.session_id), job.party_names)
    t = job.transport
    if job.role is Role.P1:
        c1 = hd.ChainCodeP1(s)
        t.send(hd.encode1(c1.msg1()))
        t.send(hd.encode3(c1.on_msg2(hd.decode2(t.receive()))))
        assert c1.chain_code is not None
        return c1.chain_code
    c2 = hd.ChainCodeP2(s)
    t.send(hd.encode2(c2.on_msg1(hd.decode1(t.receive()))))
    return c2.on_msg3(hd.decode3(t.receive()))


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
        return _pack(job.role, payload, _chain_code_toss(job))

    def refresh(self, job: Job, key_blob: bytes) -> bytes:
        p1, p2 = _names(job)
        pub, chain_code, payload = _unpack3(key_blob, job.role)
        t = _CountingTransport(job.transport)
        try:
            new = _cbmpc.ecdsa_2p_refresh(int(job.role), p1, p2, t, payload)
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=t.moved > 0, has_blob=True) from None
        out = _pack(job.role, new, chain_code)  # same Q, same chain code: same accounts
        if _unpack(out, job.role)[0] != pub:
            # Refresh re-randomises the shares; the joint public key must not move.
            raise ProtocolViolation("cb-mpc refresh: the public key changed")
        return out

    def sign(self, job: Job, key_blob: bytes, digest: bytes, account: int = 0) -> bytes | None:
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise BadInput("the digest must be exactly 32 bytes", field="digest")
        p1, p2 = _names(job)
        pub, payload = _account_blob(job.role, key_blob, account)
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
        _, role = blob.peek(key_blob)
        root, chain_code, _ = _unpack3(key_blob, role)
        return derive.account_public_key(root, chain_code, account)

    def chain_code(self, key_blob: bytes) -> bytes | None:
        _, role = blob.peek(key_blob)
        return _unpack3(key_blob, role)[1]

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
