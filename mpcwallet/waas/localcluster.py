"""A signer cluster in one process: n node objects, cb-mpc ``ecdsa_mp`` over the in-memory
network (:mod:`mpcwallet.engine.memory_mp`), behind the :class:`~mpcwallet.waas.ports.Coordinator`
port. For ``mpc waas serve --local-cluster`` and tests until the networked coordinator (the
cluster branch) is wired in; the shares never leave this process and are never written.

Each :class:`LocalNode` does what a networked node does before it takes part in a signature: it
parses the transaction it was sent, recomputes the signing digest itself (``signing_digest``,
EIP-1559 / EIP-155), and verifies the permit itself under the pinned permit key
(:func:`mpcwallet.topology.permit.check_permit`): signature, expiry, key set, tx_hash, single use
in its own record. One node's refusal means nothing is signed; every refusal is reported to
``on_refusal`` (the service's audit trail records it as ``SIGN_PERMIT_REJECTED``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mpcwallet.engine.base_mp import MpEngine, threshold
from mpcwallet.engine.memory_mp import make_mp_jobs, results, run_parties
from mpcwallet.errors import BadInput, Busy, NotFound, PermitRefused, PermitReplayed
from mpcwallet.evm.txjson import parse_tx, signing_digest
from mpcwallet.topology.permit import SigningPermit, check_permit
from mpcwallet.waas.ports import KeysetInfo

__all__ = ["LocalCluster", "LocalNode"]

Refusal = Callable[[str, str, PermitRefused], None]  # (node, keyset_id, error)


@dataclass
class LocalNode:
    name: str
    permit_key: bytes  # pinned Ed25519 public key
    blobs: dict[str, bytes] = field(default_factory=dict, repr=False)
    used_permits: set[str] = field(default_factory=set, repr=False)
    refusals: list[str] = field(default_factory=list)
    signed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def admit(self, keyset_id: str, tx: dict[str, Any], permit: dict[str, Any] | None) -> bytes:
        """The digest this node will sign, once the permit checks out; PermitRefused else."""
        if keyset_id not in self.blobs:
            raise NotFound(f"node {self.name} has no share of key set {keyset_id}")
        digest = signing_digest(parse_tx(tx))
        with self._lock:
            try:
                checked = SigningPermit.from_json(permit)
                check_permit(
                    checked, permit_key=self.permit_key, keyset_id=keyset_id, digest=digest
                )
                if checked.nonce in self.used_permits:
                    raise PermitReplayed("this signing permit was used already", field="permit")
                self.used_permits.add(checked.nonce)
            except PermitRefused as exc:
                self.refusals.append(exc.code)
                raise
        return digest


class LocalCluster:
    def __init__(
        self,
        permit_key: bytes,
        *,
        n: int = 3,
        cluster_id: str = "local",
        engine: MpEngine | None = None,
        on_refusal: Refusal | None = None,
    ) -> None:
        if engine is None:
            from mpcwallet.engine import get_mp_engine

            engine = get_mp_engine("cb-mpc")
        self.engine = engine
        self.cluster_id = cluster_id
        self.nodes = [LocalNode(f"node-{i + 1}", permit_key) for i in range(n)]
        self.on_refusal = on_refusal
        self._keysets: dict[str, KeysetInfo] = {}
        self._busy: dict[str, threading.Lock] = {}

    def _node(self, name: str) -> LocalNode:
        return next(n for n in self.nodes if n.name == name)

    def create_keyset(self, t: int, n: int, tenant: str, wallet_id: str) -> KeysetInfo:
        if n != len(self.nodes) or not 2 <= t <= n:
            raise BadInput(
                f"this cluster has {len(self.nodes)} nodes: mpc_n must be {len(self.nodes)} "
                f"and 2 <= mpc_t <= mpc_n (got {t}-of-{n})",
                field="mpc_n",
            )
        names = tuple(node.name for node in self.nodes)
        network, jobs = make_mp_jobs(names, threshold(t, names), timeout=60.0)
        blobs = results(run_parties([self.engine.dkg] * n, jobs, network))
        keyset_id = "ks_" + secrets.token_hex(8)
        for node, blob in zip(self.nodes, blobs, strict=True):
            node.blobs[keyset_id] = blob
        info = KeysetInfo(
            keyset_id,
            self.engine.public_key(blobs[0]),
            t,
            n,
            names,
            meta={"tenant": tenant, "wallet_id": wallet_id, "generation": 1},
        )
        self._keysets[keyset_id] = info
        self._busy[keyset_id] = threading.Lock()
        return info

    def keyset(self, keyset_id: str) -> KeysetInfo:
        if keyset_id not in self._keysets:
            raise NotFound(f"no key set {keyset_id} in cluster {self.cluster_id}")
        return self._keysets[keyset_id]

    def sign_tx(self, keyset_id: str, tx: dict[str, Any], permit: dict[str, Any] | None) -> bytes:
        info = self.keyset(keyset_id)
        quorum = info.parties[: info.t]
        digests = set()
        for name in info.parties:  # every node checks, not only the quorum
            node = self._node(name)
            try:
                digests.add(node.admit(keyset_id, tx, permit))
            except PermitRefused as exc:
                if self.on_refusal is not None:
                    self.on_refusal(name, keyset_id, exc)
                raise
        (digest,) = digests
        lock = self._busy[keyset_id]
        if not lock.acquire(timeout=120):
            raise Busy(f"key set {keyset_id} is busy")
        try:
            names = info.parties
            network, jobs = make_mp_jobs(names, threshold(info.t, names), quorum, timeout=60.0)
            idx = [names.index(q) for q in quorum]
            blobs = [self._node(names[i]).blobs[keyset_id] for i in idx]
            fns = [(lambda j, b=b: self.engine.sign(j, b, digest, quorum[0])) for b in blobs]
            out = results(run_parties(fns, [jobs[i] for i in idx], network))
        finally:
            lock.release()
        der = next(o for o in out if o)
        for q in quorum:
            self._node(q).signed += 1
        assert isinstance(der, bytes)
        return der

    def refresh(self, keyset_id: str) -> KeysetInfo:
        info = self.keyset(keyset_id)
        names = info.parties
        with self._busy[keyset_id]:
            network, jobs = make_mp_jobs(names, threshold(info.t, names), timeout=60.0)
            fns = [
                (lambda j, n=n: self.engine.refresh(j, self._node(n).blobs[keyset_id]))
                for n in names
            ]
            blobs = results(run_parties(fns, jobs, network))
            if self.engine.public_key(blobs[0]) != info.public_key:
                raise BadInput("refresh changed the public key; shares kept")
            for name, blob in zip(names, blobs, strict=True):
                self._node(name).blobs[keyset_id] = blob
        gen = int(info.meta.get("generation", 1)) + 1
        new = KeysetInfo(
            info.keyset_id,
            info.public_key,
            info.t,
            info.n,
            info.parties,
            meta={**info.meta, "generation": gen},
        )
        self._keysets[keyset_id] = new
        return new
