"""The node a use case talks to: the endpoint from the argument or the environment, retries
reported through the front end's ``Ui.note``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mpcwallet.errors import BadInput

if TYPE_CHECKING:
    from mpcwallet.evm.rpc import RpcClient
    from mpcwallet.wallet.ports import Ui


def rpc_client(url: str, retry_seconds: float | None, ui: Ui) -> RpcClient:
    from mpcwallet.evm.endpoint import retry_seconds_from_env
    from mpcwallet.evm.rpc import RpcClient

    return RpcClient(url, retry_seconds=retry_seconds_from_env(retry_seconds), on_event=ui.note)


def required_rpc_url(rpc_url: str | None) -> str:
    """The endpoint (argument, MPC_RPC_URL or ETH_RPC_URL), or ``bad_input`` naming them."""
    from mpcwallet.evm.endpoint import resolve_rpc_url

    url = resolve_rpc_url(rpc_url)
    if url is None:
        raise BadInput(
            "no RPC endpoint: pass --rpc-url or set MPC_RPC_URL (or ETH_RPC_URL)", field="rpc_url"
        )
    return url
