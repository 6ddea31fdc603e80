"""The one map from the error tree (:mod:`mpcwallet.errors`) to HTTP statuses, and the JSON
error body every refusal uses: ``{"error": {code, message, kind, field}}``.

The most specific class in an error's MRO that is listed here decides; anything unlisted in the
tree is 400 (permanent) / 503 (transient) / 502 (violation); an exception outside the tree is
500 ``internal`` with its type name only (never its arguments).
"""

from __future__ import annotations

import re
from typing import Any

from mpcwallet import errors as e
from mpcwallet.errors import (
    BodyTooLarge,
    HostRefused,
    IdempotencyConflict,
    IdempotencyUnknown,
    InvalidRequest,
    MalformedBody,
    MethodNotAllowed,
    OriginRefused,
    RouteNotFound,
    Unauthorized,
)

STATUS: dict[type[e.MpcError], int] = {
    e.BadInput: 422,  # a value the wallet refuses (tx field, address, amount)
    MalformedBody: 400,
    InvalidRequest: 422,
    e.UsageError: 400,
    e.AccountUnavailable: 422,
    e.BadTypedData: 422,
    Unauthorized: 401,
    e.AuthFailed: 502,  # the co-signer refused our per-key secret: an upstream failure
    OriginRefused: 403,
    HostRefused: 421,
    RouteNotFound: 404,
    e.NotFound: 404,
    MethodNotAllowed: 405,
    IdempotencyConflict: 409,
    IdempotencyUnknown: 409,  # cut off by a restart: whether it signed is unknown
    e.AlreadyExists: 409,
    e.Busy: 409,
    BodyTooLarge: 413,
    e.WrongPassphrase: 500,  # the server's own unlock; never a caller's fault
    e.PassphraseRequired: 500,
    e.TamperedFile: 500,
    e.PolicyRefused: 403,
    e.ChainError: 422,
    e.EngineUnavailable: 501,
    e.EngineMismatch: 502,
    e.CosignerError: 503,
    e.Unhealthy: 503,
    e.ProtocolViolation: 502,
    e.TransientError: 503,
    e.PeerTimeout: 504,
    e.NotYetMined: 504,
    e.RpcUnavailable: 502,
    e.Interrupted: 503,
    e.InternalError: 500,
}

_BY_KIND = {"permanent": 400, "transient": 503, "violation": 502}


def http_status(err: e.MpcError) -> int:
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return _BY_KIND.get(err.kind, 400)


# The wallet's messages are written for the CLI; a caller of the API sends JSON fields, not
# flags. Each rewrite turns a CLI phrase into the API's words (flags become request fields).
_FLAG_FIELDS = {"data": "document", "permit": "permits", "hex": "message"}
_API_TERMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r",? or pass --share FILE"), ""),
    (re.compile(r"pass --rpc-url or set MPC_RPC_URL"), 'give "rpc_url" or set MPC_RPC_URL'),
    (re.compile(r"create one with `mpc keygen`"), "create one with POST /keygen/init"),
    (re.compile(r"pass --chain-id (\d+)"), r'give "chain_id": \1'),
)
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")


def api_terms(message: str) -> str:
    """``message`` with CLI flags named as the API's JSON fields (``--chain-id`` is
    ``"chain_id"``)."""
    for pattern, words in _API_TERMS:
        message = pattern.sub(words, message)
    return _FLAG.sub(
        lambda m: '"' + _FLAG_FIELDS.get(m.group(1), m.group(1).replace("-", "_")) + '"', message
    )


def error_body(err: e.MpcError) -> dict[str, Any]:
    detail = err.to_dict()
    detail.setdefault("field", None)
    message = detail.get("message")
    if isinstance(message, str):
        detail["message"] = api_terms(message)
    return {"error": detail}


def as_error(exc: BaseException) -> e.MpcError:
    """``exc`` as a member of the tree; a foreign exception becomes ``internal`` (type only)."""
    if isinstance(exc, e.MpcError):
        return exc
    return e.InternalError(f"internal error ({type(exc).__name__}); see the server log")
