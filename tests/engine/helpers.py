"""Helpers shared by the engine tests."""

from __future__ import annotations

import hashlib
import queue
from collections.abc import Callable

from coincurve import PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_keys import keys as eth_keys

from mpcwallet.engine import Engine, Job
from mpcwallet.engine.memory import MemoryTransport, run_two_party

Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def sign_both(
    engine: Engine, blob1: bytes, blob2: bytes, digest: bytes, timeout: float = 30
) -> bytes:
    der, none = run_two_party(
        lambda j: engine.sign(j, blob1, digest),
        lambda j: engine.sign(j, blob2, digest),
        timeout=timeout,
    )
    assert none is None
    assert isinstance(der, bytes)
    return der


def check_signature(pubkey: bytes, digest: bytes, der: bytes) -> None:
    """Verifies with coincurve and with eth-keys recovery; s must be low."""
    assert PublicKey(pubkey).verify(der, digest, hasher=None)
    r, s = decode_dss_signature(der)
    assert 0 < r < Q
    assert 0 < s <= Q // 2
    address = eth_keys.PublicKey.from_compressed_bytes(pubkey).to_checksum_address()
    recovered = {
        eth_keys.Signature(vrs=(v, r, s))
        .recover_public_key_from_msg_hash(digest)
        .to_checksum_address()
        for v in (0, 1)
    }
    assert address in recovered


def digest_of(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class TamperingTransport:
    """Wraps a MemoryTransport; ``tamper(index, data)`` rewrites this side's outgoing messages
    and may return None to drop one. Messages go straight to the peer's queue, so the receiving
    side's own checks (size bound, parsing) are what is exercised."""

    def __init__(
        self, inner: MemoryTransport, tamper: Callable[[int, bytes], bytes | None]
    ) -> None:
        self.inner = inner
        self.tamper = tamper
        self.count = 0

    def send(self, data: bytes) -> None:
        out = self.tamper(self.count, data)
        self.count += 1
        if out is not None:
            outbox: queue.Queue[object] = self.inner.outbox
            outbox.put(out)

    def receive(self) -> bytes:
        return self.inner.receive()

    def close(self) -> None:
        self.inner.close()


def tampered(job: Job, tamper: Callable[[int, bytes], bytes | None]) -> Job:
    assert isinstance(job.transport, MemoryTransport)
    return Job(job.role, job.party_names, job.session_id, TamperingTransport(job.transport, tamper))
