"""The WaaS service's errors: members of the one tree (:mod:`mpcwallet.errors`) with stable
codes of their own. Every message says what to do; ``field`` names the request field."""

from __future__ import annotations

from mpcwallet.errors import AlreadyExists, BadInput, MpcError, PolicyRefused

__all__ = [
    "ApprovalRefused",
    "Forbidden",
    "KytDenied",
    "RequestIdReused",
    "WrongState",
]


class Forbidden(MpcError):
    """The principal's role (or tenant) does not allow this call."""

    code = "forbidden"
    exit_code = 13


class RequestIdReused(AlreadyExists):
    """A client request_id reused with a different body."""

    code = "request_id_reused"


class KytDenied(PolicyRefused):
    code = "kyt_denied"


class ApprovalRefused(PolicyRefused):
    """An approval that does not count: own request, unknown or wrong key, bad signature."""

    code = "approval_refused"


class WrongState(BadInput):
    """The request or wallet is not in a state that allows this call."""

    code = "wrong_state"
