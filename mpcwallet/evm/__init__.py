"""EVM: tx.json, digests, signature assembly, addresses, ERC-20 calldata, JSON-RPC.

Nothing here does terminal I/O or imports ``mpcwallet.cli``. ``rpc`` is the only module that
talks to the network and is imported only when an endpoint is used.
"""
