"""Which generation of each key a co-signer backup may bring back (issue 20.7).

A co-signer backup made before a refresh holds the old generation of that key. Restored, it
makes every client share from before the refresh sign again (a thief's copy included), and the
current client share stops working. The backup cannot vouch for itself, so the latest
generation of each key has to come from outside it:

* the co-signer share already in this home (never replaced by an older one);
* a client share of the key in this ``MPC_HOME/shares`` (its clear header names the generation);
* ``--expect-generation KEY_ID=N``, from the client's ``mpc keys`` (or the old co-signer's
  ``mpc cosigner keys``).

A key whose backed-up generation is older than any of these is refused (``stale_share``); a key
none of them knows is refused too (``bad_input``), unless the operator passes ``--allow-older``,
which restores it anyway and reports each such key and generation. Nothing is written when a
key is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mpcwallet.config import shares_dir
from mpcwallet.errors import BadInput, MpcError, StaleShare
from mpcwallet.homes.paths import CosignerPaths, check_key_id
from mpcwallet.storage.generation import MAX_GENERATION, generation_of

RUNBOOK = "docs/runbooks.md, lost co-signer machine"


def parse_expected(values: Iterable[str]) -> dict[str, int]:
    """``KEY_ID=N`` strings (``--expect-generation``) as a mapping; :class:`BadInput` else."""
    out: dict[str, int] = {}
    for value in values:
        match = re.fullmatch(r"\s*([0-9a-fA-F]{32})\s*=\s*([0-9]{1,19})\s*", value)
        if match is None or int(match.group(2)) > MAX_GENERATION:
            raise BadInput(
                f"--expect-generation {value[:80]!r}: give KEY_ID=N, the key id (32 hex digits) "
                "and its generation as the client's `mpc keys` shows them",
                field="expect_generation",
            )
        key_id, generation = check_key_id(match.group(1).lower()), int(match.group(2))
        if out.get(key_id, generation) != generation:
            raise BadInput(
                f"--expect-generation names key {key_id} twice with different generations",
                field="expect_generation",
            )
        out[key_id] = generation
    return out


def client_generations() -> dict[str, tuple[int, str]]:
    """Key id -> (generation, share path) of the client shares in this MPC_HOME."""
    from mpcwallet.storage.store import load_header

    found: dict[str, tuple[int, str]] = {}
    directory = shares_dir()
    for path in sorted(directory.glob("*.enc")) if directory.is_dir() else []:
        try:
            header = load_header(path)
            key_id = str(header.get("key_id"))
            generation = generation_of(header)
        except MpcError:
            continue
        if found.get(key_id, (-1, ""))[0] < generation:
            found[key_id] = (generation, str(path))
    return found


def held_generation(paths: CosignerPaths, key_id: str) -> int | None:
    """The generation of the co-signer share already in this home (clear header), if any."""
    from mpcwallet.storage.store import load_header

    path = paths.share_file(key_id)
    if not path.exists():
        return None
    return generation_of(load_header(path), where=f"the co-signer's share {key_id}")


@dataclass
class Plan:
    present: dict[str, int] = field(default_factory=dict)  # already held here (key -> gen)
    unchecked: list[dict[str, Any]] = field(default_factory=list)  # restored on --allow-older


def check_restore(
    paths: CosignerPaths,
    headers: Iterable[Mapping[str, Any]],
    expected: Mapping[str, int],
    *,
    allow_older: bool,
) -> Plan:
    """Refuse (nothing written yet) any key the backup would bring back older than its latest
    known generation, or whose latest generation nobody here knows, unless ``allow_older``."""
    headers = list(headers)
    in_backup = {str(h["key_id"]) for h in headers}
    stray = sorted(set(expected) - in_backup)
    if stray:
        raise BadInput(
            f"--expect-generation names key(s) the backup does not hold: {', '.join(stray)}",
            field="expect_generation",
        )
    clients = client_generations()
    plan = Plan()
    unknown: list[str] = []
    for header in headers:
        key_id = str(header["key_id"])
        mine = generation_of(header)
        held = held_generation(paths, key_id)
        if held is not None and held > mine:
            raise StaleShare(
                f"the backup holds generation {mine} of key {key_id}, but this co-signer already "
                f"holds generation {held}: the backup predates a refresh. Use a co-signer "
                f"backup made after the last refresh ({RUNBOOK}).",
                field="in",
            )
        if held is not None:
            plan.present[key_id] = held
        known: list[tuple[int, str]] = []
        if held is not None:
            known.append((held, "this co-signer"))
        if key_id in clients:
            known.append((clients[key_id][0], f"the client share {clients[key_id][1]}"))
        if key_id in expected:
            if expected[key_id] < mine:
                raise BadInput(
                    f"--expect-generation {key_id}={expected[key_id]}, but the backup holds "
                    f"generation {mine}, a newer one: check the value (`mpc keys` on the client)",
                    field="expect_generation",
                )
            known.append((expected[key_id], "--expect-generation"))
        latest = max(known, default=None)
        if latest is not None and latest[0] > mine and not allow_older:
            raise StaleShare(
                f"the backup holds generation {mine} of key {key_id}, but {latest[1]} says "
                f"generation {latest[0]}: the backup predates a refresh, and restoring it would "
                "let client shares from before that refresh sign again. Use a co-signer backup "
                f"made after the last refresh ({RUNBOOK}).",
                field="in",
            )
        if latest is None and not allow_older:
            unknown.append(f"{key_id} (generation {mine} in the backup)")
        if allow_older and (latest is None or latest[0] > mine):
            newest = None if latest is None else latest[0]
            plan.unchecked.append({"key_id": key_id, "generation": mine, "latest": newest})
    if unknown:
        raise BadInput(
            "nothing here says which generation is the latest for key(s) "
            f"{'; '.join(unknown)}: a backup made before a refresh would bring back the old "
            "generation and let stolen pre-refresh client shares sign again. Give "
            "--expect-generation KEY_ID=N for each key (the client's `mpc keys` shows them), or "
            "--allow-older to restore them unchecked.",
            field="expect_generation",
        )
    return plan
