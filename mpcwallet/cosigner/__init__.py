"""The co-signer daemon (party P2): aiohttp app, session endpoint, /healthz, keystore, logs."""
