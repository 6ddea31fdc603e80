"""What an MPC_HOME holds that the client side and the co-signer daemon both read.

The co-signer directory's layout and key ids (:mod:`.paths`), the remembered port
(:mod:`.settings`), the local token and the daemon's static key files (:mod:`.token`), and the
pairing codes and record (:mod:`.pairing`). It sits below ``session/`` and ``cosigner/`` (both
import it) and imports only ``storage``, ``jsonio`` and ``errors``.
"""
