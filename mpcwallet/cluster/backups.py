"""Node backups on the coordinator's side (issue 25): collect, store, verify, gate keygen.

After keygen and every refresh each node reports, with ``prepared``, its public share Qi and
its PVE backup (:mod:`mpcwallet.topology.node_backup`). The coordinator records every Qi of
the new generation (``mpc_share_points``), checks each backup against its node's Qi with
public data only, and stores the ones that verify (``mpc_node_backups``). Keygen reports a key
set ready only when every node's backup verified, unless the operator allowed keys without
backups (:func:`gate`).

:func:`verify_keyset` is ``mpc cluster backup verify``: from the store alone (no recovery key,
no node online), every node's latest backup against the key set's current generation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpcwallet.errors import MpcError, PolicyRefused
from mpcwallet.store.backups import BackupRecord
from mpcwallet.store.repo import Store
from mpcwallet.topology.config import ClusterConfig
from mpcwallet.topology.node_backup import BackupProblem, NodeBackup, check_backup

__all__ = ["BackupsRequired", "collect", "gate", "load_backup", "verify_keyset"]


class BackupsRequired(PolicyRefused):
    """A key set would be reported ready without a verified backup of every node's share;
    pin recovery keys, or allow keys without backups explicitly."""

    code = "backups_required"


def _engine() -> Any:
    from mpcwallet.engine import get_mp_engine

    return get_mp_engine("cb-mpc")


def _record(b: NodeBackup) -> BackupRecord:
    return BackupRecord(
        b.keyset_id, b.party, b.generation, b.recovery, b.label, b.ciphertext, b.public_blob
    )


def load_backup(store: Store, keyset_id: str, party: str) -> NodeBackup | None:
    rec = store.latest_backup(keyset_id, party)
    if rec is None:
        return None
    return NodeBackup(
        rec.keyset_id,
        rec.party,
        rec.generation,
        rec.recovery,
        rec.label,
        rec.ciphertext,
        rec.public_blob,
    )


def collect(
    store: Store,
    config: ClusterConfig,
    keyset_id: str,
    generation: int,
    results: Mapping[str, Mapping[str, Any]],
    public_key: str,
) -> list[dict[str, Any]]:
    """Record the generation's share points and store every backup that verifies; one report
    per node (status ok / missing / invalid, reason)."""
    points = {node: str(doc.get("public_share", "")) for node, doc in results.items()}
    store.record_share_points(keyset_id, generation, points)
    reports: list[dict[str, Any]] = []
    engine = _engine() if config.recovery is not None else None
    for node in sorted(results):
        raw = results[node].get("backup")
        if config.recovery is None or raw is None:
            why = (
                "no recovery keys are pinned"
                if config.recovery is None
                else ("the node sent no backup")
            )
            reports.append({"node": node, "status": "missing", "reason": why})
            continue
        try:
            backup = NodeBackup.from_json(raw, f"{node}'s backup")
            check_backup(
                engine,
                backup,
                keyset_id=keyset_id,
                party=node,
                generation=generation,
                public_share=bytes.fromhex(points[node]),
                public_key=bytes.fromhex(public_key),
                recovery=config.recovery,
            )
        except BackupProblem as exc:
            reports.append({"node": node, "status": exc.status, "reason": exc.reason})
            continue
        except MpcError as exc:
            reports.append({"node": node, "status": "invalid", "reason": exc.message})
            continue
        store.put_backup(_record(backup))
        reports.append({"node": node, "status": "ok", "generation": generation})
    return reports


def gate(reports: list[dict[str, Any]], *, allow_without_backups: bool) -> None:
    """Refuse to report a key set ready unless every node's backup verified (or allowed)."""
    bad = [r for r in reports if r["status"] != "ok"]
    if bad and not allow_without_backups:
        detail = "; ".join(f"{r['node']}: {r['status']} ({r['reason']})" for r in bad)
        raise BackupsRequired(
            f"the key set is not ready: not every node's backup verified ({detail}); pin "
            "recovery keys (`mpc cluster recovery-key new --pin`) or start the coordinator "
            "with --allow-keys-without-backups",
            field="backups",
        )


def verify_keyset(store: Store, config: ClusterConfig, keyset_id: str) -> list[dict[str, Any]]:
    """Every node's latest backup against the key set's current generation: one report per
    node, ``status`` ok / missing / stale / invalid and the reason. Public data only."""
    keyset = store.get_keyset(keyset_id)
    generation = store.current_generation(keyset_id)
    if config.recovery is None:
        return [
            {
                "node": p,
                "status": "missing",
                "reason": "no recovery keys are pinned in the cluster configuration",
            }
            for p in keyset.parties
        ]
    points = store.share_points(keyset_id, generation) if generation is not None else {}
    engine = _engine()
    out: list[dict[str, Any]] = []
    for party in keyset.parties:
        if party not in points or keyset.pubkey is None:
            out.append(
                {
                    "node": party,
                    "status": "missing",
                    "reason": "the key set has no recorded public share for this node",
                }
            )
            continue
        try:
            check_backup(
                engine,
                load_backup(store, keyset_id, party),
                keyset_id=keyset_id,
                party=party,
                generation=int(generation or 0),
                public_share=bytes.fromhex(points[party]),
                public_key=bytes.fromhex(keyset.pubkey),
                recovery=config.recovery,
            )
        except BackupProblem as exc:
            out.append({"node": party, "status": exc.status, "reason": exc.reason})
            continue
        out.append({"node": party, "status": "ok", "generation": generation})
    return out
