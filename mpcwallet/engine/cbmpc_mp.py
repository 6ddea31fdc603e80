"""cb-mpc's multi-party ECDSA (``coinbase::api::ecdsa_mp``) behind :class:`MpEngine`.

Keys are access-structure keys (``dkg_ac`` / ``refresh_ac`` / ``sign_ac``) on secp256k1. This
module checks the job against the key before any message moves (party set, this party's name,
the access structure recorded at key generation, a quorum that satisfies it), maps indices
between the key's party list and the signing quorum, and turns cb-mpc's error codes into
:mod:`mpcwallet.errors` (:func:`mpcwallet.engine.cbmpc.map_error`: crypto-category codes are
protocol violations, network codes transient, format/argument codes before any traffic bad
input or a key that does not fit, after traffic a malformed peer message).

Key blob: :mod:`mpcwallet.engine.blob_mp` with meta ``{"v": 1, "names": [...], "self": name,
"access": [kind, k, children]}`` around cb-mpc's own access-structure key blob (``key_blob_v1_t``
version 2, api/ecdsa_mp.cpp), which carries Q, every Qi and this party's x share.

Signing: cb-mpc's job for ``sign_ac`` is the quorum alone (api/ecdsa_mp.cpp sign_ac: "only
requires the parties in job.party_names to be online"); the quorum's order is the key's party
order, so every signer derives the same list whatever order ``job.quorum`` gives. The receiver
checks the DER signature against the public key with libsecp256k1 (which also rejects high-s)
before returning it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import coincurve

from mpcwallet import _cbmpc  # ImportError here means: cb-mpc engine not installed
from mpcwallet.engine import blob_mp
from mpcwallet.engine.base import MAX_MESSAGE_BYTES
from mpcwallet.engine.base_mp import AccessStructure, MpJob, MpTransport, check_names
from mpcwallet.engine.cbmpc import map_error
from mpcwallet.errors import BadInput, KeyBlobMismatch, MalformedMessage, ProtocolViolation

__all__ = ["CbMpcMpEngine"]

ENGINE_NAME = "cb-mpc"
_META_VERSION = 1


class _Mapped:
    """The job's transport as cb-mpc sees it: indices of cb-mpc's party list mapped to the
    key's (``to_full``), messages counted (a failure after traffic is the peers' doing, see
    :class:`mpcwallet.engine.cbmpc._CountingTransport`) and size-bounded."""

    __slots__ = ("inner", "moved", "to_full")

    def __init__(self, inner: MpTransport, to_full: Sequence[int]) -> None:
        self.inner = inner
        self.to_full = tuple(to_full)
        self.moved = 0

    def _bounded(self, data: object, sender: int) -> bytes:
        if not isinstance(data, bytes) or len(data) > MAX_MESSAGE_BYTES:
            raise MalformedMessage(
                f"party #{self.to_full[sender]} sent a message that is not bytes or is over "
                f"{MAX_MESSAGE_BYTES} bytes"
            )
        return data

    def send(self, to: int, data: bytes) -> None:
        self.moved += 1
        self.inner.send(self.to_full[to], data)

    def receive(self, sender: int) -> bytes:
        self.moved += 1
        return self._bounded(self.inner.receive(self.to_full[sender]), sender)

    def receive_all(self, senders: Sequence[int]) -> list[bytes]:
        self.moved += 1
        got = self.inner.receive_all([self.to_full[s] for s in senders])
        if len(got) != len(senders):
            raise MalformedMessage("the transport returned the wrong number of messages")
        return [self._bounded(d, s) for d, s in zip(got, senders, strict=True)]


def _access_json(access: AccessStructure) -> Any:
    """The access structure as it reads back from a blob's meta (lists, not tuples)."""
    return json.loads(json.dumps(access.native()))


def _meta(job: MpJob) -> dict[str, Any]:
    return {
        "v": _META_VERSION,
        "names": list(job.party_names),
        "self": job.my_name,
        "access": _access_json(job.access),
    }


def _check_job(job: MpJob) -> tuple[str, ...]:
    names = check_names(job.party_names)
    if isinstance(job.index, bool) or not isinstance(job.index, int):
        raise BadInput("the party index must be an integer", field="index")
    if not 0 <= job.index < len(names):
        raise BadInput(f"the party index must be in 0..{len(names) - 1}", field="index")
    if not isinstance(job.access, AccessStructure):
        raise BadInput("the access structure is missing", field="access_structure")
    if sorted(job.access.leaves()) != sorted(names):
        raise BadInput(
            "the access structure must name exactly the parties of the key",
            field="access_structure",
        )
    if not isinstance(job.session_id, bytes):
        raise BadInput("the session id must be bytes", field="session_id")
    return names


def _check_quorum(job: MpJob, names: tuple[str, ...], *, signing: bool) -> tuple[str, ...]:
    quorum = tuple(job.quorum)
    if len(set(quorum)) != len(quorum) or not set(quorum) <= set(names):
        raise BadInput("the quorum must name distinct parties of the key", field="quorum")
    if not job.access.satisfied_by(quorum):
        raise BadInput(
            f"the quorum {', '.join(quorum) or '(none)'} does not satisfy the access structure "
            f"{job.access.describe()}",
            field="quorum",
        )
    if signing and job.my_name not in quorum:
        raise BadInput(f"party {job.my_name!r} is not in the signing quorum", field="quorum")
    # cb-mpc's order for the quorum: the key's party order, the same on every side.
    return tuple(n for n in names if n in set(quorum))


