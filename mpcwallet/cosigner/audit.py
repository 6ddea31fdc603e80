"""The co-signer's tamper-evident audit trail: ``MPC_HOME/cosigner/audit.log`` + ``audit.head``.

Each record is one JSON line ``{"seq", "ts", "event", "msg", ...fields, "prev", "hash"}`` where
``prev`` is the previous record's ``hash`` (64 zeros for the first) and ``hash`` is SHA-256 of
the record's canonical JSON without ``hash``. After each append (fsynced), the head
``{"seq", "hash"}`` of the last record is rewritten atomically (fsynced) in ``audit.head``, so
removing records from the end is detected too. :func:`verify` walks the chain and names the
first bad record: an edit breaks its hash, a deletion, insertion or reordering breaks ``seq``
or ``prev``, a truncation disagrees with the head.

Only whitelisted fields are written (:data:`FIELDS`), as public values: ids, addresses,
amounts, digests, codes. Never a share, passphrase, token, session key, permit signature or
protocol payload. The chain is unkeyed: it shows tampering by anyone who does not also rewrite
every later record and the head; copy the head elsewhere to anchor it.

Appends from several processes (the daemon, ``mpc cosigner approvers``) serialise on an
``flock`` of ``audit.lock``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpcwallet.errors import FileFormatError
from mpcwallet.storage.files import ensure_dir, write_atomic

GENESIS = "0" * 64
HEAD_SIZE = 128
FIELDS = (
    "session",
    "op",
    "key_id",
    "account",
    "kind",
    "code",
    "rule",
    "scope",
    "chain_id",
    "to",
    "value",
    "selector",
    "tx_type",
    "token_contract",
    "token_to",
    "token_amount",
    "allowances",
    "malformed_call",
    "digest",
    "address",
    "permit",
    "approver",
    "public_key",
    "name",
    "policy_sha256",
    "count",
    "removed",
    "kept",
)


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_hash(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in doc.items() if k != "hash"})).hexdigest()


def _public(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def attach(home: Path) -> AuditTrail:
    """Route :func:`mpcwallet.cosigner.logs.audit` calls of this process (a CLI command that
    changes co-signer state, e.g. a backup export) into ``MPC_HOME/cosigner``'s trail."""
    from mpcwallet.cosigner import logs

    trail = AuditTrail(home / "cosigner")
    logs.set_audit_trail(trail)
    return trail


