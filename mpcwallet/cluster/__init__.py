"""The t-of-n signer cluster's coordinator: CreateKeyset, SignTx, Refresh, relay, metrics, HTTP.

Imports ``session`` and ``store`` (below it), never ``cli``.
"""
