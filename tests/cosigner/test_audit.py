"""The hash-chained audit trail: `mpc cosigner audit verify` detects an edit, a deletion, an
insertion, a reordering and a truncation, each at the first bad record."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.proc import json_result, run_mpc

from mpcwallet.cosigner import logs
from mpcwallet.cosigner.audit import AuditTrail, verify

Lines = list[str]


def _edit(lines: Lines) -> Lines:
    doc = json.loads(lines[2])
    doc["value"] = "1000000000000000000000"
    lines[2] = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return lines


def _delete(lines: Lines) -> Lines:
    return lines[:2] + lines[3:]


def _insert(lines: Lines) -> Lines:
    return [*lines[:3], lines[1], *lines[3:]]


def _reorder(lines: Lines) -> Lines:
    lines[2], lines[3] = lines[3], lines[2]
    return lines


def _truncate(lines: Lines) -> Lines:
    return lines[:-1]


@pytest.fixture
def trail(mpc_home: Path) -> AuditTrail:
    t = AuditTrail(mpc_home / "cosigner")
    for i in range(6):
        t.append("sign_completed", f"sign {i}", {"key_id": "ab" * 16, "value": str(i), "seq": 99})
    return t


def test_intact_trail_verifies(trail: AuditTrail, mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["--json", "cosigner", "audit", "verify"], mpc_env)
    assert cp.returncode == 0 and json_result(cp)["data"]["records"] == 6
    assert [r["seq"] for r in trail.records()] == [1, 2, 3, 4, 5, 6]  # "seq" field not overridable


@pytest.mark.parametrize(
    ("tamper", "bad_line"),
    [(_edit, 3), (_delete, 3), (_insert, 4), (_reorder, 3), (_truncate, 6)],
    ids=["edit", "delete", "insert", "reorder", "truncate"],
)
def test_tampering_is_detected_at_the_first_bad_record(
    trail: AuditTrail, mpc_env: dict[str, str], tamper: Callable[[Lines], Lines], bad_line: int
) -> None:
    lines = trail.log_file.read_text().splitlines()
    trail.log_file.write_text("\n".join(tamper(lines)) + "\n")
    verdict = verify(trail)
    assert not verdict.ok and verdict.bad_line == bad_line, verdict
    cp = run_mpc(["--json", "cosigner", "audit", "verify"], mpc_env)
    error = json_result(cp)["error"]
    assert cp.returncode == 4 and error["code"] == "audit_tampered"
    assert f"record {bad_line}" in error["message"]


def test_a_missing_head_is_reported(trail: AuditTrail) -> None:
    trail.head_file.unlink()
    assert "head" in str(verify(trail).reason)


def test_only_whitelisted_fields_reach_the_trail(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path)
    logs.set_audit_trail(trail)
    try:
        logs.audit("sign_started", "sign started", key_id="ab" * 16, tx={"data": "0xsecret"},
                   passphrase="hunter2", token=b"tok", session="s1")  # fmt: skip
    finally:
        logs.set_audit_trail(None)
    [record] = trail.records()
    assert record["key_id"] == "ab" * 16 and record["session"] == "s1"
    text = trail.log_file.read_text()
    assert "hunter2" not in text and "0xsecret" not in text and "passphrase" not in text
    assert b"tok".hex() not in text and '"token"' not in text


def test_show_filters(trail: AuditTrail, mpc_env: dict[str, str]) -> None:
    trail.append("keygen_completed", "other key", {"key_id": "cd" * 16})
    cp = run_mpc(["--json", "cosigner", "audit", "show", "--key", "cd" * 16], mpc_env)
    records = json_result(cp)["data"]["records"]
    assert [r["seq"] for r in records] == [7]
    cp = run_mpc(["--json", "cosigner", "audit", "show", "--since", "2999-01-01"], mpc_env)
    assert json_result(cp)["data"]["records"] == []


def test_a_crash_inside_append_is_recovered(trail: AuditTrail) -> None:
    """Killed after the record was written but before the head moved, or mid-write."""
    head = trail.head_file.read_bytes()
    trail.append("sign_started", "sign 6", {"key_id": "ab" * 16})
    trail.head_file.write_bytes(head)  # the head write never happened
    assert not verify(trail).ok
    assert trail.recover() == "head_advanced"
    assert verify(trail).ok and verify(trail).records == 7
    with open(trail.log_file, "ab") as f:
        f.write(b'{"seq":8,"event":"sign_compl')  # torn write
    assert trail.recover() == "torn_record_dropped"
    assert verify(trail).ok
    trail.append("sign_completed", "after restart", {})
    assert verify(trail).ok and verify(trail).records == 8


def test_recover_does_not_bless_tampering(trail: AuditTrail) -> None:
    lines = trail.log_file.read_text().splitlines()
    trail.log_file.write_text("\n".join(_edit(lines)) + "\n")
    assert trail.recover() is None and not verify(trail).ok


def test_a_duplicate_key_edit_is_detected(trail: AuditTrail) -> None:
    """The parser keeps the last value, a reader sees the first: still an edit."""
    lines = trail.log_file.read_text().splitlines()
    assert '"value":"1"' in lines[1]
    lines[1] = '{"value":"1000000000000000000000",' + lines[1][1:]
    trail.log_file.write_text("\n".join(lines) + "\n")
    verdict = verify(trail)
    assert not verdict.ok and verdict.bad_line == 2


def _rechain(trail: AuditTrail, docs: list[dict[str, object]]) -> None:
    """What an attacker who can write the files does: drop records, recompute every hash and
    the head, so the chain alone is consistent again."""
    from mpcwallet.cosigner.audit import GENESIS, record_hash

    prev, lines = GENESIS, []
    for n, doc in enumerate(docs, start=1):
        doc = {k: v for k, v in doc.items() if k != "hash"}
        doc.update(seq=n, prev=prev)
        doc["hash"] = prev = record_hash(doc)
        lines.append(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    trail.log_file.write_text("".join(line + "\n" for line in lines))
    trail.head_file.write_text(json.dumps({"seq": len(docs), "hash": prev}) + "\n")


def test_a_truncation_with_a_rewritten_head_fails_against_the_anchor(
    trail: AuditTrail, mpc_env: dict[str, str]
) -> None:
    """Issue 20.10: each `audit show`/`verify` prints the head as an anchor to keep elsewhere;
    `verify --expect-head` then finds a trail cut back behind it, head rewritten to match."""
    shown = json_result(run_mpc(["--json", "cosigner", "audit", "show"], mpc_env))["data"]
    checked = json_result(run_mpc(["--json", "cosigner", "audit", "verify"], mpc_env))["data"]
    anchor = trail.records()[-1]["hash"]
    assert shown["head"] == checked["head"] == {"seq": 6, "hash": anchor}
    human = run_mpc(["cosigner", "audit", "verify"], mpc_env)
    assert anchor in human.stdout
    ok = run_mpc(["--json", "cosigner", "audit", "verify", "--expect-head", anchor], mpc_env)
    assert ok.returncode == 0, ok.stdout
    older = trail.records()[3]["hash"]  # an older anchor is still in the chain: fine
    assert run_mpc(["cosigner", "audit", "verify", "--expect-head", older], mpc_env).returncode == 0
    trail.append("sign_completed", "after the anchor", {"key_id": "ab" * 16})
    grown = run_mpc(["cosigner", "audit", "verify", "--expect-head", anchor], mpc_env)
    assert grown.returncode == 0, grown.stdout

    _rechain(trail, trail.records()[:4])
    assert verify(trail).ok  # the chain alone cannot tell
    cp = run_mpc(["--json", "cosigner", "audit", "verify", "--expect-head", anchor], mpc_env)
    error = json_result(cp)["error"]
    assert cp.returncode == 4 and error["code"] == "audit_tampered", cp.stdout
    assert anchor[:16] in error["message"]
    bad = run_mpc(["--json", "cosigner", "audit", "verify", "--expect-head", "xyz"], mpc_env)
    assert bad.returncode == 2 and json_result(bad)["error"]["field"] == "expect_head"


def test_verify_finds_sessions_whose_records_were_dropped(
    mpc_home: Path, mpc_env: dict[str, str]
) -> None:
    """Issue 20.10: the session records (guard.db) say which sessions ended; a trail rewritten
    without one of them fails verify, naming the session."""
    from mpcwallet.cosigner.ledger import Ledger
    from mpcwallet.homes.paths import CosignerPaths

    paths = CosignerPaths(mpc_home / "cosigner")
    trail = AuditTrail(paths.root)
    ledger = Ledger(paths.guard_db)
    outcomes = {"s1": "completed", "s2": "failed", "s3": "completed", "s4": "refused"}
    events = {"completed": "sign_completed", "failed": "sign_failed", "refused": "policy_refused"}
    try:
        for session, status in outcomes.items():
            ledger.session_started(session, op="sign", key_id="ab" * 16, account=0, digest="00")
            trail.append(events[status], status, {"session": session, "key_id": "ab" * 16})
            ledger.session_status(session, status, None if status == "completed" else "x")
        ledger.session_started("s5", op="sign", key_id="ab" * 16, account=0, digest="00")
    finally:
        ledger.close()
    cp = run_mpc(["--json", "cosigner", "audit", "verify"], mpc_env)
    assert cp.returncode == 0, cp.stdout  # s5 is still running: no record is due yet
    assert json_result(cp)["data"]["sessions_checked"] == 4

    _rechain(trail, [r for r in trail.records() if r.get("session") != "s3"])
    assert verify(trail).ok
    cp = run_mpc(["--json", "cosigner", "audit", "verify"], mpc_env)
    error = json_result(cp)["error"]
    assert cp.returncode == 4 and error["code"] == "audit_tampered", cp.stdout
    assert "s3" in error["message"] and "sign_completed" in error["message"]
