"""Errors of the HTTP API (`mpc serve`, the WaaS service); never a CLI exit."""

from __future__ import annotations

from mpcwallet.errors.base import BadInput, MpcError, NotFound


class Unauthorized(MpcError):
    """No bearer token, or not this server's."""

    code = "unauthorized"
    exit_code = 13


class HostRefused(MpcError):
    """A Host header other than 127.0.0.1:PORT / localhost:PORT (DNS rebinding)."""

    code = "host_refused"
    exit_code = 2


class OriginRefused(MpcError):
    """A browser's Origin header that ``--allow-origin`` does not name."""

    code = "origin_refused"
    exit_code = 2


class BodyTooLarge(BadInput):
    code = "body_too_large"


class MalformedBody(BadInput):
    """A request body that is not strict, bounded JSON (syntax, depth, size of a number)."""

    code = "malformed_json"


class InvalidRequest(BadInput):
    """A JSON body whose fields do not match the route's request model."""

    code = "invalid_request"


class RouteNotFound(NotFound):
    code = "no_such_route"


class MethodNotAllowed(BadInput):
    code = "method_not_allowed"


class IdempotencyConflict(BadInput):
    """An Idempotency-Key reused with another body or route."""

    code = "idempotency_conflict"


class StoreSchemaError(BadInput):
    """The session store's schema is newer than this mpcwallet, or not one of ours."""

    code = "store_schema"


class IdempotencyUnknown(BadInput):
    """An Idempotency-Key whose first request was cut off by a restart of ``mpc serve``: it may
    or may not have signed, so a retry neither signs again nor replays an answer."""

    code = "idempotency_unknown"
