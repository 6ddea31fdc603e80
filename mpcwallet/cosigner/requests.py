"""What every co-signer op reads from a client's request the same way (pure helpers)."""

from __future__ import annotations

from typing import Any

from mpcwallet.cosigner.facts import permits_from_request
from mpcwallet.errors import AuthFailed
from mpcwallet.session.wire import Hello

# Every op the co-signer serves. Anything else is refused, and logged as "unknown": a peer's
# own op name never reaches a log line.
OPS = frozenset(
    {
        "pair",
        "keygen",
        "sign",
        "sign_message",
        "sign_typed_data",
        "refresh",
        "ping",
        "has_key",
        "policy_reload",
        "selftest",
    }
)


def permits(req: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The signing permits sent with a sign request (checked by the guard)."""
    return tuple(dict(p) for p in permits_from_request(req.get("permits")))


def key_session(hello: Hello, req: dict[str, Any], op: str) -> str:
    key_id = hello.key_id
    if hello.auth != "key" or key_id is None or req.get("key_id") != key_id:
        raise AuthFailed(f"{op} needs a session authenticated with that key's own secret")
    return key_id


def account(req: dict[str, Any]) -> int:
    from mpcwallet.engine.base import check_account

    return check_account(req.get("account", 0))
