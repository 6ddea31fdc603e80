"""Health: is the co-signer up, authenticated and on our engine; does it hold our key.

Without a share: /healthz answers, a pairing-token session succeeds, engines match.
With a share: also the co-signer holds that key (asked over the pairing session: no
passphrase needed). ``verify_key_secret`` also opens a session authenticated with the key's
own secret, which needs the share passphrase (from ``keys``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpcwallet.errors import BadInput, KeyQuarantined

if TYPE_CHECKING:
    from mpcwallet.wallet.ports import Keyring


def health(
    *,
    share: Path | None = None,
    key: str | None = None,
    verify_key_secret: bool = False,
    keys: Keyring | None = None,
) -> dict[str, Any]:
    """The co-signer's health result (``endpoint``, ``engine``, ``keys``, ``checks``, and with a
    share ``quarantined``); a quarantined key raises :class:`KeyQuarantined` after the checks."""
    from mpcwallet.session.client import health as check
    from mpcwallet.session.client import resolve_endpoint

    key_id = None
    engine = None
    secret = None
    quarantine = None
    if key is not None:
        from mpcwallet.lifecycle.names import resolve_share

        share = resolve_share(share, key)
    if share is not None:
        from mpcwallet.lifecycle.quarantine import read_quarantine
        from mpcwallet.wallet.shares import share_summary

        summary = share_summary(share)
        key_id = str(summary["key_id"])
        engine = str(summary["engine"])
        quarantine = read_quarantine(share, key_id)
        if verify_key_secret:
            if keys is None:
                raise BadInput(
                    "verify_key_secret needs the share passphrase (no keyring given)",
                    field="passphrase",
                )
            passphrase = keys.passphrase(share)
            _, body = keys.open(share, passphrase)
            del passphrase
            secret = body.auth_secret
    elif verify_key_secret:
        raise BadInput("--verify-key-secret needs --share", field="share")
    else:
        from mpcwallet.session.client import engine_for_home

        engine = engine_for_home()
    result: dict[str, Any] = check(
        resolve_endpoint(), key_id=key_id, auth_secret=secret, engine_name=engine
    )
    if share is not None:
        result["quarantined"] = quarantine is not None
    if quarantine is not None:
        raise KeyQuarantined(
            f"the co-signer is healthy, but key {key_id} ({share}) is quarantined since "
            f"{quarantine.get('quarantined_at', '?')} ({quarantine.get('error_code', '?')}); "
            "see `mpc key status`",
            field="share",
        )
    return result


def cosigner_state(timeout: float = 2.0) -> dict[str, Any]:
    """``{state: ok|unreachable|unhealthy, reason, endpoint}`` of this home's co-signer, from its
    /healthz (no session, no passphrase): what `mpc serve`'s /healthz reports."""
    from mpcwallet.errors import PeerUnreachable
    from mpcwallet.session.client import resolve_endpoint
    from mpcwallet.session.endpoint import fetch_healthz

    endpoint = resolve_endpoint()
    try:
        status, body = fetch_healthz(endpoint, timeout=timeout)
    except PeerUnreachable as exc:
        return {"state": "unreachable", "reason": exc.message, "endpoint": endpoint}
    if status != 200 or body.get("status") != "ok":
        why = body.get("message") or body.get("status") or "no status"
        return {
            "state": "unhealthy",
            "reason": f"the co-signer at {endpoint} answered /healthz with {status}: {why}",
            "endpoint": endpoint,
        }
    return {"state": "ok", "reason": None, "endpoint": endpoint}
