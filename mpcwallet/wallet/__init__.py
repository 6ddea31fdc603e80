"""The wallet's use cases, under every front end (``mpc`` in :mod:`mpcwallet.cli`, ``mpc serve``
in :mod:`mpcwallet.api`).

Each use case takes plain arguments, returns a typed result or a JSON-ready dict, raises the
error tree (:mod:`mpcwallet.errors`) and does no terminal I/O: what a front end shows or asks
goes through the two ports of :mod:`mpcwallet.wallet.ports` (``Ui`` for progress, notes and the
confirmation; ``Keyring`` for passphrases and unlocked shares).
"""
