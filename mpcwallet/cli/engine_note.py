"""Honest status: which engine holds the key, and what that means for the portable one."""

from __future__ import annotations

from typing import Any

CBMPC_DOC = "README.md#engines-cb-mpc-and-portable"


def engine_facts(engine: str | None) -> dict[str, Any]:
    """For --json: ``engine_constant_time`` and, on the portable engine, a pointer to cb-mpc."""
    if engine == "portable":
        return {"engine_constant_time": False, "engine_note": portable_note()}
    return {"engine_constant_time": engine == "cb-mpc"}


def cbmpc_status() -> dict[str, Any]:
    """For --json ``cbmpc`` and the human line: is cb-mpc installed here, and if not, why."""
    from mpcwallet.engine.status import cbmpc_status as status

    return status()


def portable_note() -> str:
    return (
        "the portable engine is not constant-time (timing may leak key bits); for keys that "
        f"hold real value use cb-mpc: see {CBMPC_DOC}"
    )


def tell(engine: str | None) -> None:
    """In human mode, the one-line warning on stderr for the portable engine."""
    from mpcwallet.cli.output import out

    if engine == "portable" and not out().json_mode:
        out().warn(portable_note())
