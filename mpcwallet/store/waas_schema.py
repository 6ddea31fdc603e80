"""The WaaS service's tables (migrations 100, 101, ...; the cluster's are 1..99).

Applied by the same runner (:func:`mpcwallet.store.schema.migrate`) in the same transaction as
the cluster's. Every idempotency rule is a unique constraint: a wallet's and a transaction
request's client ``request_id`` per tenant, an approver's approval per request, a permit per
request, a nonce per wallet, an audit sequence number. Amounts are decimal strings (wei never
fits a JSON number or a BIGINT). API keys are stored as SHA-256 hashes only; no column holds a
secret.
"""

from __future__ import annotations

from mpcwallet.store.schema import Migration

__all__ = ["WAAS_MIGRATIONS"]

_V100 = (
    """CREATE TABLE waas_principals (
        principal_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        role TEXT NOT NULL,  -- comma-separated: requester, approver, admin
        key_hash TEXT NOT NULL UNIQUE,
        approver_key TEXT,
        created_at BIGINT NOT NULL,
        UNIQUE (tenant, name)
    )""",
    """CREATE TABLE waas_wallets (
        wallet_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        request_id TEXT,
        custody_backend TEXT NOT NULL CHECK (custody_backend IN ('MPC_TECDSA', 'DEV_SIGNER')),
        status TEXT NOT NULL CHECK (status IN ('PENDING_KEYGEN', 'ACTIVE', 'FAILED')),
        mpc_t INTEGER,
        mpc_n INTEGER,
        keyset_id TEXT,
        key_ref TEXT,
        address TEXT,
        pubkey TEXT,
        error_code TEXT,
        error_message TEXT,
        next_nonce BIGINT NOT NULL DEFAULT 0,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE (tenant, request_id),
        CHECK (status <> 'ACTIVE' OR (address IS NOT NULL AND key_ref IS NOT NULL)),
        CHECK (status <> 'FAILED' OR error_code IS NOT NULL)
    )""",
    "CREATE INDEX waas_wallets_tenant ON waas_wallets (tenant, created_at)",
    """CREATE TABLE waas_tx_requests (
        tx_request_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        wallet_id TEXT NOT NULL REFERENCES waas_wallets (wallet_id),
        request_id TEXT NOT NULL,
        body_hash TEXT NOT NULL,
        requester TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('KYT', 'POLICY', 'APPROVALS', 'SIGN_PENDING',
            'BROADCAST', 'CONFIRM', 'FINALIZED', 'REJECTED', 'FAILED')),
        reason_code TEXT,
        reason TEXT,
        approvals_required INTEGER NOT NULL DEFAULT 0,
        controls TEXT,
        nonce BIGINT,
        tx_hash TEXT,
        tx_json TEXT,
        raw_tx TEXT,
        signed_hash TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE (tenant, request_id),
        UNIQUE (wallet_id, nonce)
    )""",
    "CREATE INDEX waas_tx_requests_wallet ON waas_tx_requests (wallet_id, created_at)",
    """CREATE TABLE waas_tx_history (
        tx_request_id TEXT NOT NULL REFERENCES waas_tx_requests (tx_request_id),
        seq INTEGER NOT NULL,
        state TEXT NOT NULL,
        at BIGINT NOT NULL,
        reason_code TEXT,
        PRIMARY KEY (tx_request_id, seq)
    )""",
    """CREATE TABLE waas_approvals (
        tx_request_id TEXT NOT NULL REFERENCES waas_tx_requests (tx_request_id),
        principal_id TEXT NOT NULL REFERENCES waas_principals (principal_id),
        signature TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (tx_request_id, principal_id)
    )""",
    # What a request reserves against the rolling 24 h limits: reserved with the policy
    # decision, in the same transaction; released when the request ends REJECTED or FAILED.
    """CREATE TABLE waas_reservations (
        tx_request_id TEXT NOT NULL REFERENCES waas_tx_requests (tx_request_id),
        wallet_id TEXT NOT NULL,
        asset TEXT NOT NULL,
        amount TEXT NOT NULL,
        at BIGINT NOT NULL,
        released INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tx_request_id, asset)
    )""",
    "CREATE INDEX waas_reservations_wallet ON waas_reservations (wallet_id, asset, at)",
    """CREATE TABLE waas_permits (
        permit_nonce TEXT PRIMARY KEY,
        tx_request_id TEXT NOT NULL UNIQUE REFERENCES waas_tx_requests (tx_request_id),
        tx_hash TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        body TEXT NOT NULL
    )""",
    """CREATE TABLE waas_audit (
        seq BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
        tenant TEXT,
        event TEXT NOT NULL,
        subject TEXT,
        fields TEXT NOT NULL,
        prev TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE
    )""",
)