class AuditTrail:
    def __init__(self, directory: Path) -> None:
        self.log_file = directory / "audit.log"
        self.head_file = directory / "audit.head"
        self.lock_file = directory / "audit.lock"
        self._lock = threading.Lock()
        ensure_dir(directory)

    def __repr__(self) -> str:
        return f"AuditTrail({self.log_file})"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def head(self) -> tuple[int, str] | None:
        try:
            doc = json.loads(self.head_file.read_text())
            return int(doc["seq"]), str(doc["hash"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            raise FileFormatError(f"{self.head_file}: not an audit head", field="audit") from None

    def _last(self) -> tuple[int, str]:
        head = self.head()
        if head is not None:
            return head
        # No head yet: a new trail (or a lost head, which verify reports).
        lines = list(self._lines()) if self.log_file.exists() else []
        last = lines[-1] if lines else None
        if last is None:
            return 0, GENESIS
        try:
            doc = json.loads(last)
            return int(doc["seq"]), str(doc["hash"])
        except (ValueError, KeyError, TypeError):
            return 0, GENESIS

    def _lines(self) -> Iterator[str]:
        with open(self.log_file, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    yield line.rstrip("\n")

    def append(
        self, event: str, msg: str, fields: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Append one record (whitelisted fields only) and move the head; returns the record."""
        fields = fields or {}
        with self._locked():
            seq, prev = self._last()
            doc: dict[str, Any] = {
                "seq": seq + 1,
                "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
                + f".{int(time.time() * 1000) % 1000:03d}Z",
                "event": event,
                "msg": msg,
            }
            doc.update({k: _public(fields[k]) for k in FIELDS if fields.get(k) is not None})
            doc["prev"] = prev
            doc["hash"] = record_hash(doc)
            line = _canonical(doc) + b"\n"
            fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._write_head(doc["seq"], doc["hash"])
            return doc

    def _write_head(self, seq: int, digest: str) -> None:
        """The head in place: one fixed-size write (well under a disk sector, so it lands
        whole) and an fsync. A temp file + rename + directory fsync per record cost ~15 ms;
        this costs one fsync. The first head is created atomically."""
        head = _canonical({"seq": seq, "hash": digest}).ljust(HEAD_SIZE - 1) + b"\n"
        if not self.head_file.exists():
            write_atomic(self.head_file, head)
            return
        fd = os.open(self.head_file, os.O_WRONLY)
        try:
            os.pwrite(fd, head, 0)
            os.fsync(fd)
        finally:
            os.close(fd)

    def recover(self) -> str | None:
        """At daemon start, settle what a crash during :meth:`append` can leave: a torn last
        line (never a complete record; cut off), or one complete record the head does not
        name yet (it chains onto the head; the head moves to it). Returns what was done.
        Anything else is left for :func:`verify` to report."""
        if not self.log_file.exists():
            return None
        with self._locked():
            data = self.log_file.read_bytes()
            done = None
            if data and not data.endswith(b"\n"):
                cut = data.rfind(b"\n") + 1
                with open(self.log_file, "r+b") as f:
                    f.truncate(cut)
                    os.fsync(f.fileno())
                data, done = data[:cut], "torn_record_dropped"
            head = self.head()
            lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
            if head is not None and len(lines) == head[0] + 1:
                try:
                    doc = json.loads(lines[-1])
                except ValueError:
                    return done
                if doc.get("prev") == head[1] and doc.get("hash") == record_hash(doc):
                    self._write_head(doc["seq"], doc["hash"])
                    done = "head_advanced"
            return done

    def records(self) -> list[dict[str, Any]]:
        if not self.log_file.exists():
            return []
        out = []
        for n, line in enumerate(self._lines(), start=1):
            try:
                doc = json.loads(line)
            except ValueError:
                doc = {"seq": None, "line": n, "event": "unreadable"}
            out.append(doc if isinstance(doc, dict) else {"line": n, "event": "unreadable"})
        return out


@dataclass(frozen=True)
class Verdict:
    ok: bool
    records: int
    bad_line: int | None = None
    bad_seq: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "bad_line": self.bad_line,
            "bad_seq": self.bad_seq,
            "reason": self.reason,
        }


def verify(trail: AuditTrail) -> Verdict:
    """Walk the chain; the first record that breaks it (line number and its seq) and why."""
    prev, count = GENESIS, 0
    lines = list(trail._lines()) if trail.log_file.exists() else []
    for n, line in enumerate(lines, start=1):
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict):
                raise ValueError
        except ValueError:
            return Verdict(False, count, n, None, "not a JSON record")
        seq = doc.get("seq")
        if line != _canonical(doc).decode():
            # e.g. a duplicate key: the parser keeps one value, a reader may see the other
            return Verdict(False, count, n, seq, "not in canonical form (edited)")
        if doc.get("hash") != record_hash(doc):
            return Verdict(False, count, n, seq, "its hash does not match its content (edited)")
        if seq != n or doc.get("prev") != prev:
            return Verdict(
                False,
                count,
                n,
                seq,
                f"expected record {n} chained to the previous hash; found seq {seq} with another "
                "prev (a record was deleted, inserted or moved here)",
            )
        prev, count = doc["hash"], n
    head = trail.head()
    if head is None:
        if count:
            return Verdict(False, count, None, None, "the head file audit.head is missing")
        return Verdict(True, 0)
    head_seq, head_hash = head
    if head_seq > count:
        return Verdict(
            False,
            count,
            count + 1,
            count + 1,
            f"the head says {head_seq} records, the log ends after {count} (truncated)",
        )
    if head_seq < count:
        return Verdict(
            False,
            count,
            head_seq + 1,
            head_seq + 1,
            f"records after the head ({head_seq}) were appended",
        )
    if head_hash != prev:
        return Verdict(False, count, count, count, "the last record is not the one the head names")
    return Verdict(True, count)
