"""Turn an error code received from the peer back into our error class."""

from __future__ import annotations

from mpcwallet import errors


def _all_subclasses(cls: type[errors.MpcError]) -> list[type[errors.MpcError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


def error_from_code(code: str) -> type[errors.MpcError]:
    """The error class with this stable ``code``; :class:`MpcError` for an unknown code."""
    for cls in _all_subclasses(errors.MpcError):
        if cls.code == code:
            return cls
    return errors.MpcError
