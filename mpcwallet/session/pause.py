"""A test hook: stop the process at a named step so a test can kill it exactly there.

With ``MPC_TEST_PAUSE_AT=<step>`` and ``MPC_TEST_PAUSE_DIR=<dir>``, reaching ``<step>`` writes
``<dir>/<step>.reached`` (containing the pid) and blocks until ``<dir>/<step>.release`` exists.
Without both variables this is a no-op. It never touches secrets.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def pause_point(step: str) -> None:
    if os.environ.get("MPC_TEST_PAUSE_AT") != step:
        return
    where = os.environ.get("MPC_TEST_PAUSE_DIR")
    if not where:
        return
    directory = Path(where)
    (directory / f"{step}.reached").write_text(str(os.getpid()))
    release = directory / f"{step}.release"
    while not release.exists():
        time.sleep(0.05)
