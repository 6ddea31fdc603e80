"""The life of a key after keygen: names, generations, refresh, retirement, quarantine.

Client-side flows the CLI calls (``cli/`` only parses and prints); pure helpers the co-signer
shares (:mod:`mpcwallet.storage.generation`).
"""
