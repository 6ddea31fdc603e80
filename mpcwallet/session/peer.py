"""The client's view of its co-signer: which one it must be, how the client proves itself, and
pairing with a co-signer on another machine.

* A local client (same machine, same ``MPC_HOME``) needs no pairing: it reads the token
  (``cosigner/auth.token``), the co-signer's install id and its static public key
  (``cosigner/static.key``) from the home.
* A paired client uses its pairing record (``MPC_HOME/pairing.json``): the URL, its own client
  id and secret, the co-signer's install id and the static key it pinned at pairing.

The pinned static key is what the Noise handshake authenticates (pattern NKpsk0, see
:mod:`mpcwallet.session.secure`): another client, which holds a secret of its own but not the
co-signer's static private key, cannot pass for the co-signer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpcwallet.config import mpc_home
from mpcwallet.errors import PeerUnreachable, SessionViolation, WrongCosigner
from mpcwallet.homes.paths import CosignerPaths


@dataclass(frozen=True, repr=False)
class Credentials:
    """How this home opens a keygen or health session."""

    client_id: str | None  # None: the local client
    secret: bytes  # secret: the PSK
    cosigner_static: bytes  # the co-signer's static public key this home pins

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id})"


def _local_static(home: Path) -> bytes:
    from mpcwallet.homes.token import read_static_key
    from mpcwallet.session.secure import static_public

    return static_public(read_static_key(CosignerPaths.for_home(home).static_key_file))


def pinned_static_key(home: Path | None = None) -> bytes:
    """The co-signer static public key this home pins: the pairing record's, else the local
    co-signer's (read from the home)."""
    from mpcwallet.homes.pairing import read_pairing

    home = home or mpc_home()
    record = read_pairing(home)
    if record is not None:
        return record.cosigner_static
    return _local_static(home)


def pairing_credentials(home: Path | None = None, token: bytes | None = None) -> Credentials:
    """This home's credentials; ``token`` overrides the secret as a local client's."""
    from mpcwallet.homes.pairing import read_pairing
    from mpcwallet.homes.token import read_token

    home = home or mpc_home()
    if token is not None:
        return Credentials(None, token, pinned_static_key(home))
    record = read_pairing(home)
    if record is not None:
        return Credentials(record.client_id, record.secret, record.cosigner_static)
    paths = CosignerPaths.for_home(home)
    return Credentials(None, read_token(paths.token_file), _local_static(home))


def expected_install_id(home: Path | None = None) -> tuple[str | None, str]:
    """The install id this home's co-signer must report, and where it comes from."""
    from mpcwallet.homes.pairing import pairing_file, read_pairing
    from mpcwallet.session.install_id import INSTALL_ID_FILE, ensure_install_id

    home = home or mpc_home()
    record = read_pairing(home)
    if record is not None:
        return record.install_id, f"the pairing record {pairing_file(home)}"
    path = CosignerPaths.for_home(home).root / INSTALL_ID_FILE
    # Read, never create: a home that never ran a co-signer has no id to expect.
    return (ensure_install_id(path) if path.exists() else None), str(path)


def check_cosigner_identity(
    endpoint: str, doc: Mapping[str, Any], home: Path | None = None
) -> None:
    """:class:`WrongCosigner` unless ``doc`` (a ``/healthz`` answer) comes from this home's
    co-signer."""
    home = home or mpc_home()
    expected, source = expected_install_id(home)
    got = doc.get("install_id")
    if expected is not None and got == expected:
        return
    if expected is None:
        why = (
            f"this MPC_HOME ({home}) has never run a co-signer and is not paired with one "
            f"(no {source})"
        )
    else:
        why = f"it reports install id {got!r}, this MPC_HOME ({home}) expects {expected} ({source})"
    raise WrongCosigner(
        f"the co-signer at {endpoint} is not the one of this MPC_HOME: {why}. Unset "
        "MPC_COSIGNER_URL or point it at this home's co-signer, start this home's own with "
        "`mpc cosigner start`, or pair with `mpc pair --url URL`",
        field="MPC_COSIGNER_URL" if os.environ.get("MPC_COSIGNER_URL") else "endpoint",
    )


def run_pair(endpoint: str, code_text: str, *, timeout: float = 10.0) -> Any:
    """Pair this home with the co-signer at ``endpoint`` using a one-time code; the stored
    :class:`~mpcwallet.homes.pairing.PairingRecord` on return.

    The session is authenticated by a PSK derived from the code (auth mode ``code``) and by the
    static key ``/healthz`` names (only the co-signer holds both the code's PSK and that key's
    private half, so a substituted key fails the handshake). Over it the co-signer sends this
    client's id and own secret (sealed under a key from this session) and its install id, which
    are written with the pinned static key to ``MPC_HOME/pairing.json`` (0600, atomic).
    """
    import asyncio

    from mpcwallet.homes.pairing import PairingRecord, parse_code, unwrap_token, write_pairing
    from mpcwallet.session.channel import Channel
    from mpcwallet.session.client_core import _expect, _with_session
    from mpcwallet.session.endpoint import fetch_healthz, parse_endpoint

    parse_endpoint(endpoint)
    code = parse_code(code_text)
    status, doc = fetch_healthz(endpoint)
    try:
        static = bytes.fromhex(str(doc.get("static_key")))
    except ValueError:
        static = b""
    if status != 200 or not isinstance(doc.get("install_id"), str) or len(static) != 32:
        raise PeerUnreachable(
            f"{endpoint} did not answer /healthz as a co-signer of this release (HTTP {status}): "
            f"{str(doc.get('error', doc.get('message', '')))[:200]}"
        )
    engine = str(doc.get("engine"))
    healthz_id = str(doc["install_id"])

    async def run(ch: Channel) -> PairingRecord:
        await ch.send_control({"op": "pair"})
        answer = await ch.recv_control()
        _expect(answer, "paired")
        wrap_key = ch.keys.per_key_secret(f"pairing:{code.code_id}", b"")
        secret = unwrap_token(wrap_key, answer.get("secret"))
        client_id = answer.get("client_id")
        from mpcwallet.homes.paths import CLIENT_ID_RE

        if not (isinstance(client_id, str) and CLIENT_ID_RE.fullmatch(client_id)):
            raise SessionViolation("the co-signer sent a malformed client id")
        if answer.get("install_id") != healthz_id:
            raise SessionViolation("the co-signer's install id differs between healthz and session")
        return PairingRecord(endpoint.rstrip("/"), client_id, secret, healthz_id, engine, static)

    record = asyncio.run(
        _with_session(
            endpoint,
            secret=code.psk(),
            engine=engine,
            auth="code",
            key_id=code.code_id,
            round_timeout=timeout,
            body=run,
            check_identity=False,
            cosigner_static=static,
        )
    )
    write_pairing(mpc_home(), record)
    return record
