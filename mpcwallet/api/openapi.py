"""The OpenAPI 3.1 document of the API, built from the route table and its pydantic models.

Schemas come from ``pydantic.json_schema.models_json_schema`` over exactly the models the
handlers validate requests with (validation mode) and serialize answers with (serialization
mode), plus the error model; nothing is written by hand beside them.
"""

from __future__ import annotations

from typing import Any

from mpcwallet import __version__

REF = "#/components/schemas/{model}"

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
    from pydantic.json_schema import models_json_schema

    from mpcwallet.api.models import ErrorResponse
    from mpcwallet.api.routes import ROUTES

    models: list[tuple[Any, Any]] = [(ErrorResponse, "serialization")]
    for route in ROUTES:
        if route.request is not None:
            models.append((route.request, "validation"))
        models.append((route.response, "serialization"))
    refs, defs = models_json_schema(models, ref_template=REF)
    if port is None:
        from mpcwallet.api.settings import remembered_port

        port = remembered_port()
    error_ref = refs[(ErrorResponse, "serialization")]

    def error(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": error_ref}}}

    paths: dict[str, Any] = {}
    for route in ROUTES:
        op: dict[str, Any] = {
            "operationId": route.path.strip("/").replace("/", "_").replace("-", "_") or "root",
            "summary": route.summary,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": refs[(route.response, "serialization")]}
                    },
                },
                **{code: error(text) for code, text in _COMMON.items()},
            },
        }
        if route.request is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(route.request, "validation")]}},
            }
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
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **{code: error(text) for code, text in _COMMON.items()},
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mpcwallet local API (mpc serve)",
            "version": __version__,
            "description": "2-of-2 threshold-ECDSA signing through a running `mpc serve` on "
            "127.0.0.1. Every request needs `Authorization: Bearer <MPC_HOME/api.token>`.",
        },
        "servers": [{"url": f"http://127.0.0.1:{port}"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
