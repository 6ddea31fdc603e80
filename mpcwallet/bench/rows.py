"""Row names of the session benchmarks and the note ``mpc bench`` derives from them (pure, a leaf:
:mod:`mpcwallet.bench` and :mod:`mpcwallet.bench.session` both import it)."""

from __future__ import annotations

SIGN = "session sign (real co-signer)"
HANDSHAKE = "Noise handshake (in that session)"
CPU = "Noise handshake CPU (no network)"


def handshake_share(medians_ms: dict[str, float]) -> str | None:
    """'Noise handshake: X ms of a Y ms session sign (Z %)', from the measured medians."""
    sign = next((v for k, v in medians_ms.items() if k.startswith(SIGN)), None)
    hs = next((v for k, v in medians_ms.items() if k.startswith(HANDSHAKE)), None)
    if not sign or hs is None:
        return None
    cpu = medians_ms.get(CPU)
    tail = f"; its computation alone {cpu:.2f} ms" if cpu is not None else ""
    return (
        f"Noise handshake: {hs:.2f} ms of a {sign:.1f} ms session sign "
        f"({100 * hs / sign:.1f} %){tail}"
    )
