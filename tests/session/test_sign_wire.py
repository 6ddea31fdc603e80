"""`run_sign` against a real co-signer: the daemon recomputes the digest and audits the sign."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSPHRASE
from support.cosigner import Cosigner
from support.proc import json_result, run_mpc

from mpcwallet.errors import AuthFailed, PolicyRefused
from mpcwallet.storage.store import load_share

TX: dict[str, Any] = json.loads((Path(__file__).parents[2] / "examples" / "tx.json").read_text())


@pytest.fixture
def share(cosigner: Cosigner) -> tuple[dict[str, Any], Any]:
    cp = run_mpc(["--json", "keygen"], cosigner.env)
    assert cp.returncode == 0, cp.stdout
    return load_share(Path(json_result(cp)["data"]["share"]), TEST_PASSPHRASE)


def _digest() -> bytes:
    from mpcwallet.evm.txjson import parse_tx, signing_digest

    return signing_digest(parse_tx(TX))


def test_sign_returns_a_signature_that_verifies(cosigner: Cosigner, share: Any) -> None:
    from coincurve import PublicKey

    from mpcwallet.session.client import run_sign

    header, body = share
    digest = _digest()
    der = run_sign(cosigner.url, share_header=header, body=body, tx_json=TX, digest=digest)
    pub = PublicKey(bytes.fromhex(header["public_key"]))
    assert pub.verify(der, digest, hasher=None)
    audit = [line for line in cosigner.log_lines() if line.get("event") == "sign_completed"]
    assert audit and audit[0]["digest"] == digest.hex()
    assert audit[0]["chain_id"] == TX["chainId"] and audit[0]["key_id"] == header["key_id"]
    assert audit[0]["session"]


def test_sign_refuses_a_digest_it_did_not_compute(cosigner: Cosigner, share: Any) -> None:
    from mpcwallet.session.client import run_sign

    header, body = share
    with pytest.raises(PolicyRefused, match="digest"):
        run_sign(cosigner.url, share_header=header, body=body, tx_json=TX, digest=b"\x01" * 32)
    assert any(line.get("event") == "sign_refused" for line in cosigner.log_lines())


def test_sign_needs_the_per_key_secret(cosigner: Cosigner, share: Any) -> None:
    from mpcwallet.session.client import run_sign
    from mpcwallet.storage.body import ShareBody

    header, body = share
    forged = ShareBody(body.key_blob, b"\x00" * 32)
    with pytest.raises(AuthFailed):
        run_sign(cosigner.url, share_header=header, body=forged, tx_json=TX, digest=_digest())


def test_secret_holding_objects_have_safe_reprs(share: Any) -> None:
    from mpcwallet.session.client import KeygenResult

    _, body = share
    result = KeygenResult(
        "k" * 32,
        b"\x02" * 33,
        "0x" + "00" * 20,
        body.key_blob,
        body.auth_secret,
        "portable",
        b"\x00" * 32,
    )
    text = repr(result) + str(result)
    assert body.auth_secret.hex() not in text and body.key_blob.hex()[:32] not in text
