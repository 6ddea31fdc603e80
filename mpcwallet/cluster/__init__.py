"""The t-of-n signer cluster: configuration, node keys and (next) the coordinator.

Imports ``session`` and ``store`` (below it), never ``cli``.
"""
