"""The cluster configuration (validation naming file and field, pinning as an explicit act) and
the node static key file (encrypted at rest); then both feeding a node-to-node channel."""

from __future__ import annotations

import copy
import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from mpcwallet.errors import (
    AlreadyExists,
    BadInput,
    FileFormatError,
    NotFound,
    TamperedFile,
    WrongPassphrase,
)
from mpcwallet.session.node_channel import Binding, NodeChannel, StaticKeypair
from mpcwallet.storage.envelope import KDF_FLOOR, KdfParams
from mpcwallet.topology import config as cc
from mpcwallet.topology.node_key import create_node_key, load_node_key

PASSPHRASE = "node key passphrase: violet harbour 4"
FAST_KDF = KdfParams(m_kib=KDF_FLOOR.m_kib, t=KDF_FLOOR.t, p=KDF_FLOOR.p)
PERMIT_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"  # RFC 8032 test 1
NODE_KEYS = {f"n{i}": StaticKeypair.generate() for i in (1, 2, 3)}
COORDINATOR = StaticKeypair.generate()


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def good_doc() -> dict[str, Any]:
    return {
        "version": 1,
        "cluster_id": "demo",
        "t": 2,
        "n": 3,
        "coordinator_key": COORDINATOR.public.hex(),
        "permit_key": PERMIT_KEY,
        "nodes": [
            {
                "name": name,
                "url": f"http://127.0.0.1:{7300 + i}",
                "static_key": key.public.hex(),
                "zone": f"zone-{i}",
            }
            for i, (name, key) in enumerate(NODE_KEYS.items(), start=1)
        ],
    }


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_round_trip(tmp_path: Path) -> None:
    config = cc.load_config(write(tmp_path / "cluster.json", good_doc()))
    assert (config.cluster_id, config.t, config.n, config.complete) == ("demo", 2, 3, True)
    assert config.party_names == ("n1", "n2", "n3")
    assert config.node("n2").static_key == NODE_KEYS["n2"].public
    cc.save_config(tmp_path / "copy.json", config)
    assert cc.load_config(tmp_path / "copy.json") == config
    assert stat.S_IMODE((tmp_path / "copy.json").stat().st_mode) == 0o600
    with pytest.raises(AlreadyExists):
        cc.save_config(tmp_path / "copy.json", config)
    with pytest.raises(NotFound):
        config.node("n9")


def _set(path: str, value: Any) -> Any:
    def edit(doc: dict[str, Any]) -> None:
        target: Any = doc
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
        for k in keys[:-1]:
            target = target[k]
        if value is DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return edit


DELETE = object()
OTHER = StaticKeypair.generate().public.hex()

BAD = [
    ("version", _set("version", 2), "version"),
    ("no cluster id", _set("cluster_id", DELETE), "cluster_id"),
    ("cluster id", _set("cluster_id", "has space"), "cluster_id"),
    ("unknown field", _set("extra", 1), "extra"),
    ("t above n", _set("t", 4), "t"),
    ("t of one", _set("t", 1), "t"),
    ("t not int", _set("t", "2"), "t"),
    ("n too big", _set("n", 99), "n"),
    ("nodes not list", _set("nodes", {}), "nodes"),
    ("too few nodes", _set("nodes.2", DELETE), "nodes"),
    ("node field", _set("nodes.1.extra", 1), "nodes[1].extra"),
    ("node missing", _set("nodes.1.zone", DELETE), "nodes[1].zone"),
    ("name", _set("nodes.0.name", "n 1"), "nodes[0].name"),
    ("same name", _set("nodes.1.name", "n1"), "nodes[1].name"),
    ("same url", _set("nodes.2.url", "http://127.0.0.1:7301"), "nodes[2].url"),
    ("same key", _set("nodes.2.static_key", NODE_KEYS["n1"].public.hex()), "nodes[2].static_key"),
    ("key hex", _set("nodes.0.static_key", "xyz"), "nodes[0].static_key"),
    ("key zero", _set("nodes.0.static_key", "00" * 32), "nodes[0].static_key"),
    ("key upper", _set("nodes.0.static_key", OTHER.upper()), "nodes[0].static_key"),
    ("url scheme", _set("nodes.0.url", "ftp://host:1"), "nodes[0].url"),
    ("url userinfo", _set("nodes.0.url", "http://u:p@host:1"), "nodes[0].url"),
    ("url host", _set("nodes.0.url", "http://:80"), "nodes[0].url"),
    ("zone", _set("nodes.0.zone", ""), "nodes[0].zone"),
    ("coordinator is node", _set("coordinator_key", NODE_KEYS["n3"].public.hex()), "nodes[2]"),
    ("coordinator key", _set("coordinator_key", "12"), "coordinator_key"),
    ("permit key", _set("permit_key", 5), "permit_key"),
]


@pytest.mark.parametrize(("what", "edit", "fld"), BAD, ids=[b[0] for b in BAD])
def test_errors_name_the_field_and_file(tmp_path: Path, what: str, edit: Any, fld: str) -> None:
    doc = copy.deepcopy(good_doc())
    edit(doc)
    path = write(tmp_path / "cluster.json", doc)
    with pytest.raises(FileFormatError) as info:
        cc.load_config(path)
    assert str(path) in info.value.message, info.value.message
    assert info.value.field is not None and info.value.field.startswith(fld), info.value.field
    assert fld in info.value.message


