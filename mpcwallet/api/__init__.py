"""``mpc serve``: the local HTTP API over the wallet's use cases (:mod:`mpcwallet.wallet`).

An aiohttp app on 127.0.0.1 (:mod:`.app`), its request and response models (:mod:`.models`),
the OpenAPI 3.1 document built from exactly those models (:mod:`.openapi`), and the parts a
long-running front end needs: a bearer token (:mod:`.token`), Host/Origin/size guards
(:mod:`.guard`), the in-memory keyring and a logging Ui (:mod:`.ports`), idempotent retries
(:mod:`.idempotency`), the error-to-status map (:mod:`.status`) and JSON logs (:mod:`.logs`).
Handlers call wallet functions only; nothing here orchestrates a use case.
"""
