"""The networked cluster coordinator (``mpc cluster serve``, issue 22) behind the
:class:`~mpcwallet.waas.ports.Coordinator` port: its HTTP API on loopback.

``POST /v1/keysets`` (CreateKeyset), ``POST /v1/keysets/{id}/sign`` (SignTx: the nodes check the
permit and recompute the digest), ``POST /v1/keysets/{id}/refresh``. Key set meta comes from the
store the coordinator writes (the WaaS service opens the same store). The coordinator's error
body ``{"error": {code, message, ...}}`` becomes the same code here.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from mpcwallet import errors as e
from mpcwallet.store import Store
from mpcwallet.waas.ports import KeysetInfo

__all__ = ["HttpCoordinator"]

_TIMEOUT_S = 180.0


def _error_class(code: str) -> type[e.MpcError]:
    for cls in _walk(e.MpcError):
        if getattr(cls, "code", None) == code:
            return cls
    return e.MpcError


def _walk(cls: type[e.MpcError]) -> list[type[e.MpcError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out += _walk(sub)
    return out


class HttpCoordinator:
    def __init__(self, url: str, cluster_id: str, store: Store) -> None:
        self.url = url.rstrip("/")
        self.cluster_id = cluster_id
        self.store = store

    def __repr__(self) -> str:
        return f"HttpCoordinator({self.url}, cluster {self.cluster_id})"

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(  # noqa: S310 - an http(s) URL from the cluster state
            self.url + path,
            method="POST",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=_TIMEOUT_S) as r:  # noqa: S310
                out: dict[str, Any] = json.loads(r.read())
                return out
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read()).get("error", {})
            except ValueError:
                err = {}
            code = str(err.get("code", "cosigner_error"))
            raise _error_class(code)(
                str(err.get("message", f"the coordinator answered HTTP {exc.code}")),
                field=err.get("field"),
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise e.PeerUnreachable(
                f"the cluster coordinator at {self.url} is unreachable ({type(exc).__name__}); "
                "is `mpc cluster up` running?"
            ) from None

    def create_keyset(self, t: int, n: int, tenant: str, wallet_id: str) -> KeysetInfo:
        out = self._call("/v1/keysets", {"t": t, "n": n, "tenant": tenant, "wallet_id": wallet_id})
        return self.keyset(str(out["keyset_id"]))

    def sign_tx(self, keyset_id: str, tx: dict[str, Any], permit: dict[str, Any] | None) -> bytes:
        """The DER signature, rebuilt from the coordinator's (r, s) (the caller re-derives v and
        checks the raw transaction recovers to the wallet)."""
        body: dict[str, Any] = {"tx": tx, "permit": permit}
        if permit is not None:
            body["request_id"] = "waas-" + str(permit.get("tx_request_id", ""))
        out = self._call(f"/v1/keysets/{keyset_id}/sign", body)
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        sig = out["signature"]
        return encode_dss_signature(int(sig["r"], 16), int(sig["s"], 16))

    def refresh(self, keyset_id: str) -> KeysetInfo:
        self._call(f"/v1/keysets/{keyset_id}/refresh", {})
        return self.keyset(keyset_id)

    def keyset(self, keyset_id: str) -> KeysetInfo:
        ks = self.store.get_keyset(keyset_id)
        sessions = self.store.list_sessions(keyset_id=keyset_id)
        return KeysetInfo(
            ks.keyset_id,
            bytes.fromhex(ks.pubkey or ""),
            ks.t,
            ks.n,
            tuple(ks.parties),
            status=ks.status,
            meta={
                "generation": 1
                + sum(s.op == "refresh" and s.status == "succeeded" for s in sessions)
            },
        )