def _verify(pub: bytes, der: bytes, digest: bytes) -> bool:
    try:
        return bool(coincurve.PublicKey(pub).verify(der, digest, hasher=None))
    except ValueError:
        return False


class CbMpcMpEngine:
    """cb-mpc ECDSA-MP on secp256k1 under an access structure (:class:`MpEngine`)."""

    name = ENGINE_NAME
    protocol_version = 1

    def _unwrap(self, job: MpJob | None, key_blob: bytes) -> tuple[dict[str, Any], bytes]:
        meta, payload = blob_mp.unwrap(key_blob, ENGINE_NAME)
        if meta.get("v") != _META_VERSION:
            raise KeyBlobMismatch("the multi-party key blob has an unknown layout")
        if job is None:
            return meta, payload
        if meta.get("names") != list(job.party_names):
            raise KeyBlobMismatch(
                "the key share belongs to another party list (or order)", field="party_names"
            )
        if meta.get("self") != job.my_name:
            raise KeyBlobMismatch(
                f"the key share belongs to party {meta.get('self')!r}, not {job.my_name!r}",
                field="index",
            )
        if meta.get("access") != _access_json(job.access):
            raise KeyBlobMismatch(
                "the key was made under another access structure", field="access_structure"
            )
        return meta, payload

    def dkg(self, job: MpJob) -> bytes:
        names = _check_job(job)
        quorum = _check_quorum(job, names, signing=False)
        t = _Mapped(job.transport, range(len(names)))
        try:
            _sid, payload = _cbmpc.ecdsa_mp_dkg_ac(
                job.index, list(names), t, job.access.native(), list(quorum), job.session_id
            )
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=t.moved > 0, has_blob=False) from None
        return blob_mp.wrap(ENGINE_NAME, _meta(job), payload)

    def refresh(self, job: MpJob, key_blob: bytes) -> bytes:
        names = _check_job(job)
        quorum = _check_quorum(job, names, signing=False)
        _, payload = self._unwrap(job, key_blob)
        pub = self._public_key_of(payload)
        t = _Mapped(job.transport, range(len(names)))
        try:
            _sid, new = _cbmpc.ecdsa_mp_refresh_ac(
                job.index,
                list(names),
                t,
                payload,
                job.access.native(),
                list(quorum),
                job.session_id,
            )
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=t.moved > 0, has_blob=True) from None
        if self._public_key_of(new) != pub:
            # Refresh re-randomises the shares; the joint public key must not move.
            raise ProtocolViolation("cb-mpc refresh_ac: the public key changed")
        return blob_mp.wrap(ENGINE_NAME, _meta(job), new)

    def sign(self, job: MpJob, key_blob: bytes, digest: bytes, receiver: str) -> bytes | None:
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise BadInput("the digest must be exactly 32 bytes", field="digest")
        names = _check_job(job)
        signers = _check_quorum(job, names, signing=True)
        if receiver not in signers:
            raise BadInput(
                f"the signature receiver {receiver!r} is not in the signing quorum",
                field="receiver",
            )
        _, payload = self._unwrap(job, key_blob)
        t = _Mapped(job.transport, [names.index(n) for n in signers])
        try:
            der = _cbmpc.ecdsa_mp_sign_ac(
                signers.index(job.my_name),
                list(signers),
                t,
                payload,
                job.access.native(),
                digest,
                signers.index(receiver),
            )
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=t.moved > 0, has_blob=True) from None
        if job.my_name != receiver:
            return None
        # cb-mpc verifies too (ecdsa_mp.cpp, end of sign); we check again with libsecp256k1,
        # which also rejects high-s, before anything leaves this process.
        if not _verify(self._public_key_of(payload), der, digest):
            raise ProtocolViolation(
                "cb-mpc sign_ac: the joint signature did not verify against the public key"
            )
        return der

    def _public_key_of(self, payload: bytes) -> bytes:
        try:
            return _cbmpc.ecdsa_mp_public_key(payload)
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=False, has_blob=True) from None

    def public_key(self, key_blob: bytes) -> bytes:
        return self._public_key_of(self._unwrap(None, key_blob)[1])

    def public_share(self, key_blob: bytes) -> bytes:
        """This party's share point Qi (SEC1 compressed): what a PVE backup of its scalar
        is verified against (ecdsa_mp::get_public_share_compressed)."""
        try:
            return _cbmpc.ecdsa_mp_public_share(self._unwrap(None, key_blob)[1])
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=False, has_blob=True) from None

    def detach_private_scalar(self, key_blob: bytes) -> tuple[bytes, bytes]:
        """(public-only key blob, 32-byte scalar share): ecdsa_mp::detach_private_scalar."""
        meta, payload = self._unwrap(None, key_blob)
        try:
            public, scalar = _cbmpc.ecdsa_mp_detach_private_scalar(payload)
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=False, has_blob=True) from None
        return blob_mp.wrap(ENGINE_NAME, meta, public), scalar

    def attach_private_scalar(
        self, public_blob: bytes, scalar: bytes, public_share: bytes
    ) -> bytes:
        """The full key blob again; cb-mpc checks scalar·G == Qi_self == ``public_share``."""
        meta, payload = self._unwrap(None, public_blob)
        try:
            full = _cbmpc.ecdsa_mp_attach_private_scalar(payload, scalar, public_share)
        except _cbmpc.Error as exc:
            raise map_error(exc, traffic=False, has_blob=True) from None
        return blob_mp.wrap(ENGINE_NAME, meta, full)
