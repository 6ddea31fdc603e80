"""`mpc sign --tx tx.json`: a two-party signature over an EVM transaction.

tx.json -> (fill nonce/gas/fees from RPC when an endpoint is given) -> client share -> two-party
signing with the co-signer (which recomputes the digest from the transaction itself) -> low-s,
recovery id, raw tx, decode-and-recover check -> sig.json (atomic) and stdout.

Kept light: without an RPC endpoint this path imports neither web3 nor eth-account.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from mpcwallet.cli import options
from mpcwallet.errors import AlreadyExists, AuthFailed, BadInput, ProtocolViolation, TamperedFile

if TYPE_CHECKING:
    from mpcwallet.evm.rpc import RpcClient
    from mpcwallet.evm.signature import SignedTx
    from mpcwallet.evm.txjson import UnsignedTx
    from mpcwallet.storage.body import ShareBody

T = TypeVar("T")


def share_path(share: Path | None, key: str | None = None) -> Path:
    from mpcwallet.wallet.shares import find_share

    return find_share(share, key)


def check_account_key(
    header: dict[str, Any], body: ShareBody, path: Path, account: int, expected: bytes
) -> None:
    """The account key derived from the (authenticated) key blob is the one the header gave."""
    from mpcwallet.engine import get_engine

    engine = get_engine(str(header.get("engine")))
    if engine.account_public_key(body.key_blob, account) != expected:
        raise TamperedFile(
            f"{path}: the header's public key or chain code does not match the key share"
        )


def prepare_tx(
    tx_file: Path, rpc_url: str | None, sender: bytes, retry_seconds: float | None
) -> UnsignedTx:
    """Load tx.json and complete it from the RPC endpoint (shown on stderr), or refuse."""
    from mpcwallet.cli.output import out
    from mpcwallet.evm.endpoint import resolve_rpc_url
    from mpcwallet.evm.txjson import load_tx, missing_fields

    tx = load_tx(tx_file)
    url = resolve_rpc_url(rpc_url)
    if url is None:
        missing = missing_fields(tx)
        if missing:
            raise BadInput(
                f"{tx_file}: missing {', '.join(missing)}; set them in tx.json, or give an RPC "
                "endpoint (--rpc-url, MPC_RPC_URL or ETH_RPC_URL) to fill them",
                field=missing[0],
            )
        return tx
    client = rpc_client(url, retry_seconds)
    from mpcwallet.cli.progress import step

    with step(f"asking {client.display_url} for what tx.json leaves out"):
        tx, filled = client.fill(tx, sender)
    for name, value in filled.items():
        out().info(f"filled from {client.display_url}: {name} = {value}")
    return tx


def rpc_client(url: str, retry_seconds: float | None) -> RpcClient:
    from mpcwallet.cli.progress import note
    from mpcwallet.evm.endpoint import retry_seconds_from_env
    from mpcwallet.evm.rpc import RpcClient

    return RpcClient(url, retry_seconds=retry_seconds_from_env(retry_seconds), on_event=note)


def sign_transaction(
    *,
    tx_file: Path,
    share: Path | None,
    out_file: Path | None,
    rpc_url: str | None,
    force: bool,
    passphrase_file: Path | None,
    retry_seconds: float | None = None,
    account: int = 0,
    permits: list[Path] | None = None,
    key: str | None = None,
    yes: bool = False,
    report: dict[str, Any] | None = None,
) -> tuple[UnsignedTx, SignedTx]:
    """Everything `mpc sign` does except printing; `mpc send` reuses it."""
    from mpcwallet.accounts import account_key
    from mpcwallet.cli.passphrase import get_passphrase
    from mpcwallet.evm.address import parse_address, to_checksum
    from mpcwallet.evm.signature import assemble
    from mpcwallet.evm.txjson import signing_digest
    from mpcwallet.lifecycle.quarantine import ensure_not_quarantined
    from mpcwallet.storage.store import load_header, load_share

    path = share_path(share, key)
    ensure_not_quarantined(path)
    header = load_header(path)
    public_key, address = account_key(header, path, account)
    sender = parse_address(address, "address")
    if out_file is not None and not force and (out_file.exists() or out_file.is_symlink()):
        raise AlreadyExists(f"{out_file} already exists; pass --force to overwrite it", field="out")

    tx = prepare_tx(tx_file, rpc_url, sender, retry_seconds)
    if tx.sender is not None and tx.sender != sender:
        raise BadInput(
            f"{tx_file}: from is {to_checksum(tx.sender)}, but account {account} of {path} is "
            f"{to_checksum(sender)}; use the matching --share or --account, or remove 'from'",
            field="from",
        )
    digest = signing_digest(tx)
    from mpcwallet.cli.approve import read_permits

    permit_docs = read_permits(permits or [])
    shown = _preflight(tx, header, to_checksum(sender), account, rpc_url, retry_seconds, yes)
    if report is not None:
        report["preview"] = shown
    passphrase = get_passphrase(
        "share",
        passphrase_file=passphrase_file,
        confirm=False,
        verify=lambda typed: load_share(path, typed),
    )
    from mpcwallet.lifecycle.refresh import settle_for_use

    settled = settle_for_use(path, _endpoint(), passphrase)
    if settled is not None:
        from mpcwallet.cli.output import out

        out().warn(settled.message)
    header, body = load_share(path, passphrase)
    del passphrase
    check_account_key(header, body, path, account, public_key)

    from mpcwallet.cli.progress import step
    from mpcwallet.session.client import run_sign

    def run() -> SignedTx:
        with step("signing with the co-signer"):
            der = run_sign(
                _endpoint(),
                share_header=header,
                body=body,
                tx_json=tx.to_json(),
                digest=digest,
                account=account,
                permits=permit_docs,
            )
        return assemble(tx, der, public_key)

    signed = quarantine_on_violation(path, header, run)

    if out_file is not None:
        from mpcwallet.storage.files import write_atomic

        data = (json.dumps(signed.to_json(), indent=2) + "\n").encode()
        write_atomic(out_file, data, force=force)
    return tx, signed


def quarantine_on_violation(path: Path, header: dict[str, Any], run: Callable[[], T]) -> T:
    """``run()``; a protocol violation quarantines the key (Lindell 2017 §1.2/§4: never retry)."""
    from mpcwallet.lifecycle.quarantine import quarantine_violation
    from mpcwallet.lifecycle.refresh import check_not_stale

    key_id = header.get("key_id") if isinstance(header.get("key_id"), str) else None
    try:
        return run()
    except ProtocolViolation as err:
        session_id = getattr(err, "session_id", None)
        # Same class, so the code the user sees is the one recorded in the quarantine file.
        raise quarantine_violation(
            path, err, key_id=key_id, session_id=session_id if isinstance(session_id, str) else None
        ) from None
    except AuthFailed:
        check_not_stale(path, header, _endpoint())  # a refresh elsewhere explains it
        raise


def _preflight(
    tx: UnsignedTx,
    header: dict[str, Any],
    sender: str,
    account: int,
    rpc_url: str | None,
    retry_seconds: float | None,
    yes: bool,
) -> dict[str, Any]:
    """See what you sign (cli/preview.py): preview, early checks, confirmation, co-signer up."""
    from mpcwallet.cli.preview import preflight
    from mpcwallet.evm.endpoint import resolve_rpc_url

    url = resolve_rpc_url(rpc_url)
    name = header.get("name")
    return preflight(
        tx,
        sender=sender,
        key_name=name if isinstance(name, str) else None,
        account=account,
        client=rpc_client(url, retry_seconds) if url is not None else None,
        endpoint=_endpoint(),
        yes=yes,
    )


def _endpoint() -> str:
    """The co-signer endpoint: MPC_COSIGNER_URL, else the running daemon's state file."""
    from mpcwallet.session.client import resolve_endpoint

    return resolve_endpoint()


