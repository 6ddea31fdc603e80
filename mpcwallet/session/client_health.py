"""The client's health check: ``/healthz``, an authenticated ping, optionally the per-key check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mpcwallet.errors import (
    MpcError,
    PeerUnreachable,
    Unhealthy,
    WrongCosigner,
)
from mpcwallet.session.endpoint import fetch_healthz
from mpcwallet.session.peer import check_cosigner_identity, pairing_credentials

if TYPE_CHECKING:
    pass
from mpcwallet.session.client_core import (
    _expect,
    _ping,
)

# --- health ----------------------------------------------------------------------------------


def health(
    endpoint: str,
    *,
    key_id: str | None = None,
    auth_secret: bytes | None = None,
    engine_name: str | None = None,
    token: bytes | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Check the co-signer; :class:`Unhealthy` (``field`` = failing check) when it is not ok.

    Checks, in order: ``healthz`` answers 200; ``engine`` matches ours (``engine_name``, default
    the one the daemon reports); ``auth``: a pairing-token session succeeds and answers a ping;
    with ``key_id``: ``key`` - the daemon holds that key (asked over the pairing session), and
    with ``auth_secret`` also ``key_auth`` - a session authenticated with the per-key secret.
    """
    checks: dict[str, Any] = {}
    try:
        status, doc = fetch_healthz(endpoint)
    except PeerUnreachable as exc:
        raise Unhealthy(f"healthz: {exc.message}", field="healthz") from None
    if status != 200 or doc.get("status") != "ok":
        raise Unhealthy(
            f"healthz: the co-signer reports {doc.get('check', 'a failure')!r}: "
            f"{doc.get('message', 'HTTP ' + str(status))}",
            field="healthz",
        )
    checks["healthz"] = "ok"
    try:
        check_cosigner_identity(endpoint, doc)
    except WrongCosigner as exc:
        raise Unhealthy(f"home: {exc.message}", field="home") from None
    checks["home"] = "ok"
    daemon_engine = str(doc.get("engine"))
    engine = engine_name or daemon_engine
    if engine != daemon_engine:
        raise Unhealthy(
            f"engine: this client uses {engine!r}, the co-signer runs {daemon_engine!r}",
            field="engine",
        )
    checks["engine"] = "ok"
    try:
        creds = pairing_credentials(token=token)
        secret, client_id = creds.secret, creds.client_id
        pong = _ping(endpoint, secret, engine, "pairing", client_id, {"op": "ping"}, timeout)
        _expect(pong, "pong")
        checks["auth"] = "ok"
        if key_id is not None:
            answer = _ping(
                endpoint,
                secret,
                engine,
                "pairing",
                client_id,
                {"op": "has_key", "key_id": key_id},
                timeout,
            )
            _expect(answer, "has_key")
            if answer.get("present") is not True:
                raise Unhealthy(
                    f"key: the co-signer does not hold key {key_id}; this share cannot sign "
                    "with this co-signer (was its keygen interrupted, or is MPC_HOME different?)",
                    field="key",
                )
            checks["key"] = "ok"
            if auth_secret is not None:
                pong = _ping(endpoint, auth_secret, engine, "key", key_id, {"op": "ping"}, timeout)
                _expect(pong, "pong")
                checks["key_auth"] = "ok"
    except Unhealthy:
        raise
    except MpcError as exc:
        check = "key_auth" if "key" in checks else "auth"
        raise Unhealthy(f"{check}: {exc.message} ({exc.code})", field=check) from None
    return {
        "status": "ok",
        "endpoint": endpoint,
        "engine": daemon_engine,
        "version": doc.get("version"),
        "uptime_s": doc.get("uptime_s"),
        "keys": doc.get("keys"),
        "checks": checks,
    }
