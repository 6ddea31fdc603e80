"""What happens after signing: the record of sent transactions, nonces, broadcast, confirmation,
finality and reorgs, replacement (speed-up, cancel), and the deposit listener.

Used by :mod:`mpcwallet.wallet` (the CLI and ``mpc serve``) and, later, by the WaaS service.
Nothing here does terminal I/O or imports ``wallet``/``cli``; progress goes through an
``on_event`` callback, state through a :class:`~mpcwallet.chain.store.ChainStore`.

- :mod:`.rules`: the states and the per-chain rule (CONFIRMED after N blocks, FINALIZED at the
  node's ``finalized`` block or, without that tag, at a depth);
- :mod:`.store`: the record (SQLite in ``MPC_HOME/chain.db``; plain SQL a server store can
  implement);
- :mod:`.node`: the JSON-RPC reads this layer needs (receipts, canonical hashes, finality);
- :mod:`.tracker`: one poll of a sent transaction (reorgs, re-broadcast, replacement) and the
  wait for a state;
- :mod:`.outgoing`: record-then-send, the nonce guard, duplicates, replacement fees;
- :mod:`.deposits`: the deposit listener.
"""
