"""What `mpc cosigner audit verify` checks beyond the chain itself (:func:`audit.verify`).

The chain is unkeyed: whoever can write ``audit.log`` and ``audit.head`` can cut records off the
end, or drop some and recompute every later hash and the head, and the chain alone still
verifies. Two checks catch that:

* an anchor: the head (seq and hash) that each `audit show` / `audit verify` prints, kept by the
  operator somewhere the co-signer cannot write. ``--expect-head HASH`` requires a record with
  that hash in the chain (the trail may have grown since; it may not have lost it);
* the session records (``guard.db``, :mod:`mpcwallet.cosigner.ledger`): every session the ledger
  closed must have the record that closing it implies (:data:`DUE`). The daemon writes the
  record before it updates the ledger (``service._sign_digest``, ``guard._refused``, the
  keygen and refresh bodies inside ``guard.session_record``), so a session still running or
  cut short by a crash (``interrupted``) is never counted missing.

``guard.db`` is no stronger than the trail against someone who can rewrite both; it makes a
truncation that forgot it (or a trail restored from an older copy) visible.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mpcwallet.cosigner.audit import AuditTrail, verify
from mpcwallet.errors import AuditTampered, BadInput

_SIGN_OPS = ("sign", "sign_message", "sign_typed_data")
# (op, closed status) -> the audit events, one of which must name the session.
DUE: dict[tuple[str, str], frozenset[str]] = {
    **{(op, "completed"): frozenset({"sign_completed"}) for op in _SIGN_OPS},
    **{(op, "failed"): frozenset({"sign_failed"}) for op in _SIGN_OPS},
    **{(op, "refused"): frozenset({"policy_refused", "permit_rejected"}) for op in _SIGN_OPS},
    ("keygen", "completed"): frozenset({"keygen_completed"}),
    ("refresh", "completed"): frozenset({"refresh_completed"}),
}


def check_anchor_form(value: str) -> str:
    text = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise BadInput(
            "--expect-head: give the 64-hex-digit hash of a record, as `mpc cosigner audit "
            "show` or `verify` printed it (the head)",
            field="expect_head",
        )
    return text


def missing_sessions(
    records: Iterable[Mapping[str, Any]], sessions: Iterable[Mapping[str, Any]]
) -> list[tuple[str, str, str]]:
    """``(session, status, expected events)`` for each closed session without its record."""
    seen: dict[str, set[str]] = {}
    for r in records:
        session = r.get("session")
        if isinstance(session, str):
            seen.setdefault(session, set()).add(str(r.get("event")))
    out = []
    for row in sessions:
        due = DUE.get((str(row.get("op")), str(row.get("status"))))
        session = str(row.get("session"))
        if due and not due & seen.get(session, set()):
            out.append((session, str(row["status"]), "/".join(sorted(due))))
    return out


def _ledger_sessions(guard_db: Path) -> list[dict[str, Any]]:
    if not guard_db.exists():
        return []
    from mpcwallet.cosigner.ledger import Ledger

    ledger = Ledger(guard_db)
    try:
        return ledger.sessions(limit=-1)  # SQLite: a negative LIMIT is no limit
    finally:
        ledger.close()


def head_of(trail: AuditTrail) -> dict[str, Any] | None:
    head = trail.head()
    return None if head is None else {"seq": head[0], "hash": head[1]}


def verify_all(directory: Path, expect_head: str | None = None) -> dict[str, Any]:
    """The chain, the anchor (if given) and the session records; :class:`AuditTampered` names
    the first problem. Returns the verdict, the head and how many sessions were checked."""
    trail = AuditTrail(directory)
    verdict = verify(trail)
    if not verdict.ok:
        where = f"record {verdict.bad_line}" if verdict.bad_line else "the trail"
        raise AuditTampered(f"audit trail broken at {where}: {verdict.reason}", field="audit")
    records = trail.records()
    data: dict[str, Any] = {**verdict.to_dict(), "head": head_of(trail)}
    if expect_head is not None:
        anchor = check_anchor_form(expect_head)
        found = [r.get("seq") for r in records if r.get("hash") == anchor]
        if not found:
            raise AuditTampered(
                f"audit trail does not contain the expected head {anchor[:16]}…: records were "
                "cut off or rewritten since that anchor was taken",
                field="audit",
            )
        data["anchor_seq"] = found[0]
    from mpcwallet.homes.paths import CosignerPaths

    sessions = _ledger_sessions(CosignerPaths(directory).guard_db)
    missing = missing_sessions(records, sessions)
    if missing:
        listed = "; ".join(f"session {s} ({st}, no {ev} record)" for s, st, ev in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise AuditTampered(
            f"audit trail lacks records of sessions in guard.db: {listed}{more}; records were "
            "dropped from the trail",
            field="audit",
        )
    data["sessions_checked"] = sum(1 for row in sessions if DUE.get((row["op"], row["status"])))
    return data
