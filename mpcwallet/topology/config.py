"""The cluster configuration: who the nodes are, how to reach them, which keys to trust.

One JSON file (``cluster.json``), the same on the coordinator and on every node; public data
only, written atomically (0600)::

    {"version": 1, "cluster_id": "demo", "t": 2, "n": 3,
     "coordinator_key": "<X25519 public key, 64 hex>",
     "permit_key": "<Ed25519 public key, 64 hex>",
     "nodes": [{"name": "n1", "url": "http://127.0.0.1:7301",
                "static_key": "<X25519 public key, 64 hex>", "zone": "zone-a"}, ...]}

* ``name`` is the node's stable logical party name: cb-mpc binds a share to it, so it never
  changes; ``static_key`` is the node's Noise static key (pinned: the node-to-node channel,
  :mod:`mpcwallet.session.node_channel`, accepts that key and no other), and can be rotated
  without touching the share (unpin, then pin the new key).
* ``coordinator_key``: the coordinator's static key, which nodes accept requests from.
* ``permit_key``: the Ed25519 key whose signing permits every node checks itself.

Adding a node is an explicit, pinned act, like pairing: :func:`pin_node` takes the node's
public key *and* its fingerprint as the operator read it from the node itself
(:func:`key_fingerprint`, shown by the node when its key is made), and refuses a mismatch. A
name or key already pinned is refused, never replaced silently.

Every error names the file and the field (``nodes[1].static_key``) and says what to do.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mpcwallet.errors import AlreadyExists, BadInput, FileFormatError, MpcError, NotFound
from mpcwallet.jsonio import load_file
from mpcwallet.session.node_keys import StaticKeypair, check_name, check_public_key
from mpcwallet.storage.files import ensure_dir, write_atomic
from mpcwallet.topology.recovery import RecoveryKey, RecoverySet, parse_recovery

__all__ = [
    "CONFIG_VERSION",
    "MAX_NODES",
    "ClusterConfig",
    "NodeEntry",
    "check_own_key",
    "key_fingerprint",
    "load_config",
    "new_config",
    "parse_config",
    "pin_node",
    "pin_recovery",
    "repin_node",
    "save_config",
    "unpin_node",
]

CONFIG_VERSION = 1
MAX_NODES = 16
MAX_CONFIG_BYTES = 256 * 1024
_TOP = ("version", "cluster_id", "t", "n", "coordinator_key", "permit_key", "nodes")
_OPTIONAL = ("recovery",)  # the pinned recovery keys (issue 25), absent until pinned
_NODE = ("name", "url", "static_key", "zone")
_FINGERPRINT_LABEL = b"mpcwallet cluster key fingerprint v1\x00"
_URL_SCHEMES = ("http", "https", "ws", "wss")


@dataclass(frozen=True)
class NodeEntry:
    name: str
    url: str
    static_key: bytes
    zone: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "static_key": self.static_key.hex(),
            "zone": self.zone,
        }


@dataclass(frozen=True)
class ClusterConfig:
    cluster_id: str
    t: int
    n: int
    coordinator_key: bytes
    permit_key: bytes
    nodes: tuple[NodeEntry, ...] = ()
    recovery: RecoverySet | None = None

    @property
    def complete(self) -> bool:
        """All n nodes are pinned (keygen and refresh need every one of them)."""
        return len(self.nodes) == self.n

    @property
    def party_names(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    def node(self, name: str) -> NodeEntry:
        for entry in self.nodes:
            if entry.name == name:
                return entry
        raise NotFound(f"cluster {self.cluster_id} has no node {name!r}", field="name")

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CONFIG_VERSION,
            "cluster_id": self.cluster_id,
            "t": self.t,
            "n": self.n,
            "coordinator_key": self.coordinator_key.hex(),
            "permit_key": self.permit_key.hex(),
            "nodes": [node.to_json() for node in self.nodes],
            **({"recovery": self.recovery.to_json()} if self.recovery else {}),
        }


def key_fingerprint(public_key: bytes) -> str:
    """A short, readable digest of a static public key, for an operator to compare by eye:
    SHA-256 (domain-separated), first 15 bytes, base32, in groups of four (24 letters)."""
    digest = hashlib.sha256(_FINGERPRINT_LABEL + bytes(public_key)).digest()[:15]
    text = base64.b32encode(digest).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


# --- validation ----------------------------------------------------------------------------


class _Checker:
    """Raises errors that name the source (file) and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, fld: str, message: str) -> FileFormatError:
        return FileFormatError(f"{self.source}: {fld}: {message}", field=fld)

    def wrap(self, fld: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except MpcError as err:
            raise self.fail(fld, err.message) from None

    def integer(self, doc: dict[str, Any], fld: str, low: int, high: int) -> int:
        value = doc[fld]
        if type(value) is not int or not low <= value <= high:
            raise self.fail(fld, f"must be an integer from {low} to {high}")
        return value

    def text(self, value: Any, fld: str) -> str:
        if not isinstance(value, str):
            raise self.fail(fld, "must be a string")
        return value

    def object(
        self, value: Any, fld: str, keys: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(fld, "must be a JSON object")
        missing = [k for k in keys if k not in value]
        if missing:
            where = f"{fld}.{missing[0]}" if fld != "(top level)" else missing[0]
            raise self.fail(where, "is missing")
        extra = sorted(set(value) - set(keys) - set(optional))
        if extra:
            where = f"{fld}.{extra[0]}" if fld != "(top level)" else extra[0]
            raise self.fail(where, f"is not a known field (known: {', '.join(keys)})")
        return value

    def x25519(self, value: Any, fld: str) -> bytes:
        return bytes(self.wrap(fld, check_public_key, self.text(value, fld), fld))

    def ed25519(self, value: Any, fld: str) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        text = self.text(value, fld)
        raw = self.x25519(text, fld)  # same shape: 64 lowercase hex digits, not all zero
        try:
            Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise self.fail(fld, "is not an Ed25519 public key") from None
        return raw

    def url(self, value: Any, fld: str) -> str:
        text = self.text(value, fld)
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise self.fail(fld, "is not a URL") from None
        if parts.scheme not in _URL_SCHEMES or not parts.hostname:
            raise self.fail(fld, "must be an http(s):// or ws(s):// URL with a host")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise self.fail(fld, "must not carry a user, password, query or fragment")
        if port == 0 or len(text) > 2048:
            raise self.fail(fld, "has no usable port, or is too long")
        return text


def _check_node(ck: _Checker, raw: Any, i: int) -> NodeEntry:
    fld = f"nodes[{i}]"
    doc = ck.object(raw, fld, _NODE)
    name = ck.wrap(f"{fld}.name", check_name, ck.text(doc["name"], f"{fld}.name"), "name")
    zone = ck.wrap(f"{fld}.zone", check_name, ck.text(doc["zone"], f"{fld}.zone"), "zone")
    return NodeEntry(
        name=name,
        url=ck.url(doc["url"], f"{fld}.url"),
        static_key=ck.x25519(doc["static_key"], f"{fld}.static_key"),
        zone=zone,
    )


def parse_config(doc: Any, source: str, *, require_complete: bool = True) -> ClusterConfig:
    """Validate a parsed cluster.json; ``source`` names it in errors."""
    ck = _Checker(source)
    if not isinstance(doc, dict) or "version" not in doc:
        raise ck.fail("version", "is missing: not a cluster configuration")
    if doc["version"] != CONFIG_VERSION:
        raise ck.fail("version", f"is {doc['version']!r}; this mpcwallet reads {CONFIG_VERSION}")
    doc = ck.object(doc, "(top level)", _TOP, _OPTIONAL)
    cluster_id = ck.wrap(
        "cluster_id", check_name, ck.text(doc["cluster_id"], "cluster_id"), "cluster_id"
    )
    n = ck.integer(doc, "n", 2, MAX_NODES)
    t = ck.integer(doc, "t", 2, n)  # t = 1 would let one node sign alone: not a threshold key
    if not isinstance(doc["nodes"], list):
        raise ck.fail("nodes", "must be a list")
    nodes = tuple(_check_node(ck, raw, i) for i, raw in enumerate(doc["nodes"]))
    if len(nodes) > n:
        raise ck.fail("nodes", f"lists {len(nodes)} nodes for n = {n}")
    if require_complete and len(nodes) != n:
        missing = n - len(nodes)
        raise ck.fail(
            "nodes",
            f"lists {len(nodes)} of {n} nodes; pin the {missing} missing node(s) first",
        )
    coordinator_key = ck.x25519(doc["coordinator_key"], "coordinator_key")
    permit_key = ck.ed25519(doc["permit_key"], "permit_key")
    seen: dict[str, dict[Any, int]] = {"name": {}, "url": {}, "static_key": {}}
    for i, node in enumerate(nodes):
        for attr in seen:
            value = getattr(node, attr)
            if value in seen[attr]:
                raise ck.fail(
                    f"nodes[{i}].{attr}", f"is the same as nodes[{seen[attr][value]}].{attr}"
                )
            seen[attr][value] = i
        if node.static_key == coordinator_key:
            raise ck.fail(f"nodes[{i}].static_key", "is the coordinator's key")
    recovery = parse_recovery(doc["recovery"], source) if "recovery" in doc else None
    return ClusterConfig(cluster_id, t, n, coordinator_key, permit_key, nodes, recovery)


def new_config(
    cluster_id: str, t: int, n: int, coordinator_key: bytes | str, permit_key: bytes | str
) -> ClusterConfig:
    """A configuration with no node pinned yet (validated like a file)."""

    def text(key: bytes | str) -> str:
        return key if isinstance(key, str) else bytes(key).hex()

    doc = {
        "version": CONFIG_VERSION,
        "cluster_id": cluster_id,
        "t": t,
        "n": n,
        "coordinator_key": text(coordinator_key),
        "permit_key": text(permit_key),
        "nodes": [],
    }
    return parse_config(doc, "the new cluster configuration", require_complete=False)


# --- files ---------------------------------------------------------------------------------


def load_config(path: Path, *, require_complete: bool = True) -> ClusterConfig:
    path = Path(path)
    doc = load_file(path, what="cluster configuration", max_bytes=MAX_CONFIG_BYTES)
    return parse_config(doc, str(path), require_complete=require_complete)


def _encode(config: ClusterConfig) -> bytes:
    return (json.dumps(config.to_json(), indent=2, sort_keys=False) + "\n").encode()


def save_config(path: Path, config: ClusterConfig, *, force: bool = False) -> None:
    """Write ``config`` atomically (0600); without ``force`` an existing file is refused."""
    parse_config(config.to_json(), str(path), require_complete=False)  # never write a bad one
    write_atomic(Path(path), _encode(config), force=force)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise edits of one configuration file (two operators pinning at once)."""
    ensure_dir(path.parent)
    fd = os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def pin_node(
    path: Path, name: str, url: str, static_key: bytes | str, zone: str, *, fingerprint: str
) -> ClusterConfig:
    """Add a node to the configuration file: the explicit act of trusting its static key.

    ``fingerprint`` is what the operator read from the node itself; it must match the key."""
    path = Path(path)
    with _locked(path):
        config = load_config(path, require_complete=False)
        key = check_public_key(static_key, "static_key")
        expected = key_fingerprint(key)
        given = fingerprint.strip().upper().replace(" ", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise BadInput(
                f"the fingerprint does not match node {name!r}'s key; compare it with what the "
                "node shows for its own key (nothing was pinned)",
                field="fingerprint",
            )
        for other in config.nodes:
            if other.name == name:
                pinned = key_fingerprint(other.static_key)
                raise AlreadyExists(
                    f"{path}: node {name!r} is already pinned (key {pinned}); to rotate its "
                    "key, unpin it first, then pin the new key",
                    field="name",
                )
            if other.static_key == key or other.url == url:
                raise AlreadyExists(
                    f"{path}: node {other.name!r} already has this key or URL", field="static_key"
                )
        if config.complete:
            raise BadInput(f"{path}: all {config.n} nodes are pinned already", field="nodes")
        entry = NodeEntry(name, url, key, zone)
        updated = replace(config, nodes=(*config.nodes, entry))
        # Validate as a file would be (names, URL, zone, duplicates), then write.
        parse_config(updated.to_json(), str(path), require_complete=False)
        write_atomic(path, _encode(updated), force=True)
        return updated


def unpin_node(path: Path, name: str) -> ClusterConfig:
    """Remove a node's pinned key (before pinning a rotated key, or retiring the node)."""
    path = Path(path)
    with _locked(path):
        config = load_config(path, require_complete=False)
        config.node(name)  # NotFound if absent
        updated = replace(config, nodes=tuple(n for n in config.nodes if n.name != name))
        write_atomic(path, _encode(updated), force=True)
        return updated


def repin_node(
    path: Path, name: str, static_key: bytes | str, *, fingerprint: str
) -> ClusterConfig:
    """Pin a new static key for node ``name`` in place (same name, URL, zone and position: the
    party order is part of every share): a node restored on a new home with a new key."""
    path = Path(path)
    with _locked(path):
        config = load_config(path, require_complete=False)
        config.node(name)  # NotFound if absent
        key = check_public_key(static_key, "static_key")
        if not hmac.compare_digest(
            fingerprint.strip().upper().encode(), key_fingerprint(key).encode()
        ):
            raise BadInput(
                f"the fingerprint does not match node {name!r}'s new key (nothing was pinned)",
                field="fingerprint",
            )
        nodes = tuple(replace(n, static_key=key) if n.name == name else n for n in config.nodes)
        updated = replace(config, nodes=nodes)
        parse_config(updated.to_json(), str(path), require_complete=False)
        write_atomic(path, _encode(updated), force=True)
        return updated


def pin_recovery(path: Path, keys: list[RecoveryKey], quorum: int) -> ClusterConfig:
    """Pin the public halves of the recovery keys (and the quorum a restore needs) in the
    configuration file; replaces an earlier set (new backups go to the new set)."""
    path = Path(path)
    with _locked(path):
        config = load_config(path, require_complete=False)
        doc = {"quorum": quorum, "keys": [k.to_json() for k in keys]}
        updated = replace(config, recovery=parse_recovery(doc, f"{path} (new recovery keys)"))
        parse_config(updated.to_json(), str(path), require_complete=False)
        write_atomic(path, _encode(updated), force=True)
        return updated


def check_own_key(config: ClusterConfig, name: str, keypair: StaticKeypair) -> NodeEntry:
    """A node at start: its own static key must be the one the configuration pins for it."""
    entry = config.node(name)
    if not hmac.compare_digest(entry.static_key, keypair.public):
        raise BadInput(
            f"this node's static key ({key_fingerprint(keypair.public)}) is not the key the "
            f"cluster configuration pins for {name!r} ({key_fingerprint(entry.static_key)}); "
            "pin this key, or start the node with its own key file",
            field="static_key",
        )
    return entry
