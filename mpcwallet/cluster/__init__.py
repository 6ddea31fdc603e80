"""The t-of-n signer cluster's coordinator: CreateKeyset, SignTx, Refresh, the relay, metrics, HTTP API.

Imports ``session`` and ``store`` (below it), never ``cli``.
"""
