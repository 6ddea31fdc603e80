"""JSON log lines of ``mpc serve`` on stderr: one object per line, never a secret.

Every line has ``ts``, ``level`` and ``event``; request lines carry the request id (also
returned as ``X-Request-Id``), route, status and duration; steps and notes of a use case carry
the request id of the request they belong to (a context variable). Values are the few fields
each call site passes: no request or response bodies, no headers, no tracebacks.
"""

from __future__ import annotations

import contextvars
import json
import sys
import threading
import time
from typing import Any, TextIO

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mpc_api_request_id", default=None
)
_lock = threading.Lock()
_stream: TextIO | None = None


def set_stream(stream: TextIO | None) -> None:
    global _stream
    _stream = stream


def log(event: str, *, level: str = "info", **fields: Any) -> None:
    now = time.time()
    line: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        + f".{int(now * 1000) % 1000:03d}Z",
        "level": level,
        "event": event,
    }
    rid = request_id.get()
    if rid is not None and "request_id" not in fields:
        line["request_id"] = rid
    line.update({k: v for k, v in fields.items() if v is not None})
    text = json.dumps(line, default=str, separators=(",", ":"))
    stream = _stream or sys.stderr
    with _lock:
        stream.write(text + "\n")
        stream.flush()
