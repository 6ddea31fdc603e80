"""SQL state of the cluster coordinator (and later the WaaS service): never a secret.

A SQLite file by default, PostgreSQL when given a ``postgresql://`` URL (several coordinators
can share one). :meth:`Store.open` connects and applies the numbered migrations
(:mod:`mpcwallet.store.schema`); :class:`Store` has the typed repository functions.
Nothing here imports ``cluster``, ``cosigner`` or ``cli``.
"""

from mpcwallet.store.models import Claim, Keyset, Node, Request, Session
from mpcwallet.store.repo import Store

__all__ = ["Claim", "Keyset", "Node", "Request", "Session", "Store"]
