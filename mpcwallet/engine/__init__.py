"""Engine registry.

Two-party: ``cb-mpc`` when the native module ``mpcwallet._cbmpc`` imports, else ``portable``;
``MPC_ENGINE`` overrides the default. Multi-party (t-of-n, :mod:`mpcwallet.engine.base_mp`):
cb-mpc only, :func:`get_mp_engine`. Engines are imported lazily so that ``mpc --help`` stays
fast and a machine without cb-mpc never tries to load it until asked.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from mpcwallet.engine.base import Engine, Job, Role, Transport
from mpcwallet.errors import BadInput, EngineUnavailable

__all__ = [
    "ENGINE_NAMES",
    "Engine",
    "Job",
    "Role",
    "Transport",
    "available_engines",
    "default_engine_name",
    "get_engine",
    "get_mp_engine",
]

# name -> (module, class). Order is preference order for the default.
_ENGINES: dict[str, tuple[str, str]] = {
    "cb-mpc": ("mpcwallet.engine.cbmpc", "CbMpcEngine"),
    "portable": ("mpcwallet.engine.portable", "PortableEngine"),
}
ENGINE_NAMES = tuple(_ENGINES)
# Multi-party engines: name -> (module, class). The portable engine is two-party only.
_MP_ENGINES: dict[str, tuple[str, str]] = {
    "cb-mpc": ("mpcwallet.engine.cbmpc_mp", "CbMpcMpEngine"),
}

if TYPE_CHECKING:
    from mpcwallet.engine.base_mp import MpEngine

_cache: dict[str, Engine] = {}


def _load(name: str) -> Engine:
    if name in _cache:
        return _cache[name]
    module_name, cls_name = _ENGINES[name]
    try:
        module = importlib.import_module(module_name)
        engine: Engine = getattr(module, cls_name)()
    except (ImportError, AttributeError) as exc:
        raise EngineUnavailable(
            f"engine {name!r} is not installed here ({type(exc).__name__}); "
            "see README.md#engines-cb-mpc-and-portable for how to build the cb-mpc extension"
            if name == "cb-mpc"
            else f"engine {name!r} failed to load ({type(exc).__name__})"
        ) from None
    _cache[name] = engine
    return engine


def get_engine(name: str) -> Engine:
    """The engine called ``name``; :class:`EngineUnavailable` if it cannot load here."""
    if name not in _ENGINES:
        raise BadInput(
            f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}", field="engine"
        )
    return _load(name)


def available_engines() -> list[str]:
    """Names of the engines that load on this machine, in preference order."""
    out = []
    for name in ENGINE_NAMES:
        try:
            _load(name)
        except EngineUnavailable:
            continue
        out.append(name)
    return out


def default_engine_name() -> str:
    """``MPC_ENGINE`` if set, else the first available engine."""
    chosen = os.environ.get("MPC_ENGINE")
    if chosen:
        get_engine(chosen)  # validates the name and that it loads
        return chosen
    engines = available_engines()
    if not engines:
        raise EngineUnavailable("no engine loads on this machine")
    return engines[0]


def get_mp_engine(name: str = "cb-mpc") -> MpEngine:
    """The multi-party (t-of-n) engine called ``name``. Only cb-mpc has one: asking another
    engine is :class:`BadInput`, and cb-mpc missing here is :class:`EngineUnavailable`."""
    if name not in _MP_ENGINES:
        if name in _ENGINES:
            raise BadInput(
                f"engine {name!r} is two-party only; t-of-n keys need the cb-mpc engine "
                "(coinbase::api::ecdsa_mp), see the README's engines section "
                "(README.md#engines-cb-mpc-and-portable)",
                field="engine",
            )
        raise BadInput(f"unknown engine {name!r}; t-of-n keys need cb-mpc", field="engine")
    module_name, cls_name = _MP_ENGINES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise EngineUnavailable(
            "t-of-n keys need the cb-mpc engine, which is not installed here "
            "(mpcwallet._cbmpc missing); see README.md#engines-cb-mpc-and-portable for how to "
            "build it"
        ) from None
    engine: MpEngine = getattr(module, cls_name)()
    return engine