def test_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cluster.json"
    path.write_text("{not json")
    with pytest.raises(FileFormatError, match=r"cluster\.json"):
        cc.load_config(path)


def test_pinning_is_explicit(tmp_path: Path) -> None:
    path = tmp_path / "cluster.json"
    cc.save_config(path, cc.new_config("demo", 2, 3, COORDINATOR.public, PERMIT_KEY))
    with pytest.raises(FileFormatError, match="0 of 3 nodes"):
        cc.load_config(path)
    key = NODE_KEYS["n1"].public
    before = path.read_bytes()
    with pytest.raises(BadInput, match="fingerprint"):
        cc.pin_node(path, "n1", "http://127.0.0.1:7301", key, "zone-1", fingerprint="AAAA-BBBB")
    with pytest.raises(BadInput, match="fingerprint"):  # the fingerprint of another key
        cc.pin_node(
            path,
            "n1",
            "http://127.0.0.1:7301",
            key,
            "zone-1",
            fingerprint=cc.key_fingerprint(NODE_KEYS["n2"].public),
        )
    assert path.read_bytes() == before  # nothing was pinned
    for i, (name, kp) in enumerate(NODE_KEYS.items(), start=1):
        fp = cc.key_fingerprint(kp.public).lower()  # case and spacing do not matter
        cc.pin_node(
            path, name, f"http://127.0.0.1:{7300 + i}", kp.public.hex(), f"z{i}", fingerprint=fp
        )
        if name == "n1":
            with pytest.raises(AlreadyExists, match="unpin it first"):
                other = StaticKeypair.generate().public
                cc.pin_node(
                    path, "n1", "http://h:1", other, "z", fingerprint=cc.key_fingerprint(other)
                )
    config = cc.load_config(path)
    assert config.complete and config.node("n3").zone == "z3"
    extra = StaticKeypair.generate().public
    with pytest.raises(BadInput, match="all 3 nodes"):
        cc.pin_node(path, "n4", "http://h:4", extra, "z4", fingerprint=cc.key_fingerprint(extra))
    # a key rotation: unpin, then pin the new key
    rotated = StaticKeypair.generate()
    assert len(cc.unpin_node(path, "n2").nodes) == 2
    cc.pin_node(
        path,
        "n2",
        "http://127.0.0.1:7302",
        rotated.public,
        "z2",
        fingerprint=cc.key_fingerprint(rotated.public),
    )
    assert cc.load_config(path).node("n2").static_key == rotated.public
    with pytest.raises(BadInput, match="not the key"):
        cc.check_own_key(cc.load_config(path), "n2", NODE_KEYS["n2"])
    assert cc.check_own_key(cc.load_config(path), "n2", rotated).name == "n2"


def test_node_key_file(tmp_path: Path) -> None:
    path = tmp_path / "node" / "static.key"
    made = create_node_key(path, "n1", PASSPHRASE, params=FAST_KDF)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    assert made.private_bytes() not in data and made.private_bytes().hex().encode() not in data
    header = json.loads(data)["header"]
    assert header["public_key"] == made.public.hex()
    assert header["fingerprint"] == cc.key_fingerprint(made.public)
    name, loaded = load_node_key(path, PASSPHRASE)
    assert name == "n1" and loaded.public == made.public
    assert loaded.private_bytes() == made.private_bytes()
    with pytest.raises(WrongPassphrase, match=r"static\.key"):
        load_node_key(path, "not the passphrase")
    with pytest.raises(AlreadyExists):
        create_node_key(path, "n1", PASSPHRASE, params=FAST_KDF)
    # a header edited to claim another key (or name) fails authentication
    # (with its unkeyed digest recomputed, so the AEAD over the header is what catches it)
    doc = json.loads(data)
    doc["header"]["public_key"] = NODE_KEYS["n2"].public.hex()
    del doc["sha256"]
    doc["sha256"] = hashlib.sha256(canonical(doc)).hexdigest()
    tampered = tmp_path / "tampered.key"
    tampered.write_bytes(canonical(doc) + b"\n")
    with pytest.raises(TamperedFile, match=r"tampered\.key: .*authentication failed"):
        load_node_key(tampered, PASSPHRASE)


def test_config_and_node_keys_open_a_channel(tmp_path: Path) -> None:
    """The pieces fit: two nodes load their own key files and pin each other from the config."""
    path = tmp_path / "cluster.json"
    cc.save_config(path, cc.new_config("demo", 2, 2, COORDINATOR.public, PERMIT_KEY))
    for i in (1, 2):
        kp = create_node_key(tmp_path / f"n{i}.key", f"n{i}", PASSPHRASE, params=FAST_KDF)
        fp = cc.key_fingerprint(kp.public)
        cc.pin_node(
            path, f"n{i}", f"http://127.0.0.1:{7300 + i}", kp.public, f"z{i}", fingerprint=fp
        )
    config = cc.load_config(path)
    ends = {}
    for me, peer in (("n1", "n2"), ("n2", "n1")):
        _, key = load_node_key(tmp_path / f"{me}.key", PASSPHRASE)
        cc.check_own_key(config, me, key)
        binding = Binding(config.cluster_id, "sess-1", me, peer)
        ends[me] = NodeChannel(binding, key, config.node(peer).static_key)
    assert ends["n1"].binding.initiator  # "n1" < "n2"
    ends["n1"].complete(ends["n2"].accept(ends["n1"].hello()))
    assert ends["n2"].open(ends["n1"].seal(b"round 1")) == b"round 1"
