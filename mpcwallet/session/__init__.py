"""The wire between the client and the co-signer: Noise handshake, encrypted frames, engine bridge.

See :mod:`mpcwallet.session.wire` for the format and :mod:`mpcwallet.session.client` for the
client API (``run_keygen``, ``run_sign``, ``run_refresh``, ``health``).
"""
