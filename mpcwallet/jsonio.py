"""The one bounded, strict JSON loader for every input (files, flags, wire bodies).

Python's :mod:`json` accepts things a hostile input uses against us, so every JSON input goes
through :func:`loads` or :func:`load_file`, which refuse:

* more than ``max_bytes`` bytes (a file is never read past ``max_bytes + 1`` bytes, and a
  non-regular file such as ``/dev/zero`` or a FIFO, even behind a symlink, is refused unread);
* nesting deeper than ``max_depth`` (checked by an iterative scan *before* parsing, so the
  recursive C decoder never raises RecursionError);
* integers longer than ``max_int_digits`` digits (checked before conversion, so Python's
  integer-string limit never raises ValueError) and floats that are not finite;
* ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON, though Python emits and accepts them);
* duplicate object keys (Python keeps the last one silently, a human reader sees the first);
* strings that are not valid Unicode (lone surrogates from ``\\ud800`` escapes), which would
  crash later when printed or encoded.

Every refusal is a :class:`~mpcwallet.errors.FileFormatError` (code ``bad_file``) or, with
``error=BadInput``, a :class:`~mpcwallet.errors.BadInput` (code ``bad_input``) (any error class
of the tree may be given, e.g. ``SessionViolation`` for a peer's frame), whose message
names ``what`` (the file or field) and, where there is one, the JSON path of the offending value.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any, NoReturn

from mpcwallet.errors import BadInput, FileFormatError, MpcError, NotFound

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_INT_DIGITS",
    "load_file",
    "loads",
    "read_bounded",
]

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 64
# uint256 has 78 decimal digits; anything longer is never a valid amount, nonce or size.
DEFAULT_MAX_INT_DIGITS = 80
_MAX_FLOAT_CHARS = 64


class _BadNumber:
    """Stands in for a number we refuse to convert; reported with its path after parsing."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Refused(Exception):
    """Raised from inside a json hook; converted to the caller's error class."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def _fail(error: type[MpcError], what: str, reason: str, field: str | None) -> NoReturn:
    raise error(f"{what}: {reason}", field=field)


def _depth_exceeds(text: str, max_depth: int) -> bool:
    """True if ``text`` nests ``[``/``{`` deeper than ``max_depth`` outside strings.

    An iterative scan: brackets inside strings (and escaped quotes) do not count. Malformed
    text is left for the parser to report.
    """
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif ch in "]}" and depth > 0:
            depth -= 1
    return False


def _path_str(path: list[str | int]) -> str:
    if not path:
        return "(top level)"
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _check_values(obj: Any) -> None:
    """Iteratively find numbers too long to convert and strings that are not valid Unicode."""
    stack: list[tuple[Any, list[str | int]]] = [(obj, [])]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _BadNumber):
            raise _Refused(
                f"the number at {_path_str(path)} {value.reason}",
                _path_str(path) if path else None,
            )
        if isinstance(value, str):
            _check_unicode(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_unicode(key, path)
                stack.append((item, [*path, key]))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                stack.append((item, [*path, i]))


def _check_unicode(text: str, path: list[str | int]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused(
            f"the string at {_path_str(path)} is not valid Unicode (lone surrogate escape)",
            _path_str(path) if path else None,
        ) from None


def loads(
    data: bytes | str,
    *,
    what: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_int_digits: int = DEFAULT_MAX_INT_DIGITS,
    error: type[MpcError] = FileFormatError,
    field: str | None = None,
) -> Any:
    """Parse ``data`` as strict JSON within the bounds above; ``what`` names it in errors.

    ``field`` is the error's ``field`` for refusals of the whole document (size, syntax,
    depth); a refused value inside the document gets its JSON path as ``field`` instead.
    """
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if size > max_bytes:
        _fail(error, what, f"larger than {max_bytes} bytes; this is not the expected input", field)
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            _fail(error, what, f"not UTF-8 text (byte offset {exc.start})", field)
    else:
        text = data
    if text.startswith("\ufeff"):
        text = text[1:]  # a UTF-8 byte order mark some editors write
    if text.count("[") + text.count("{") > max_depth and _depth_exceeds(text, max_depth):
        _fail(error, what, f"nested deeper than {max_depth} levels; not the expected input", field)

    def parse_int(s: str) -> int | _BadNumber:
        digits = len(s) - (1 if s.startswith("-") else 0)
        if digits > max_int_digits:
            return _BadNumber(
                f"has {digits} digits (at most {max_int_digits}); give a smaller value"
            )
        return int(s)

    def parse_float(s: str) -> float | _BadNumber:
        if len(s) > _MAX_FLOAT_CHARS:
            return _BadNumber(f"is {len(s)} characters long (at most {_MAX_FLOAT_CHARS})")
        value = float(s)
        if not math.isfinite(value):
            return _BadNumber("is out of range (not a finite number)")
        return value

    def parse_constant(name: str) -> NoReturn:
        raise _Refused(f"{name} is not a JSON number; give a finite number")

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                shown = key.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
                raise _Refused(
                    f"key {shown[:80]!r} appears twice; remove the duplicate", key[:80] or None
                )
            out[key] = value
        return out

    try:
        obj = json.loads(
            text,
            parse_int=parse_int,
            parse_float=parse_float,
            parse_constant=parse_constant,
            object_pairs_hook=pairs_hook,
        )
        _check_values(obj)
    except _Refused as exc:
        _fail(error, what, exc.reason, exc.field or field)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        _fail(error, what, f"not valid JSON ({exc.msg}, {where})", field)
    except (ValueError, RecursionError):  # defensive: bounds above should make these unreachable
        _fail(error, what, "not valid JSON", field)
    return obj


def read_bounded(
    path: Path | str,
    *,
    what: str,
    max_bytes: int,
    error: type[MpcError] = FileFormatError,
    field: str | None = None,
) -> bytes:
    """The bytes of the regular file ``path`` (symlinks followed), at most ``max_bytes``.

    Opens without blocking (a FIFO never hangs us), refuses anything that is not a regular file
    before reading it, and never reads more than ``max_bytes + 1`` bytes. ``-`` is standard
    input (read to its end, bounded the same way).
    """
    if str(path) == STDIN:
        return _read_stdin(what=what, max_bytes=max_bytes, error=error, field=field)
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise NotFound(f"{what} {path} does not exist; check the path", field=field) from None
    except IsADirectoryError:
        raise BadInput(f"{what} {path} is a directory; give a file", field=field) from None
    except OSError as exc:
        raise BadInput(
            f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}", field=field
        ) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise BadInput(f"{what} {path} is a directory; give a file", field=field)
        if not stat.S_ISREG(st.st_mode):
            raise error(
                f"{what} {path} is not a regular file (a device, FIFO or socket); give a file",
                field=field,
            )
        if st.st_size > max_bytes:
            raise error(
                f"{what} {path} is larger than {max_bytes} bytes; this is not the expected file",
                field=field,
            )
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0:
            try:
                chunk = os.read(fd, min(remaining, 1024 * 1024))
            except OSError as exc:
                raise BadInput(
                    f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}",
                    field=field,
                ) from None
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise error(
            f"{what} {path} is larger than {max_bytes} bytes; this is not the expected file",
            field=field,
        )
    return data


STDIN = "-"


def _read_stdin(*, what: str, max_bytes: int, error: type[MpcError], field: str | None) -> bytes:
    import sys

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise BadInput(f"{what}: - means standard input, and there is none", field=field)
    data: bytes = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{what} on standard input is larger than {max_bytes} bytes", field=field)
    return data


def load_file(
    path: Path | str,
    *,
    what: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_int_digits: int = DEFAULT_MAX_INT_DIGITS,
    field: str | None = None,
) -> Any:
    """:func:`read_bounded` then :func:`loads`; errors name ``what`` and the path."""
    data = read_bounded(path, what=what, max_bytes=max_bytes, field=field)
    return loads(
        data,
        what=f"{what} {path}",
        max_bytes=max_bytes,
        max_depth=max_depth,
        max_int_digits=max_int_digits,
        field=field,
    )
