"""Structured co-signer logs: JSON lines to ``cosigner.log``, text on stderr in the foreground.

Only whitelisted context fields are emitted (session id, op, key id, round, ...); a protocol
run's lines all carry ``session``, ``op``, ``key_id`` and ``round``. Callers never pass secrets:
no share, passphrase, token, session key or protocol payload is a field here.

Some fields and messages carry a peer's words (a typed-data domain name, a refusal's text), so
every string is bounded and escaped here, whoever logs it (:func:`clean`): at most
:data:`MAX_TEXT` characters, and control, format and line-separator characters shown as
``\\xNN``/``\\uNNNN``, so that no peer can write a long line, a fake line, or terminal escapes
into ``cosigner.log``, the foreground's stderr, or the audit trail.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

from mpcwallet.storage.files import ensure_dir

LOGGER_NAME = "mpcwallet.cosigner"
AUDIT_LOGGER_NAME = "mpcwallet.cosigner.audit"

FIELDS = (
    "event",
    "session",
    "op",
    "key_id",
    "round",
    "direction",
    "size",
    "code",
    "chain_id",
    "to",
    "value",
    "selector",
    "tx_type",
    "digest",
    "address",
    "remote",
    "host",
    "port",
    "pid",
    "engine",
    "removed",
    # accounts, messages and typed data (summaries only, never the message itself)
    "account",
    "kind",
    "message_length",
    "domain_name",
    "verifying_contract",
    "primary_type",
)


MAX_TEXT = 256
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters (the rest counted) with every character that could
    move the cursor, end a line, reorder text or hide escaped (C0/C1 controls, Unicode formats
    such as U+202E, line and paragraph separators)."""
    cut = text[:limit]
    if cut.isascii() and cut.isprintable():
        out = cut
    elif cut.isascii():
        out = _ASCII_CONTROL.sub(lambda m: _escape(m.group()), cut)
    else:
        out = "".join(
            _escape(ch) if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cn") else ch
            for ch in cut
        )
    return out if len(text) <= limit else f"{out}...(+{len(text) - limit} chars)"


def _clean_value(value: Any) -> Any:
    return clean(value) if isinstance(value, str) else value


def _context(record: logging.LogRecord) -> dict[str, Any]:
    ctx = getattr(record, "ctx", None)
    if not isinstance(ctx, dict):
        return {}
    return {k: _clean_value(ctx[k]) for k in FIELDS if k in ctx}


def _message(record: logging.LogRecord) -> str:
    return clean(record.getMessage(), 2 * MAX_TEXT)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _message(record),
        }
        doc.update(_context(record))
        return json.dumps(doc, sort_keys=True, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = " ".join(f"{k}={v}" for k, v in _context(record).items())
        return f"{record.levelname.lower():7} {_message(record)} {ctx}".rstrip()


def setup(log_file: Path, *, foreground_text: bool) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    ensure_dir(log_file.parent)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setFormatter(JsonFormatter())
    logger.addHandler(file_handler)
    if foreground_text:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(TextFormatter())
        logger.addHandler(stream)
    # aiohttp's access log would add request lines without our context; keep it quiet.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return logger


def log(event: str, msg: str, *, level: int = logging.INFO, **ctx: Any) -> None:
    logging.getLogger(LOGGER_NAME).log(level, msg, extra={"ctx": {"event": event, **ctx}})


_trail: Any = None  # an mpcwallet.cosigner.audit.AuditTrail once the guard is set up


def set_audit_trail(trail: Any) -> None:
    """Route every :func:`audit` call into the hash-chained trail as well (None: stop)."""
    global _trail
    _trail = trail


def audit(event: str, msg: str, **ctx: Any) -> None:
    """An audit event (keygen/sign started, completed, failed, ...): a log line and, when the
    co-signer's trail is set, a hash-chained record (whitelisted fields only)."""
    logging.getLogger(AUDIT_LOGGER_NAME).info(msg, extra={"ctx": {"event": event, **ctx}})
    if _trail is not None:
        _trail.append(event, clean(msg, 2 * MAX_TEXT), {k: _clean_value(v) for k, v in ctx.items()})
