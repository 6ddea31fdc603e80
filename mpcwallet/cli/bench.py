"""``mpc bench``: median and p95 of keygen, sign and refresh for each available engine, and of
cb-mpc's 2-of-3 dkg, two-party sign and refresh (multi-party engine)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from mpcwallet.cli import options
from mpcwallet.cli.output import out


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench(
        engine: str | None = typer.Option(
            None, "--engine", help="Engine to measure (default: every available engine)."
        ),
        rounds: int = typer.Option(
            5,
            "--rounds",
            help="Runs of keygen and refresh (sign: 4x); 1 to 1000.",
            callback=options.checked("--rounds"),
        ),
        api: bool = typer.Option(
            False,
            "--api",
            help="Instead: signatures/s through `mpc serve` (sequential and 8 concurrent, "
            "--rounds x 8 each) beside `mpc sign` end to end, in a throwaway home.",
        ),
    ) -> None:
        """Measure the protocols in one process (no network): median and p95.

        Two-party keygen, sign and refresh per engine; on cb-mpc also its 2-of-3 rows.
        """
        from mpcwallet import bench as bench_mod
        from mpcwallet.engine import available_engines, get_engine

        if api:
            _bench_api(engine, rounds)
            return
        if engine is not None:
            get_engine(engine)  # BadInput for an unknown name, EngineUnavailable if absent
            names = [engine]
        else:
            names = available_engines()
        results = bench_mod.run(names, rounds, progress=out().info)
        rows = [m.to_dict() for m in results]
        notes = bench_mod.notes(results)
        medians: dict[str, dict[str, float]] = {}
        for row in rows:
            medians.setdefault(str(row["engine"] or "-"), {})[str(row["name"])] = row["median_ms"]

        def human(console: Console) -> None:
            table = Table(title="mpc bench (all parties in one process)")
            for col in ("engine", "operation", "rounds", "median ms", "p95 ms", "bytes", "flights"):
                table.add_column(col, justify="left" if col in ("engine", "operation") else "right")
            for row in rows:
                table.add_row(
                    str(row["engine"] or "-"),
                    str(row["name"]),
                    str(row["rounds"]),
                    f"{row['median_ms']:.1f}",
                    f"{row['p95_ms']:.1f}",
                    "-" if row["bytes"] is None else str(row["bytes"]),
                    "-" if row["flights"] is None else str(row["flights"]),
                )
            console.print(table)
            for line in notes:
                console.print(line)

        out().success(
            {"engines": names, "results": rows, "medians_ms": medians, "notes": notes}, human
        )


def _bench_api(engine: str | None, rounds: int) -> None:
    import os

    from mpcwallet.bench import api as api_bench
    from mpcwallet.engine import get_engine

    if engine is not None:
        get_engine(engine)
        os.environ["MPC_ENGINE"] = engine  # the throwaway home's co-signer and key
    data = api_bench.run(8 * rounds, concurrency=8, progress=out().info)
    labels = {
        "api_sequential": "POST /tx/sign, one at a time",
        "api_concurrent": "POST /tx/sign, 8 at a time",
        "cli_end_to_end": "mpc sign (a process each)",
    }

    def human(console: Console) -> None:
        table = Table(title=f"mpc bench --api ({data['engine']} engine)")
        for col in ("path", "signatures", "signatures/s", "median ms"):
            table.add_column(col, justify="left" if col == "path" else "right")
        for key, label in labels.items():
            row = data[key]
            table.add_row(
                label,
                str(row["signatures"]),
                f"{row['per_second']:.1f}",
                f"{row['median_ms']:.1f}",
            )
        console.print(table)

    out().success(data, human)
