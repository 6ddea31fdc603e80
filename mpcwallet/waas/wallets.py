"""Wallet use cases: create (t-of-n DKG through the coordinator), read, page, MPC meta, refresh.

A wallet is recorded ``PENDING_KEYGEN`` first (the tenant's ``request_id`` makes a retry find
it, by a unique constraint), then the coordinator's ``CreateKeyset`` runs, then one transaction
makes it ``ACTIVE`` with its address (from the MPC public key), ``key_ref``
``mpc-tecdsa://<cluster>/<keyset_id>`` and t/n, or ``FAILED`` with the error's code and message:
never half made. ``DEV_SIGNER`` (one local key in memory) exists only in dev mode.
"""

from __future__ import annotations

from typing import Any

from mpcwallet.errors import BadInput, MpcError
from mpcwallet.evm.address import address_from_public_key
from mpcwallet.store.waas_records import Principal, WalletRow
from mpcwallet.waas.errors import RequestIdReused, WrongState
from mpcwallet.waas.service import Service, new_id, require

__all__ = ["create_wallet", "get_wallet", "list_wallets", "mpc_meta", "refresh_wallet"]

BACKENDS = ("MPC_TECDSA", "DEV_SIGNER")


def _check_backend(svc: Service, backend: str, t: int | None, n: int | None) -> tuple[Any, Any]:
    if backend == "DEV_SIGNER":
        if not svc.settings.dev_mode:
            raise BadInput(
                "DEV_SIGNER wallets exist only when the service runs in dev mode "
                "(mpc waas serve --dev); use MPC_TECDSA",
                field="custody_backend",
            )
        if t is not None or n is not None:
            raise BadInput("mpc_t/mpc_n are for MPC_TECDSA wallets", field="mpc_t")
        return None, None
    t = svc.settings.default_t if t is None else t
    n = svc.settings.default_n if n is None else n
    if not 2 <= t <= n:
        raise BadInput(f"need 2 <= mpc_t <= mpc_n (got {t}-of-{n})", field="mpc_t")
    return t, n


def create_wallet(svc: Service, who: Principal, body: dict[str, Any]) -> tuple[WalletRow, bool]:
    """``(wallet, created)``; created False when ``request_id`` named an earlier wallet."""
    require(who, "admin")
    backend = body["custody_backend"]
    t, n = _check_backend(svc, backend, body.get("mpc_t"), body.get("mpc_n"))
    wallet, created = svc.store.create_wallet(
        new_id("wal"),
        who.tenant,
        body["name"],
        body.get("request_id"),
        backend,
        t,
        n,
        who.principal_id,
    )
    if not created:
        same = (wallet.name, wallet.custody_backend, wallet.mpc_t, wallet.mpc_n) == (
            body["name"],
            backend,
            t,
            n,
        )
        if not same:
            raise RequestIdReused(
                f"request_id {body.get('request_id')} made wallet {wallet.wallet_id} with other "
                "values; use a new request_id for a new wallet",
                field="request_id",
            )
        return wallet, False
    if backend == "DEV_SIGNER":
        return _dev_wallet(svc, wallet), True
    return _keygen(svc, wallet), True


def _keygen(svc: Service, wallet: WalletRow) -> WalletRow:
    store, tenant, wid = svc.store, wallet.tenant, wallet.wallet_id
    assert wallet.mpc_t is not None and wallet.mpc_n is not None
    store.audit([("MPC_KEYGEN_STARTED", tenant, wid, {"t": wallet.mpc_t, "n": wallet.mpc_n})])
    try:
        info = svc.coordinator.create_keyset(wallet.mpc_t, wallet.mpc_n, tenant, wid)
        address = address_from_public_key(info.public_key)
    except Exception as exc:  # noqa: BLE001 - recorded on the wallet, type only if foreign
        code = exc.code if isinstance(exc, MpcError) else "internal"
        message = exc.message if isinstance(exc, MpcError) else type(exc).__name__
        return store.finish_wallet(
            wid,
            [
                ("MPC_KEYGEN_FAILED", tenant, wid, {"code": code}),
                ("WALLET_STATE_FAILED", tenant, wid, {"code": code}),
            ],
            status="FAILED",
            error_code=code,
            error_message=message[:500],
        )
    key_ref = f"mpc-tecdsa://{svc.coordinator.cluster_id}/{info.keyset_id}"
    return store.finish_wallet(
        wid,
        [
            (
                "MPC_KEYGEN_COMPLETED",
                tenant,
                wid,
                {"keyset_id": info.keyset_id, "address": address},
            ),
            (
                "WALLET_CREATED",
                tenant,
                wid,
                {"address": address, "key_ref": key_ref, "t": info.t, "n": info.n},
            ),
        ],
        status="ACTIVE",
        keyset_id=info.keyset_id,
        key_ref=key_ref,
        address=address,
        pubkey=info.public_key.hex(),
    )


