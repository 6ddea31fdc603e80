"""`mpc watch` (the deposit listener) and `mpc deposits` (what it recorded)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mpcwallet.cli import chainopts, options


def _line(d: dict[str, Any]) -> str:
    what = "wei ETH" if d["token"] is None else f"units of {d['token']}"
    return (
        f"{d['state']:<10} block {d['block_number']:<8} {d['amount']} {what} to {d['recipient']} "
        f"from {d['sender']} ({d['tx_hash']})"
    )


def _interval(value: float) -> float:
    from mpcwallet import numeric

    return numeric.check(value, "--interval", numeric.Range(0.1, 3600, unit="seconds"))


def register(app: typer.Typer) -> None:
    @app.command("watch")
    def watch(
        key: options.Key = None,
        accounts: Annotated[
            str, typer.Option("--accounts", help="Accounts of each key to watch: N or A-B.")
        ] = "0",
        once: Annotated[
            bool, typer.Option("--once", help="Catch up to the head, then stop.")
        ] = False,
        from_block: Annotated[
            int | None,
            typer.Option(
                "--from-block",
                help="First block on the first run (default: the head); later runs resume.",
                min=0,
            ),
        ] = None,
        window: Annotated[
            int, typer.Option("--window", help="Blocks read per step at most.", min=1, max=10_000)
        ] = 100,
        interval: Annotated[
            float,
            typer.Option("--interval", help="Seconds between polls.", callback=_interval),
        ] = 2.0,
        confirmations: chainopts.Confirmations = None,
        rpc_url: options.RpcUrl = None,
        timeout: options.RpcTimeout = None,
    ) -> None:
        """Record deposits (ETH and ERC-20 Transfer) to this home's addresses: every key's
        --accounts (default account 0). Resumes after a restart; a reorg drops what it removed.
        """
        from mpcwallet.accounts import parse_range
        from mpcwallet.cli.frontend import CliUi
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.watch import watch as run

        data = run(
            key=key,
            accounts=parse_range(accounts),
            rpc_url=rpc_url,
            retry_seconds=timeout,
            confirmations=confirmations,
            from_block=from_block,
            window=window,
            interval=interval,
            once=once,
            ui=CliUi(),
        )
        lines = [f"processed to block {data['processed_to']}"]
        out().success(data, "\n".join(lines + [_line(d) for d in data["deposits"]]))

    @app.command("deposits")
    def deposits(
        all_: Annotated[bool, typer.Option("--all", help="Also deposits a reorg dropped.")] = False,
    ) -> None:
        """Deposits `mpc watch` recorded, with their state (no node needed)."""
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.watch import deposits as run

        rows = run(include_dropped=all_)
        out().success({"deposits": rows}, "\n".join(_line(d) for d in rows) or "no deposits")
