"""Published Noise test vectors for our exact pattern, through our handshake configuration.

The vectors (``data/noise_vectors.json``, source named inside) fix both ephemerals and the
responder's static key (NKpsk0: the initiator knows it beforehand), so every handshake message,
the handshake hash (our session id) and every transport message must match byte for byte.
``secure.start_handshake`` is the one function our sessions use to set up Noise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mpcwallet.session import secure

DATA = json.loads((Path(__file__).parent / "data" / "noise_vectors.json").read_text())


def _vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = DATA["vectors"]
    assert vectors and all(v["protocol_name"] == secure.PROTOCOL_NAME.decode() for v in vectors)
    return vectors


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: v["protocol_name"])
def test_vector(vector: dict[str, Any]) -> None:
    assert DATA["source"].startswith("cacophony")
    init = secure.start_handshake(
        initiator=True,
        psk=bytes.fromhex(vector["init_psks"][0]),
        prologue=bytes.fromhex(vector["init_prologue"]),
        static_key=bytes.fromhex(vector["init_remote_static"]),
        ephemeral=bytes.fromhex(vector["init_ephemeral"]),
    )
    resp = secure.start_handshake(
        initiator=False,
        psk=bytes.fromhex(vector["resp_psks"][0]),
        prologue=bytes.fromhex(vector["resp_prologue"]),
        static_key=bytes.fromhex(vector["resp_static"]),
        ephemeral=bytes.fromhex(vector["resp_ephemeral"]),
    )
    # The pinned key is the responder's public key (our static_public derives it).
    pinned = secure.static_public(bytes.fromhex(vector["resp_static"]))
    assert pinned.hex() == vector["init_remote_static"]
    messages = vector["messages"]
    # Handshake: -> psk, e, es  then  <- e, ee
    for i, (writer, reader) in enumerate(((init, resp), (resp, init))):
        payload, ciphertext = (bytes.fromhex(messages[i][k]) for k in ("payload", "ciphertext"))
        assert bytes(writer.write_message(payload)) == ciphertext
        assert bytes(reader.read_message(ciphertext)) == payload
    keys_i = secure.SessionKeys.from_connection(init, initiator=True)
    keys_r = secure.SessionKeys.from_connection(resp, initiator=False)
    assert keys_i.session_id.hex() == keys_r.session_id.hex() == vector["handshake_hash"]
    assert keys_i._split == keys_r._split
    # Transport messages alternate, initiator first (cacophony's convention).
    for n, msg in enumerate(messages[2:]):
        writer, reader = (init, resp) if n % 2 == 0 else (resp, init)
        payload, ciphertext = bytes.fromhex(msg["payload"]), bytes.fromhex(msg["ciphertext"])
        assert bytes(writer.encrypt(payload)) == ciphertext
        assert bytes(reader.decrypt(ciphertext)) == payload
