"""The node's part of verifiable backups (issue 25): after keygen and every refresh, a PVE
backup of its new share to the recovery keys pinned in its own cluster.json, reported to the
coordinator with ``prepared`` (public data only: the ciphertext reveals nothing without the
recovery keys; the node's detached public blob holds Q and every Qi).

The generation comes from the coordinator's start request (0 at keygen, +1 per refresh); a
wrong one only mislabels this node's backup, which then fails verification.
"""

from __future__ import annotations

from typing import Any

from mpcwallet.errors import BadInput
from mpcwallet.topology.config import ClusterConfig
from mpcwallet.topology.node_backup import make_backup

__all__ = ["backup_fields"]


def backup_fields(
    config: ClusterConfig, name: str, plan: dict[str, Any], engine: Any, blob: bytes
) -> dict[str, Any]:
    """``public_share`` always; ``backup`` when recovery keys are pinned."""
    generation = plan.get("generation", 0)
    if type(generation) is not int or generation < 0:
        raise BadInput("generation must be a non-negative integer", field="generation")
    out: dict[str, Any] = {"public_share": engine.public_share(blob).hex()}
    if config.recovery is not None:
        backup = make_backup(engine, blob, plan["keyset_id"], name, generation, config.recovery)
        out["backup"] = backup.to_json()
    return out