def human_signed(signed: SignedTx, out_file: Path | None) -> str:
    lines = [
        f"[bold]signed[/bold] by {signed.sender}",
        f"tx hash:      0x{signed.tx_hash.hex()}",
        f"signing hash: 0x{signed.signing_hash.hex()}",
        f"raw tx:       0x{signed.raw.hex()}",
    ]
    if out_file is not None:
        lines.append(f"written to {out_file}; broadcast with: mpc broadcast --sig {out_file}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("sign")
    def sign(
        tx: options.TxFile,
        share: options.Share = None,
        key: options.Key = None,
        out_file: Annotated[
            Path | None,
            typer.Option("--out", help="Write the signature and raw tx here (sig.json)."),
        ] = None,
        rpc_url: options.RpcUrl = None,
        force: options.ForceOut = False,
        passphrase_file: options.SharePassphraseFile = None,
        timeout: options.RpcTimeout = None,
        account: options.Account = 0,
        permit: options.Permits = None,
        yes: options.Yes = False,
    ) -> None:
        """Sign a transaction with the co-signer; prints {from, hash, r, s, v, raw_tx, account}.

        With an RPC endpoint, a missing nonce, gas or fee is filled from the node (and shown),
        and the node's chain id must equal chainId. Before signing it shows what is signed
        (chain, from, to, value, token transfer, fees, worst-case cost) and, at a terminal,
        asks for confirmation (--yes skips it; without a terminal nothing is asked).
        """
        from mpcwallet.cli.output import out

        report: dict[str, Any] = {}
        _, signed = sign_transaction(
            tx_file=tx,
            share=share,
            out_file=out_file,
            rpc_url=rpc_url,
            force=force,
            passphrase_file=passphrase_file,
            retry_seconds=timeout,
            account=account,
            permits=permit,
            key=key,
            yes=yes,
            report=report,
        )
        data = {**signed.to_json(), "account": account, **report}
        if out_file is not None:
            data["out"] = str(out_file)
        out().success(data, human_signed(signed, out_file))
