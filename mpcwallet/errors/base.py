"""The error tree's root and its families for input, files, policy, engines, the co-signer,
violations and transient faults (the chain's and the HTTP API's: :mod:`.chain`, :mod:`.api`).

Import errors from :mod:`mpcwallet.errors`, which re-exports every class of the tree."""

from __future__ import annotations

from typing import ClassVar, Literal

Kind = Literal["transient", "permanent", "violation"]


class MpcError(Exception):
    """Base of every expected error. ``message`` says what went wrong and what to do."""

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1
    kind: ClassVar[Kind] = "permanent"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message, "kind": self.kind}
        if self.field is not None:
            out["field"] = self.field
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


# --- permanent: input and files (exit 2..6) -------------------------------------------------


class BadInput(MpcError):
    """A value given by the user (flag, env var, tx.json field) is not acceptable."""

    code = "bad_input"
    exit_code = 2


class UsageError(BadInput):
    """The command line itself is wrong (unknown command or option, missing argument)."""

    code = "usage"


class FileFormatError(BadInput):
    """A file is not in the format we expect (not JSON, missing fields, unknown version)."""

    code = "bad_file"


class WeakKdfParams(FileFormatError):
    """A share or backup asks for KDF parameters below our floor."""

    code = "kdf_params_too_weak"


class AccountUnavailable(BadInput):
    """The key set has no such account: a key made before accounts existed (account 0 only),
    or an index BIP-32 declares invalid for this key set."""

    code = "account_unavailable"


class BadTypedData(BadInput):
    """An EIP-712 typed-data document is malformed (unknown type, cycle, value out of range,
    missing field); ``field`` names the path of the offending value."""

    code = "bad_typed_data"


class WrongPassphrase(MpcError):
    """Decryption failed while the header authenticated; the passphrase is wrong."""

    code = "wrong_passphrase"
    exit_code = 3


class KdfParamsMismatch(WrongPassphrase):
    """A file was encrypted under other KDF parameters or salt than the unlocked key."""

    code = "kdf_params_mismatch"


class PassphraseRequired(MpcError):
    """No passphrase could be obtained non-interactively."""

    code = "passphrase_required"
    exit_code = 3


class KeyringUnavailable(PassphraseRequired):
    """No OS keyring backend on this machine (`mpc key remember`)."""

    code = "keyring_unavailable"


class TamperedFile(MpcError):
    """The file was modified after it was written (AEAD or structure check failed)."""

    code = "tampered"
    exit_code = 4


class InconsistentShare(TamperedFile):
    """A share decrypts, but its key blob does not match the public key in its header."""

    code = "inconsistent_share"


class NotFound(MpcError):
    code = "not_found"
    exit_code = 5


class AlreadyExists(MpcError):
    """Refusing to overwrite an existing file without --force."""

    code = "already_exists"
    exit_code = 6


# --- permanent: policy and state (exit 7, 8, 11, 12) ----------------------------------------


class PolicyRefused(MpcError):
    code = "policy_refused"
    exit_code = 7


class KeyQuarantined(PolicyRefused):
    """A protocol violation was seen while signing with this key; signing is refused."""

    code = "key_quarantined"


class QuarantineUnavailable(PolicyRefused):  # no session: its quarantine could not be recorded
    code = "quarantine_unavailable"


class PolicyFileError(FileFormatError):
    """The co-signer's policy file is invalid; the message names the file, line and key."""

    code = "bad_policy"


class PermitRefused(PolicyRefused):
    """A signing permit was presented but cannot be accepted (base of the permit codes)."""

    code = "permit_invalid"


class PermitExpired(PermitRefused):
    code = "permit_expired"


class PermitReplayed(PermitRefused):
    """The permit's one-time id was already used."""

    code = "permit_replayed"


class PermitWrongDigest(PermitRefused):
    """The permit approves another transaction or message than the one to be signed."""

    code = "permit_wrong_digest"


class PermitMismatch(PermitRefused):
    """The permit is for another key, account or chain."""

    code = "permit_mismatch"


class PermitUnknownApprover(PermitRefused):
    """The permit's approver is not registered with the co-signer (or not allowed here)."""

    code = "permit_unknown_approver"


class PermitTampered(PermitRefused):
    """The permit's Ed25519 signature does not verify, or the permit is malformed."""

    code = "permit_tampered"


class ApprovalRequired(PolicyRefused):
    """The policy needs more valid permits than were presented."""

    code = "approval_required"


