"""``mpc serve``: the local HTTP API (mpcwallet.api) on 127.0.0.1 until Ctrl-C or SIGTERM."""

from __future__ import annotations

from typing import Annotated

import typer

from mpcwallet.cli import options


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        port: Annotated[
            int | None,
            typer.Option(
                "--port",
                help="TCP port on 127.0.0.1, remembered for later starts (0 picks a free one). "
                "Default: the remembered port, else 7448.",
                callback=options.checked("--port"),
            ),
        ] = None,
        allow_origin: Annotated[
            list[str] | None,
            typer.Option(
                "--allow-origin",
                metavar="ORIGIN",
                help="A browser Origin allowed to call the API (CORS), e.g. "
                "http://localhost:3000; repeatable. Default: every Origin is refused.",
            ),
        ] = None,
        print_openapi: Annotated[
            bool,
            typer.Option("--print-openapi", help="Print the OpenAPI 3.1 document and exit."),
        ] = False,
        passphrase_file: options.SharePassphraseFile = None,
    ) -> None:
        """Serve the wallet as a local JSON API (token in MPC_HOME/api.token; docs/http-api.md)."""
        from mpcwallet.cli.output import out

        if print_openapi:
            import json

            from mpcwallet.api.openapi import document

            doc = document()
            out().success(doc, lambda console: print(json.dumps(doc, indent=2)))
            return
        from mpcwallet.api.server import serve as run
        from mpcwallet.api.settings import remembered_port
        from mpcwallet.cli.passphrase import get_passphrase
        from mpcwallet.lifecycle.names import list_shares

        origins = frozenset(allow_origin or ())
        for origin in origins:
            _check_origin(origin)
        chosen = remembered_port() if port is None else port
        passphrase = get_passphrase(
            "share", passphrase_file=passphrase_file, confirm=not list_shares()
        )
        run(
            passphrase=passphrase,
            port=chosen,
            remember=port is not None and port != 0,
            allow_origins=origins,
        )


def _check_origin(origin: str) -> None:
    from urllib.parse import urlsplit

    from mpcwallet.errors import BadInput

    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise BadInput(
            f"--allow-origin: {origin!r} is not an origin (give scheme://host[:port], e.g. "
            "http://localhost:3000)",
            field="allow_origin",
        )
