"""Recovery keys, backup verification and restore of a cluster's nodes (issue 25): the use cases
behind ``mpc cluster recovery-key new``, ``mpc cluster backup verify`` and ``mpc cluster
backup restore`` (the CLI only parses and prints).

Restore (a node died, its share was lost, or it was compromised): on a fresh home for the same
party name, a new static key is made and pinned in place in cluster.json (every node's copy);
then, for every key set the node holds a part of, the node's latest backup is verified against
the key set's public data, decrypted with the recovery key(s), attached to the node's public
blob (cb-mpc checks x·G == Qi) and written as the node's encrypted share. A refresh with all
nodes must follow, so that the old generation (a stolen copy included) dies.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mpcwallet.errors import BadInput
from mpcwallet.storage.files import ensure_dir, write_atomic
from mpcwallet.topology.node_backup import BackupUnverified

__all__ = ["demo_recovery", "new_node_home", "new_recovery_key", "restore_node", "verify"]


def demo_recovery(directory: Path) -> Any:
    """The demo cluster's recovery key: ``recovery.key`` under ``recovery.passphrase``."""
    from mpcwallet.topology.recovery import RecoverySet
    from mpcwallet.topology.recovery import new_recovery_key as make

    passphrase = secrets.token_urlsafe(24)
    write_atomic(Path(directory) / "recovery.passphrase", passphrase.encode())
    public, _ = make(Path(directory) / "recovery.key", "demo-recovery", "ecies-p256", passphrase)
    return RecoverySet((public,), 1)


def new_recovery_key(
    out: Path,
    name: str,
    kind: str,
    passphrase: str,
    *,
    config: Path | None = None,
    quorum: int | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """A recovery key pair; the private half to ``out``. With ``config``, its public half is
    added to the pinned recovery keys (``quorum`` of them needed, default: the current one
    or 1)."""
    from mpcwallet.topology.config import load_config, pin_recovery
    from mpcwallet.topology.recovery import new_recovery_key as make

    if config is not None:
        load_config(config, require_complete=False)  # a bad file fails before a key is made
    public, dk = make(out, name, kind, passphrase, force=force)
    result: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "file": str(out),
        "fingerprint": public.fingerprint,
        "ek": public.ek.hex(),
    }
    if config is not None:
        current = load_config(config, require_complete=False).recovery
        keys = [*(current.keys if current else ()), public]
        q = quorum if quorum is not None else (current.quorum if current else 1)
        pinned = pin_recovery(config, keys, q).recovery
        assert pinned is not None
        result["pinned"] = {"quorum": pinned.quorum, "keys": list(pinned.names)}
    from mpcwallet.topology.recovery import paper_hex

    result["_paper"] = paper_hex(dk)  # popped by the CLI; printed only on request
    return result


def recovery_key_from_paper(
    config: Path, name: str, sheet: str, passphrase: str, out: Path, *, force: bool = False
) -> dict[str, Any]:
    """A recovery key file again from its paper sheet (:func:`paper_hex`'s text) and the
    public half pinned in ``config`` under ``name``; the pair is checked before it is written
    (PVE encrypt and decrypt of a test scalar)."""
    import coincurve

    from mpcwallet.engine import pve
    from mpcwallet.topology.config import load_config
    from mpcwallet.topology.recovery import from_paper, save_recovery_key

    pinned = load_config(config, require_complete=False).recovery
    if pinned is None:
        raise BadInput(f"{config}: no recovery keys are pinned", field="recovery")
    public = pinned.key(name)
    dk = from_paper(sheet)
    x = coincurve.PrivateKey().secret
    label = pve.backup_label("paper-check", name, 0)
    ct = pve.encrypt(public.ek, label, x)
    point = coincurve.PublicKey.from_secret(x).format()
    try:
        ok = pve.decrypt(pve.verify(public.ek, ct, point, label), dk) == [x]
    except BadInput:
        ok = False
    if not ok:
        raise BadInput(f"the paper key is not the private half of {name}", field="paper")
    save_recovery_key(out, public, dk, passphrase, force=force)
    return {"name": name, "kind": public.kind, "file": str(out), "fingerprint": public.fingerprint}


def _open(directory: Path, store: str | None) -> tuple[Any, Any]:
    from mpcwallet.store.repo import Store
    from mpcwallet.topology.config import load_config

    config = load_config(Path(directory) / "cluster.json")
    return config, Store.open(store or str(Path(directory) / "store.sqlite"))


def verify(
    directory: Path, keyset_ids: Sequence[str] = (), store: str | None = None
) -> dict[str, Any]:
    """Every node's latest backup of each (active) key set, public data only. Raises
    :class:`BackupUnverified` naming each failing node and reason, after the full report."""
    from mpcwallet.cluster.backups import verify_keyset

    config, st = _open(directory, store)
    try:
        ids = list(keyset_ids) or [k.keyset_id for k in st.list_keysets() if k.status == "active"]
        report = {ks: verify_keyset(st, config, ks) for ks in ids}
    finally:
        st.close()
    bad = [
        f"{ks} {r['node']}: {r['status']} ({r['reason']})"
        for ks, rows in report.items()
        for r in rows
        if r["status"] != "ok"
    ]
    if bad:
        err = BackupUnverified("backup verify failed: " + "; ".join(bad), field="backups")
        err.report = report  # type: ignore[attr-defined]
        raise err
    return {"keysets": report}