# The chain layer's record of sent transactions (mpcwallet/chain/store.py's ``txs``/``events``)
# for the WaaS service, on either backend (mpcwallet/chain/sql_store.py).
_V101 = (
    """CREATE TABLE chain_txs (
        hash TEXT PRIMARY KEY, chain_id BIGINT NOT NULL, sender TEXT NOT NULL,
        nonce BIGINT NOT NULL, raw TEXT NOT NULL, content TEXT, kind TEXT NOT NULL,
        replaces TEXT, account BIGINT, key_id TEXT, state TEXT NOT NULL, block_number BIGINT,
        block_hash TEXT, status INTEGER, created DOUBLE PRECISION NOT NULL,
        updated DOUBLE PRECISION NOT NULL, detail TEXT
    )""",
    "CREATE INDEX chain_txs_by_sender ON chain_txs (chain_id, sender, nonce)",
    """CREATE TABLE chain_events (
        subject TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, from_state TEXT,
        to_state TEXT NOT NULL, block_number BIGINT, detail TEXT
    )""",
    "CREATE INDEX chain_events_by_subject ON chain_events (subject, at)",
)

# The deposit listener's record (mpcwallet/chain/store.py's ``deposits``/``blocks``) for every
# WaaS wallet's address: deposits keyed by chain, tx hash and log index (-1: plain ETH), and the
# hashes of the last blocks it processed (its cursor and what a reorg check walks back through).
_V102 = (
    """CREATE TABLE chain_deposits (
        chain_id BIGINT NOT NULL, tx_hash TEXT NOT NULL, log_index BIGINT NOT NULL,
        token TEXT, sender TEXT, recipient TEXT NOT NULL, amount TEXT NOT NULL,
        block_number BIGINT NOT NULL, block_hash TEXT NOT NULL, state TEXT NOT NULL,
        first_seen DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (chain_id, tx_hash, log_index)
    )""",
    "CREATE INDEX chain_deposits_by_recipient ON chain_deposits (recipient, block_number)",
    """CREATE TABLE chain_blocks (
        chain_id BIGINT NOT NULL, number BIGINT NOT NULL, hash TEXT NOT NULL,
        PRIMARY KEY (chain_id, number)
    )""",
)

# Replacements of a stuck request's transaction (speed-up, cancel): each a new signature at the
# request's nonce with its own permit (unique permit nonce), kept here with the signed result.
_V103 = (
    """CREATE TABLE waas_replacements (
        permit_nonce TEXT PRIMARY KEY,
        tx_request_id TEXT NOT NULL REFERENCES waas_tx_requests (tx_request_id),
        kind TEXT NOT NULL CHECK (kind IN ('speed-up', 'cancel')),
        nonce BIGINT NOT NULL,
        replaces TEXT NOT NULL,
        tx_hash TEXT NOT NULL,
        tx_json TEXT NOT NULL,
        requester TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        body TEXT NOT NULL,
        raw_tx TEXT,
        signed_hash TEXT
    )""",
    "CREATE INDEX waas_replacements_by_request ON waas_replacements (tx_request_id, issued_at)",
)

WAAS_MIGRATIONS: tuple[Migration, ...] = (
    Migration(100, "waas: principals, wallets, tx requests, approvals, permits, audit", _V100),
    Migration(101, "waas: the chain record of sent transactions", _V101),
    Migration(102, "waas: the deposit listener's deposits and block cursor", _V102),
    Migration(103, "waas: speed-up and cancel replacements with their permits", _V103),
)