def _dev_wallet(svc: Service, wallet: WalletRow) -> WalletRow:
    import coincurve

    key = coincurve.PrivateKey()
    pub = key.public_key.format(compressed=True)
    svc.dev_keys[wallet.wallet_id] = key.secret
    address = address_from_public_key(pub)
    return svc.store.finish_wallet(
        wallet.wallet_id,
        [
            (
                "WALLET_CREATED",
                wallet.tenant,
                wallet.wallet_id,
                {"address": address, "key_ref": "dev-signer://memory"},
            )
        ],
        status="ACTIVE",
        key_ref=f"dev-signer://memory/{wallet.wallet_id}",
        address=address,
        pubkey=pub.hex(),
    )


def get_wallet(svc: Service, who: Principal, wallet_id: str) -> WalletRow:
    return svc.store.get_wallet(wallet_id, who.tenant)


def list_wallets(
    svc: Service, who: Principal, limit: int, after: str | None
) -> tuple[list[WalletRow], str | None]:
    rows = svc.store.list_wallets(who.tenant, limit=limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].wallet_id if more and rows else None)


def _mpc_wallet(svc: Service, who: Principal, wallet_id: str) -> WalletRow:
    wallet = get_wallet(svc, who, wallet_id)
    if wallet.custody_backend != "MPC_TECDSA":
        raise WrongState(
            f"wallet {wallet_id} is a {wallet.custody_backend} wallet, not MPC", field="wallet_id"
        )
    return wallet


def mpc_meta(svc: Service, who: Principal, wallet_id: str) -> dict[str, Any]:
    wallet = _mpc_wallet(svc, who, wallet_id)
    out: dict[str, Any] = {
        "wallet_id": wallet_id,
        "status": wallet.status,
        "key_ref": wallet.key_ref,
        "keyset_id": wallet.keyset_id,
        "mpc_t": wallet.mpc_t,
        "mpc_n": wallet.mpc_n,
        "cluster_id": svc.coordinator.cluster_id,
        "keyset_status": None,
        "parties": [],
        "generation": None,
    }
    if wallet.keyset_id is not None:
        info = svc.coordinator.keyset(wallet.keyset_id)
        gen = info.meta.get("generation")
        out.update(
            keyset_status=info.status,
            parties=list(info.parties),
            generation=None if gen is None else int(gen),
        )
    return out


def refresh_wallet(svc: Service, who: Principal, wallet_id: str) -> dict[str, Any]:
    require(who, "admin")
    wallet = _mpc_wallet(svc, who, wallet_id)
    if wallet.status != "ACTIVE" or wallet.keyset_id is None:
        raise WrongState(
            f"wallet {wallet_id} is {wallet.status}; only an ACTIVE wallet is refreshed",
            field="wallet_id",
        )
    svc.store.audit([("MPC_REFRESH_STARTED", who.tenant, wallet_id, {})])
    try:
        svc.coordinator.refresh(wallet.keyset_id)
    except MpcError as exc:
        svc.store.audit([("MPC_REFRESH_FAILED", who.tenant, wallet_id, {"code": exc.code})])
        raise
    svc.store.audit([("MPC_REFRESH_COMPLETED", who.tenant, wallet_id, {})])
    return mpc_meta(svc, who, wallet_id)