def new_node_home(directory: Path, name: str) -> dict[str, Any]:
    """A fresh home for node ``name`` (its old home gone or wiped) with a new static key,
    pinned in place in cluster.json and in every node's copy (they must be restarted to load
    it)."""
    from mpcwallet.cosigner.node_state import PassphraseKek, create_identity, node_dir
    from mpcwallet.homes.paths import CosignerPaths
    from mpcwallet.topology.config import key_fingerprint, load_config, repin_node, save_config

    directory = Path(directory)
    home = directory / "nodes" / name
    load_config(directory / "cluster.json").node(name)  # NotFound for an unknown name
    if home.exists() and any(home.iterdir()):
        raise BadInput(f"{home} is not empty: restore goes onto a fresh home", field="home")
    ensure_dir(home)
    passphrase = secrets.token_urlsafe(24)
    write_atomic(home / "passphrase", passphrase.encode())
    root = CosignerPaths.for_home(home).root
    ensure_dir(root)
    kek = PassphraseKek(passphrase).unlock(CosignerPaths.for_home(home).keyring_file)
    pub = create_identity(root, name, kek)
    config = repin_node(directory / "cluster.json", name, pub, fingerprint=key_fingerprint(pub))
    for other in sorted((directory / "nodes").glob("*")):
        save_config(
            node_dir(CosignerPaths.for_home(other).root) / "cluster.json", config, force=True
        )
    return {"node": name, "static_key": pub.hex(), "fingerprint": key_fingerprint(pub)}


def wipe_home(directory: Path, name: str) -> None:
    """The demo's stand-in for a dead disk or a host rebuilt clean."""
    shutil.rmtree(Path(directory) / "nodes" / name)


def restore_node(
    directory: Path,
    name: str,
    recovery_keys: Sequence[tuple[Path, str]],
    store: str | None = None,
) -> dict[str, Any]:
    """Restore node ``name``'s share of every active key set into its (fresh) home from its
    verified backups, with the recovery key files given (one, or a quorum of them)."""
    from mpcwallet.cluster.backups import load_backup
    from mpcwallet.cosigner.node_state import NodeState, PassphraseKek
    from mpcwallet.engine import get_mp_engine
    from mpcwallet.homes.paths import CosignerPaths
    from mpcwallet.topology.node_backup import check_backup, restore_share
    from mpcwallet.topology.recovery import load_recovery_key

    config, st = _open(directory, store)
    if config.recovery is None:
        raise BadInput("no recovery keys are pinned in cluster.json", field="recovery")
    dks: dict[str, bytes] = {}
    for path, passphrase in recovery_keys:
        public, dk = load_recovery_key(path, passphrase)
        if config.recovery.key(public.name) != public:
            raise BadInput(
                f"{path} is not the recovery key pinned as {public.name}", field="recovery_key"
            )
        dks[public.name] = dk
    engine = get_mp_engine("cb-mpc")
    home = Path(directory) / "nodes" / name
    paths = CosignerPaths.for_home(home)
    kek = PassphraseKek((home / "passphrase").read_text()).unlock(paths.keyring_file)
    node = NodeState(paths.root, kek)
    restored = []
    try:
        for ks in [k for k in st.list_keysets() if k.status == "active" and name in k.parties]:
            generation = st.current_generation(ks.keyset_id)
            points = st.share_points(ks.keyset_id, generation or 0)
            qi, q = bytes.fromhex(points[name]), bytes.fromhex(ks.pubkey)
            backup = load_backup(st, ks.keyset_id, name)
            verified = check_backup(
                engine,
                backup,
                keyset_id=ks.keyset_id,
                party=name,
                generation=generation or 0,
                public_share=qi,
                public_key=q,
                recovery=config.recovery,
            )
            assert backup is not None
            blob = restore_share(
                engine, verified, backup, config.recovery, dks, public_share=qi, public_key=q
            )
            node.save_pending(ks.keyset_id, blob, q)
            node.commit(ks.keyset_id)
            restored.append({"keyset_id": ks.keyset_id, "generation": generation})
    finally:
        st.close()
    return {"node": name, "restored": restored}


def quarantine(directory: Path, name: str, store: str | None = None) -> dict[str, Any]:
    """An operator quarantines node ``name`` (suspected compromised): the coordinator's store
    excludes it from every quorum, and every other node's own record refuses sessions with it,
    until an operator clears it (``mpc cluster clear``)."""
    import json

    from mpcwallet.cosigner.node_state import node_dir
    from mpcwallet.homes.paths import CosignerPaths

    config, st = _open(directory, store)
    try:
        config.node(name)
        st.quarantine_node(name, "operator_quarantine")
    finally:
        st.close()
    for home in sorted((Path(directory) / "nodes").glob("*")):
        if home.name == name:
            continue
        path = node_dir(CosignerPaths.for_home(home).root) / "quarantine.json"
        doc = json.loads(path.read_text()) if path.exists() else {}
        doc.setdefault(name, {"code": "operator_quarantine", "session": None})
        write_atomic(path, json.dumps(doc).encode(), force=True)
    return {"node": name, "status": "quarantined"}
