"""Fixtures for engine tests: one ``engine`` parameter per name in ENGINE_NAMES.

cb-mpc may be absent on a machine (it is on no package registry): its tests skip with a reason.
Every other engine must load; if it does not, the tests fail.
"""

from __future__ import annotations

import pytest

from mpcwallet.engine import ENGINE_NAMES, Engine, get_engine
from mpcwallet.engine.memory import run_two_party
from mpcwallet.errors import EngineUnavailable

CBMPC_MISSING = "cb-mpc engine not installed (mpcwallet._cbmpc missing); see README"


def load_engine(name: str) -> Engine:
    try:
        return get_engine(name)
    except EngineUnavailable:
        if name == "cb-mpc":
            pytest.skip(CBMPC_MISSING)
        raise


@pytest.fixture(scope="module", params=ENGINE_NAMES)
def engine(request: pytest.FixtureRequest) -> Engine:
    return load_engine(str(request.param))


@pytest.fixture(scope="module")
def engine_keys(engine: Engine) -> tuple[Engine, bytes, bytes]:
    """One two-party keygen per engine and module: (engine, P1 blob, P2 blob)."""
    blob1, blob2 = run_two_party(engine.dkg, engine.dkg, timeout=60)
    return engine, blob1, blob2
