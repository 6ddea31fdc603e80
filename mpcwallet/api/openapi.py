"""The OpenAPI 3.1 document of the API, built from the route table and its pydantic models.

Schemas come from ``pydantic.json_schema.models_json_schema`` over exactly the models the
handlers validate requests with (validation mode) and serialize answers with (serialization
mode), plus the error model; nothing is written by hand beside them.
"""

from __future__ import annotations

from typing import Any

from mpcwallet.openapi import REF, Schemas, openapi_path
from mpcwallet.openapi import document as openapi_document

__all__ = ["REF", "document"]

# Statuses a route can answer besides 200, by what it does (see api/status.py).
_COMMON = {
    "401": "Missing or wrong bearer token",
    "403": "Origin refused, or the co-signer's policy refused",
    "421": "Host refused (not 127.0.0.1:PORT / localhost:PORT)",
    "500": "Internal error",
}
_WITH_BODY = {
    "400": "Malformed JSON",
    "404": "No such key or session",
    "409": "Conflict (Idempotency-Key reused or cut off by a restart, key exists, key busy)",
    "413": "Body too large",
    "422": "Invalid request or value",
    "502": "The co-signer or node failed",
    "503": "The co-signer or node is unreachable",
    "504": "Timed out",
}


def document(port: int | None = None) -> dict[str, Any]:
    """The document; ``servers`` names ``port`` (default: the remembered or default port)."""
    from mpcwallet.api.models import ErrorResponse
    from mpcwallet.api.routes import ROUTES

    schemas = Schemas(ErrorResponse, ROUTES)
    if port is None:
        from mpcwallet.api.settings import remembered_port

        port = remembered_port()
    error = schemas.error

    paths: dict[str, Any] = {}
    for route in ROUTES:
        op: dict[str, Any] = {
            "operationId": route.path.strip("/").replace("/", "_").replace("-", "_") or "root",
            "summary": route.summary,
            "responses": {
                "200": schemas.ok(route),
                **{code: error(text) for code, text in _COMMON.items()},
            },
        }
        if route.request is not None:
            op["requestBody"] = schemas.request_body(route)
            op["responses"].update({code: error(text) for code, text in _WITH_BODY.items()})
        if route.idempotent:
            op["parameters"] = [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "A retry with the same key and body returns the first "
                    "answer; nothing is signed twice.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            ]
        paths[route.path] = {route.method.lower(): op}
    paths["/openapi.json"] = openapi_path(
        responses={code: error(text) for code, text in _COMMON.items()}
    )
    return openapi_document(
        title="mpcwallet local API (mpc serve)",
        description="2-of-2 threshold-ECDSA signing through a running `mpc serve` on "
        "127.0.0.1. Every request needs `Authorization: Bearer <MPC_HOME/api.token>`.",
        server_url=f"http://127.0.0.1:{port}",
        paths=paths,
        schemas=schemas,
    )