class AuditTampered(TamperedFile):
    """The audit trail's hash chain is broken (edit, deletion, insertion, reorder, truncation)."""

    code = "audit_tampered"


class EngineUnavailable(MpcError):
    """The engine a share was made with is not installed here."""

    code = "engine_unavailable"
    exit_code = 11


class EngineMismatch(MpcError):
    """The two parties (or a share and an engine) do not agree on engine or version."""

    code = "engine_mismatch"
    exit_code = 11


class KeyBlobMismatch(EngineMismatch):
    """A key blob from another engine, role or format version."""

    code = "key_blob_mismatch"


class KeyVersionMismatch(KeyBlobMismatch):
    """The two parties hold shares of different key generations (e.g. one side refreshed)."""

    code = "key_version_mismatch"


class StaleShare(KeyVersionMismatch):
    """A share or backup from an older key generation than the co-signer holds (after a refresh)."""

    code = "stale_share"


class CosignerError(MpcError):
    """The co-signer daemon cannot be started, stopped or used as asked."""

    code = "cosigner_error"
    exit_code = 12


class CosignerRunning(CosignerError):
    code = "cosigner_running"


class CosignerNotRunning(CosignerError):
    code = "cosigner_not_running"


class PortInUse(CosignerError):
    code = "port_in_use"


class WrongCosigner(CosignerError):
    """The co-signer at the endpoint belongs to another MPC_HOME (its install id differs)."""

    code = "wrong_cosigner"


class AuthFailed(MpcError):
    """The session handshake failed: wrong pairing token or per-key secret."""

    code = "auth_failed"
    exit_code = 13


class Unhealthy(MpcError):
    """A health check failed; ``field`` names the check."""

    code = "unhealthy"
    exit_code = 14


# --- violation (exit 9) -----------------------------------------------------------------------


class ProtocolViolation(MpcError):
    """A peer sent something that fails a check. Never retried automatically."""

    code = "protocol_violation"
    exit_code = 9
    kind = "violation"


class SessionViolation(ProtocolViolation):
    """A frame failed to decrypt (AEAD, implicit nonce) or broke a size or format bound."""

    code = "session_violation"


class MalformedMessage(ProtocolViolation):
    """A protocol message is truncated, oversized, has trailing bytes or an out-of-range value."""

    code = "malformed_message"


class InvalidProof(ProtocolViolation):
    """A zero-knowledge proof, commitment opening or key check from the peer failed."""

    code = "invalid_proof"


class SignatureVerificationFailed(ProtocolViolation):
    """The jointly computed signature does not verify; it is not released (quarantine the key)."""

    code = "signature_invalid"


# --- transient (exit 10) ----------------------------------------------------------------------


class TransientError(MpcError):
    code = "transient"
    exit_code = 10
    kind = "transient"


class PeerUnreachable(TransientError):
    code = "peer_unreachable"


class PeerTimeout(TransientError):
    code = "timeout"


class RpcUnavailable(TransientError):
    code = "rpc_unavailable"


class Busy(TransientError):
    """The key is being refreshed (or settled) by another session; nothing was changed."""

    code = "busy"


class StoreUnavailable(TransientError):
    """The session store (SQLite file or PostgreSQL server) cannot be reached or is locked."""

    code = "store_unavailable"


class _Sent(MpcError):
    """After a signed transaction was recorded and sent: its hash (public) beside the message."""

    def __init__(self, message: str, *, field: str | None = None, tx_hash: str | None = None):
        super().__init__(message, field=field)
        self.tx_hash = tx_hash

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        return out if self.tx_hash is None else {**out, "hash": self.tx_hash}


class NotYetMined(_Sent, PeerTimeout):
    """Sent, but not confirmed within the wait (or the node went away meanwhile): not lost."""

    code = "not_yet_mined"


class Interrupted(MpcError):
    """Ctrl-C or an aborted prompt. Exit 130, as a shell reports SIGINT."""

    code = "interrupted"
    exit_code = 130


class SentNotConfirmed(_Sent, Interrupted):
    """Ctrl-C while ``send`` waited: signed, recorded and sent (may still be mined); exit 130."""

    code = "sent_not_confirmed"


class Declined(Interrupted):
    """The user answered no at a confirmation; nothing was signed."""

    code = "declined"


# --- internal (exit 1) ------------------------------------------------------------------------


class InternalError(MpcError):
    """A bug. The message names the exception type only, never its arguments."""

    code = "internal"
    exit_code = 1
