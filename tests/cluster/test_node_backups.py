"""Node backups (issue 25) on real cb-mpc keys and a real SQLite store, without processes:
verify catches every wrong backup naming the node and the reason; restore opens a verified
backup with one recovery key, or a quorum of them (not fewer), and the restored share signs.

The processes (keygen and refresh through the coordinator, the runbooks) are in
test_runbooks_cluster.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import coincurve
import pytest

try:
    from mpcwallet import _cbmpc  # noqa: F401
except ImportError:
    pytest.skip(
        "cb-mpc engine not installed (mpcwallet._cbmpc missing); see README",
        allow_module_level=True,
    )

from mpcwallet.cluster import backups
from mpcwallet.cluster.backups import BackupsRequired
from mpcwallet.engine import get_mp_engine, pve
from mpcwallet.engine.base_mp import threshold
from mpcwallet.engine.memory_mp import make_mp_jobs, results, run_parties
from mpcwallet.errors import BadInput, FileFormatError
from mpcwallet.store.repo import Store
from mpcwallet.topology import recovery as rk
from mpcwallet.topology.config import ClusterConfig, new_config, parse_config
from mpcwallet.topology.node_backup import NodeBackup, check_backup, make_backup, restore_share

pytestmark = pytest.mark.cbmpc

NAMES = ("node-a", "node-b", "node-c")
AC = threshold(2, NAMES)
ENGINE = get_mp_engine("cb-mpc")


def _run(fn: Any, quorum: Sequence[str] | None = None, run: Sequence[str] = NAMES) -> list[Any]:
    network, jobs = make_mp_jobs(NAMES, AC, quorum)
    idx = [NAMES.index(n) for n in run]
    return results(
        run_parties([lambda j, i=i: fn(j, i) for i in idx], [jobs[i] for i in idx], network)
    )


def _dkg() -> list[bytes]:
    return _run(lambda j, i: ENGINE.dkg(j), quorum=NAMES)


def _sign(blobs: dict[str, bytes], quorum: Sequence[str]) -> bytes:
    digest = hashlib.sha256(b"restored").digest()
    out = _run(lambda j, i: ENGINE.sign(j, blobs[NAMES[i]], digest, quorum[0]), quorum, quorum)
    der = next(o for o in out if o)
    pub = ENGINE.public_key(blobs[quorum[0]])
    assert coincurve.PublicKey(pub).verify(der, digest, hasher=None)
    return der


def _recovery(kind: str, n: int, quorum: int) -> tuple[rk.RecoverySet, dict[str, bytes]]:
    keys, dks = [], {}
    for i in range(n):
        ek, dk = pve.generate_base_key(pve.BaseKeyKind(kind))
        keys.append(rk.RecoveryKey(f"officer-{i + 1}", kind, ek))
        dks[f"officer-{i + 1}"] = dk
    return rk.RecoverySet(tuple(keys), quorum), dks


def _config(recovery: rk.RecoverySet) -> ClusterConfig:
    permit = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    base = new_config("demo", 2, 3, "11" * 32, permit)
    return dataclasses.replace(base, recovery=recovery)


class World:
    """One 2-of-3 key at generation 0 and 1, and a second key set, with stored backups."""

    def __init__(self, tmp: Path) -> None:
        self.recovery, self.dks = _recovery("ecies-p256", 1, 1)
        self.config = _config(self.recovery)
        self.store = Store.open(tmp / "store.sqlite")
        self.gen0 = dict(zip(NAMES, _dkg(), strict=True))
        self.pub = ENGINE.public_key(self.gen0["node-a"]).hex()
        self.other = dict(zip(NAMES, _dkg(), strict=True))
        for ks, blobs in (("ks1", self.gen0), ("ks2", self.other)):
            self.store.create_keyset(ks, "w", 2, 3, NAMES)
            pub = ENGINE.public_key(blobs["node-a"])
            self.store.activate_keyset(ks, pub.hex(), _address(pub))
            self.collect(ks, 0, blobs)
        self.fresh_report = self.report()
        refreshed = _run(lambda j, i: ENGINE.refresh(j, self.gen0[NAMES[i]]), quorum=NAMES)
        self.gen1 = dict(zip(NAMES, refreshed, strict=True))
        self.gen1_reports = self.collect("ks1", 1, self.gen1, skip=["node-c"])

    def backup(self, ks: str, party: str, gen: int, blob: bytes) -> NodeBackup:
        return make_backup(ENGINE, blob, ks, party, gen, self.recovery)

    def collect(
        self, ks: str, gen: int, blobs: dict[str, bytes], skip: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        res = {
            p: {
                "public_share": ENGINE.public_share(b).hex(),
                **({} if p in skip else {"backup": self.backup(ks, p, gen, b).to_json()}),
            }
            for p, b in blobs.items()
        }
        pub = ENGINE.public_key(blobs["node-a"]).hex()
        return backups.collect(self.store, self.config, ks, gen, res, pub)

    def report(self, ks: str = "ks1") -> dict[str, tuple[str, str]]:
        out = backups.verify_keyset(self.store, self.config, ks)
        return {r["node"]: (r["status"], r.get("reason", "")) for r in out}

    def put(self, b: NodeBackup) -> None:
        self.store.put_backup(backups._record(b))


def _address(pub: bytes) -> str:
    from mpcwallet.evm.address import address_from_public_key

    return address_from_public_key(pub)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(tmp_path_factory.mktemp("backups"))


def flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


def test_fresh_backups_verify_and_a_refresh_makes_them_stale(world: World) -> None:
    assert world.fresh_report == {n: ("ok", "") for n in NAMES}
    # generation 1 recorded (World), node-c's backup never arrived
    assert [r["status"] for r in world.gen1_reports] == ["ok", "ok", "missing"]
    with pytest.raises(BackupsRequired, match="node-c: missing"):
        backups.gate(world.gen1_reports, allow_without_backups=False)
    backups.gate(world.gen1_reports, allow_without_backups=True)
    status, reason = world.report()["node-c"]
    assert status == "stale" and "generation 0" in reason and "generation 1" in reason


def _slot_a(world: World, b: NodeBackup) -> dict[str, tuple[str, str]]:
    world.put(dataclasses.replace(b, keyset_id="ks1", party="node-a", generation=1))
    try:
        return world.report()
    finally:
        world.put(world.backup("ks1", "node-a", 1, world.gen1["node-a"]))


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("another node's share", "holds node-b's share"),
        ("another node's share under this label", "does not bind its public key blob"),
        ("another key set", "key set ks2"),
        ("an older generation", "labelled generation 0"),
        ("a wrong label", "curve p256"),
        ("a ciphertext of another share", "does not verify"),
    ],
)
def test_verify_names_the_node_and_the_reason(world: World, case: str, expect: str) -> None:
    gen1 = world.gen1
    good = world.backup("ks1", "node-a", 1, gen1["node-a"])
    bad = {
        "another node's share": world.backup("ks1", "node-b", 1, gen1["node-b"]),
        "another node's share under this label": dataclasses.replace(
            world.backup("ks1", "node-b", 1, gen1["node-b"]), label=good.label
        ),
        "another key set": world.backup("ks2", "node-a", 1, world.other["node-a"]),
        "an older generation": world.backup("ks1", "node-a", 0, world.gen0["node-a"]),
        "a wrong label": dataclasses.replace(
            good, label=pve.backup_label("ks1", "node-a", 1, "p256", binds=good.label[-32:])
        ),
        "a ciphertext of another share": dataclasses.replace(
            good, ciphertext=world.backup("ks1", "node-a", 1, gen1["node-b"]).ciphertext
        ),
    }[case]
    report = _slot_a(world, bad)
    status, reason = report["node-a"]
    assert status == "invalid" and expect in reason, reason
    assert report["node-b"][0] == "ok"
    assert world.report()["node-a"][0] == "ok"  # restored


def test_a_bit_flipped_anywhere_is_caught(world: World) -> None:
    good = world.backup("ks1", "node-a", 1, world.gen1["node-a"])
    n = len(good.ciphertext)
    spots = [("ciphertext", i) for i in (0, 7, n // 4, n // 2, 3 * n // 4, n - 1)]
    spots += [("label", 0), ("label", len(good.label) - 1)]
    m = len(good.public_blob)
    spots += [("public_blob", i) for i in (20, m // 2, m - 1)]
    for fld, at in spots:
        bad = dataclasses.replace(good, **{fld: flip(getattr(good, fld), at)})
        status, reason = _slot_a(world, bad)["node-a"]
        assert status == "invalid", (fld, at, reason)


def test_restore_with_one_recovery_key_signs_with_every_other_node(world: World) -> None:
    gen1 = world.gen1
    qa = ENGINE.public_share(gen1["node-a"])
    b = backups.load_backup(world.store, "ks1", "node-a")
    v = check_backup(
        ENGINE,
        b,
        keyset_id="ks1",
        party="node-a",
        generation=1,
        public_share=qa,
        public_key=bytes.fromhex(world.pub),
        recovery=world.recovery,
    )
    assert b is not None
    full = restore_share(
        ENGINE,
        v,
        b,
        world.recovery,
        world.dks,
        public_share=qa,
        public_key=bytes.fromhex(world.pub),
    )
    for other in ("node-b", "node-c"):
        _sign({"node-a": full, other: gen1[other]}, ("node-a", other))


def test_quorum_recovery_keys_restore_with_two_of_three_not_one() -> None:
    recovery, dks = _recovery("rsa-oaep-2048", 3, 2)
    blobs = dict(zip(NAMES, _dkg(), strict=True))
    qb, pub = ENGINE.public_share(blobs["node-b"]), ENGINE.public_key(blobs["node-b"])
    b = make_backup(ENGINE, blobs["node-b"], "ks9", "node-b", 0, recovery)
    assert b.ciphertext.find(ENGINE.detach_private_scalar(blobs["node-b"])[1]) == -1
    v = check_backup(
        ENGINE,
        b,
        keyset_id="ks9",
        party="node-b",
        generation=0,
        public_share=qb,
        public_key=pub,
        recovery=recovery,
    )
    for one in dks:
        with pytest.raises(BadInput, match="needs 2 of the recovery keys"):
            restore_share(ENGINE, v, b, recovery, {one: dks[one]}, public_share=qb, public_key=pub)
    two = {k: dks[k] for k in ("officer-1", "officer-3")}
    full = restore_share(ENGINE, v, b, recovery, two, public_share=qb, public_key=pub)
    _sign({"node-b": full, "node-c": blobs["node-c"]}, ("node-b", "node-c"))
    wrong = {"officer-1": dks["officer-1"], "officer-2": dks["officer-3"]}
    with pytest.raises(BadInput):
        restore_share(ENGINE, v, b, recovery, wrong, public_share=qb, public_key=pub)


def test_recovery_key_files_paper_and_config_pins(tmp_path: Path) -> None:
    from mpcwallet.errors import WrongPassphrase

    public, dk = rk.new_recovery_key(tmp_path / "r.key", "officer-1", "ecies-p256", "pw")
    assert (tmp_path / "r.key").stat().st_mode & 0o777 == 0o600
    assert dk not in (tmp_path / "r.key").read_bytes()
    assert rk.load_recovery_key(tmp_path / "r.key", "pw") == (public, dk)
    with pytest.raises(WrongPassphrase, match=r"r\.key"):
        rk.load_recovery_key(tmp_path / "r.key", "not it")
    paper = rk.paper_hex(dk)
    assert rk.from_paper(paper) == dk
    typo = paper.replace(paper[3], "0" if paper[3] != "0" else "1", 1)
    with pytest.raises(BadInput, match="typing error"):
        rk.from_paper(typo)
    doc = _config(rk.RecoverySet((public,), 1)).to_json()
    assert parse_config(doc, "c.json", require_complete=False).recovery == rk.RecoverySet(
        (public,), 1
    )
    for mutate, fld in [
        (lambda d: d["recovery"].update(quorum=2), "recovery.quorum"),
        (lambda d: d["recovery"]["keys"][0].update(ek="zz"), "recovery.keys[0].ek"),
        (lambda d: d["recovery"]["keys"][0].update(kind="rsa-1024"), "recovery.keys[0].kind"),
        (
            lambda d: d["recovery"]["keys"].append(dict(d["recovery"]["keys"][0])),
            "recovery.keys[1].name",
        ),
        (lambda d: d["recovery"].update(extra=1), "recovery.extra"),
    ]:
        bad = _config(rk.RecoverySet((public,), 1)).to_json()
        mutate(bad)
        with pytest.raises(FileFormatError, match=rf"^c\.json: {__import__('re').escape(fld)}:"):
            parse_config(bad, "c.json", require_complete=False)


def test_recovery_key_new_pins_a_quorum_and_keeps_the_private_half_off_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from mpcwallet.cli.main import main
    from mpcwallet.topology.config import load_config, save_config

    cfg = tmp_path / "cluster.json"
    save_config(cfg, dataclasses.replace(_config(_recovery("ecies-p256", 1, 1)[0]), recovery=None))
    monkeypatch.setenv("MPC_BACKUP_PASSPHRASE", "officer passphrase")
    for i, extra in enumerate([[], [], ["--quorum", "2"]], start=1):
        capsys.readouterr()
        args = [
            "--json",
            "cluster",
            "recovery-key",
            "new",
            "--name",
            f"officer-{i}",
            "--out",
            str(tmp_path / f"o{i}.key"),
            "--pin",
            str(cfg),
            "--paper",
            *extra,
        ]
        assert main(args) == 0
        out, err = capsys.readouterr()
        _, dk = rk.load_recovery_key(tmp_path / f"o{i}.key", "officer passphrase")
        assert dk.hex()[-40:] not in out  # JSON: public data only (dk ends in its secret)
        assert rk.from_paper(err) == dk  # the paper sheet went to stderr
    pinned = load_config(cfg, require_complete=False).recovery
    assert pinned is not None and pinned.quorum == 2
    assert pinned.names == ("officer-1", "officer-2", "officer-3")
    assert json.loads(out)["data"]["pinned"] == {"quorum": 2, "keys": list(pinned.names)}
    # officer-3's file is lost; the paper sheet (err, typed back in) makes it again
    (tmp_path / "sheet.txt").write_text(err)
    (tmp_path / "o3.key").unlink()
    paper = ["cluster", "recovery-key", "from-paper", "--config", str(cfg), "--in"]
    assert (
        main(
            [
                *paper,
                str(tmp_path / "sheet.txt"),
                "--name",
                "officer-3",
                "--out",
                str(tmp_path / "o3.key"),
            ]
        )
        == 0
    )
    assert rk.load_recovery_key(tmp_path / "o3.key", "officer passphrase")[1] == dk
    capsys.readouterr()
    assert (
        main(
            [
                *paper,
                str(tmp_path / "sheet.txt"),
                "--name",
                "officer-1",
                "--out",
                str(tmp_path / "x.key"),
            ]
        )
        == 2
    )  # another officer's pin: refused
    assert "not the private half of officer-1" in capsys.readouterr().err
    assert not (tmp_path / "x.key").exists()


def test_the_coordinator_refuses_keygen_without_recovery_keys_unless_allowed(
    tmp_path: Path,
) -> None:
    import asyncio

    from mpcwallet.cluster.coordinator import Coordinator, NotEnoughNodes
    from mpcwallet.session.node_keys import StaticKeypair
    from mpcwallet.topology.config import NodeEntry

    nodes = tuple(
        NodeEntry(n, f"http://127.0.0.1:{9 + i}", StaticKeypair.generate().public, "z")
        for i, n in enumerate(NAMES)
    )
    coord = StaticKeypair.generate()
    config = dataclasses.replace(
        _config(_recovery("ecies-p256", 1, 1)[0]),
        recovery=None,
        nodes=nodes,
        coordinator_key=coord.public,
    )
    with Store.open(tmp_path / "s.sqlite") as store:
        coordinator = Coordinator(config, store, coord)
        with pytest.raises(BackupsRequired, match="node-a: missing"):
            asyncio.run(coordinator.create_keyset(2, 3, "t", "w"))
        assert store.list_keysets() == []  # refused before anything was made
        allowed = Coordinator(config, store, coord, allow_without_backups=True, retry_bound=1.0)
        with pytest.raises(NotEnoughNodes):  # past the gate: it looks for the nodes
            asyncio.run(allowed.create_keyset(2, 3, "t", "w"))
