"""Where the co-signer keeps its state under ``MPC_HOME/cosigner/``, and the ids that name what
it keeps (key ids, client ids, client labels); pure, cheap to import."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mpcwallet.errors import BadInput

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7447
KEY_ID_RE = re.compile(r"^[0-9a-f]{32}$")
TAG_RE = re.compile(r"^[0-9a-f]{8,32}$")
CLIENT_ID_RE = re.compile(r"[0-9a-f]{16}")
MAX_LABEL = 64


@dataclass(frozen=True)
class CosignerPaths:
    root: Path  # MPC_HOME/cosigner

    @classmethod
    def for_home(cls, home: Path) -> CosignerPaths:
        return cls(home / "cosigner")

    @property
    def pid_file(self) -> Path:
        return self.root / "cosigner.pid"

    @property
    def lock_file(self) -> Path:
        return self.root / "cosigner.lock"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def socket_file(self) -> Path:
        """The daemon's Unix socket, for clients of this home (see ``session.endpoint``)."""
        return self.root / "cosigner.sock"

    @property
    def token_file(self) -> Path:
        return self.root / "auth.token"

    @property
    def static_key_file(self) -> Path:
        """The co-signer's static X25519 key (Noise ``s``), which clients pin."""
        return self.root / "static.key"

    @property
    def clients_file(self) -> Path:
        """The registry of paired clients (id, own secret, label, created time)."""
        return self.root / "clients.json"

    @property
    def keyring_file(self) -> Path:
        return self.root / "keyring.enc"

    @property
    def shares_dir(self) -> Path:
        return self.root / "shares"

    @property
    def log_file(self) -> Path:
        return self.root / "cosigner.log"

    @property
    def policy_file(self) -> Path:
        return self.root / "policy.toml"

    @property
    def guard_db(self) -> Path:
        """Spending counters, used permit ids, session records, approvers (SQLite)."""
        return self.root / "guard.db"

    @property
    def start_log(self) -> Path:
        """stdout/stderr of a background daemon (error messages only, never secrets)."""
        return self.root / "start.log"

    @property
    def settings_file(self) -> Path:
        """Remembered start options (the port given with ``--port``)."""
        return self.root / "config.json"

    @property
    def pairing_codes_dir(self) -> Path:
        """Pending one-time pairing codes, stored as derived keys only (never the code)."""
        return self.root / "pairing-codes"

    def share_file(self, key_id: str) -> Path:
        return self.shares_dir / f"{check_key_id(key_id)}.enc"

    def pending_file(self, key_id: str, tag: str | None = None) -> Path:
        """Keygen's pending share, or (with ``tag``, one per session) a refresh's."""
        if tag is None:
            return self.shares_dir / f"{check_key_id(key_id)}.enc.pending"
        if not TAG_RE.match(tag):
            raise BadInput("a pending tag is 8-32 lower-case hex digits", field="tag")
        return self.shares_dir / f"{check_key_id(key_id)}.enc.{tag}.pending"

    def psk_file(self, key_id: str, tag: str | None = None, *, pending: bool = False) -> Path:
        """The key's session PSK under the KEK, apart from its share (see ``KeyStore``); with
        ``pending``, the one written beside the share's pending file (same ``tag``)."""
        if not pending:
            return self.shares_dir / f"{check_key_id(key_id)}.psk"
        share = self.pending_file(key_id, tag)
        return share.with_name(share.name.replace(".enc.", ".psk.", 1))

    @property
    def unconfirmed_dir(self) -> Path:
        """One empty marker per key committed but not yet confirmed by its client (orphans)."""
        return self.root / "unconfirmed"

    def unconfirmed_file(self, key_id: str) -> Path:
        return self.unconfirmed_dir / check_key_id(key_id)

    @property
    def removed_dir(self) -> Path:
        """Shares removed with `mpc cosigner keys remove` (kept, never deleted by the tool)."""
        return self.root / "removed"


def check_key_id(key_id: object) -> str:
    if not isinstance(key_id, str) or not KEY_ID_RE.match(key_id):
        raise BadInput("a key id is 32 lower-case hex digits", field="key_id")
    return key_id


def check_client_id(value: object) -> str:
    if not isinstance(value, str) or not CLIENT_ID_RE.fullmatch(value):
        raise BadInput("a client id is 16 lower-case hex digits", field="client_id")
    return value


def check_label(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LABEL or not value.isprintable():
        raise BadInput(f"--label must be 1..{MAX_LABEL} printable characters", field="label")
    return value
