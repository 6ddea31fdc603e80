"""`run_refresh` against a real co-signer: new shares, same key, rotated secret, two-phase."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSPHRASE
from support.cosigner import Cosigner
from support.proc import json_result, run_mpc

from mpcwallet.errors import AuthFailed, BadInput
from mpcwallet.session.client import health, run_refresh, run_sign
from mpcwallet.storage.store import load_share

TX: dict[str, Any] = json.loads((Path(__file__).parents[2] / "examples" / "tx.json").read_text())


def _digest() -> bytes:
    from mpcwallet.evm.txjson import parse_tx, signing_digest

    return signing_digest(parse_tx(TX))


@pytest.fixture
def share(cosigner: Cosigner) -> tuple[dict[str, Any], Any]:
    cp = run_mpc(["--json", "keygen"], cosigner.env)
    assert cp.returncode == 0, cp.stdout
    return load_share(Path(json_result(cp)["data"]["share"]), TEST_PASSPHRASE)


def test_refresh_rotates_shares_and_secret(cosigner: Cosigner, share: Any) -> None:
    from coincurve import PublicKey

    header, old = share
    daemon_file = cosigner.dir / "shares" / f"{header['key_id']}.enc"
    before = daemon_file.read_bytes()
    written: list[Any] = []
    new, generation = run_refresh(
        cosigner.url,
        share_header=header,
        body=old,
        write_pending=lambda body, gen: written.append((body, gen)),
    )
    assert written == [(new, 1)] and generation == 1
    assert new.key_blob != old.key_blob and new.auth_secret != old.auth_secret
    assert daemon_file.read_bytes() != before
    der = run_sign(cosigner.url, share_header=header, body=new, tx_json=TX, digest=_digest())
    assert PublicKey(bytes.fromhex(header["public_key"])).verify(der, _digest(), hasher=None)
    # The old generation no longer authenticates: which secret works tells the generation.
    with pytest.raises(AuthFailed):
        run_sign(cosigner.url, share_header=header, body=old, tx_json=TX, digest=_digest())
    token = bytes.fromhex((cosigner.dir / "auth.token").read_text().strip())
    ok = health(cosigner.url, key_id=header["key_id"], auth_secret=new.auth_secret, token=token)
    assert ok["checks"]["key_auth"] == "ok"
    events = [line.get("event") for line in cosigner.log_lines()]
    assert "refresh_started" in events and "refresh_completed" in events


def test_refresh_interrupted_before_commit_keeps_the_old_shares(
    cosigner: Cosigner, share: Any
) -> None:
    header, old = share

    def fail(_body: Any, _gen: int) -> None:
        raise BadInput("disk full (simulated)", field="out")

    with pytest.raises(BadInput, match="disk full"):
        run_refresh(cosigner.url, share_header=header, body=old, write_pending=fail)
    der = run_sign(cosigner.url, share_header=header, body=old, tx_json=TX, digest=_digest())
    assert der
    assert not list((cosigner.dir / "shares").glob("*.pending"))
