"""The OpenAPI 3.1 document of the WaaS API, generated from the route table and its pydantic
models (``models_json_schema``: requests in validation mode, answers in serialization mode)."""

from __future__ import annotations

import re
from typing import Any

from mpcwallet.openapi import REF, Schemas, openapi_path
from mpcwallet.openapi import document as openapi_document

__all__ = ["REF", "document"]
_ERRORS = {
    "401": "Missing or unknown API key",
    "403": "Role not allowed, or refused by KYT / policy / approval rules",
    "404": "No such wallet or request in this tenant",
    "409": "request_id reused with another body, or the record is in another state",
    "422": "Invalid request: the field and what to do",
    "500": "Internal error",
    "502": "The cluster failed a check",
    "503": "The cluster or the store is unavailable",
}


def document(server_url: str = "http://127.0.0.1:8088") -> dict[str, Any]:
    from mpcwallet.waas.app import ROUTES
    from mpcwallet.waas.models import ErrorResponse

    schemas = Schemas(ErrorResponse, ROUTES)
    paths: dict[str, Any] = {}
    for route in ROUTES:
        ok = schemas.ok(route)
        responses: dict[str, Any] = {"200": ok}
        if route.created:
            responses["201"] = {**ok, "description": "Created"}
        for code, text in _ERRORS.items():
            responses[code] = schemas.error(text)
        params = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in re.findall(r"{(\w+)}", route.path)
        ]
        params += [
            {"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
            for q in route.query
        ]
        op: dict[str, Any] = {
            "operationId": re.sub(r"[^A-Za-z0-9]+", "_", f"{route.method} {route.path}").strip("_"),
            "summary": route.summary,
            "responses": responses,
        }
        if params:
            op["parameters"] = params
        if route.request is not None:
            op["requestBody"] = schemas.request_body(route)
        paths.setdefault(route.path, {})[route.method.lower()] = op
    paths["/openapi.json"] = openapi_path(security=[])
    return openapi_document(
        title="mpcwallet WaaS API",
        description="Wallets on a t-of-n signer cluster and the transaction pipeline "
        "KYT -> POLICY -> APPROVALS -> SIGN_PENDING. Every call needs "
        "`Authorization: Bearer <API key>` (`mpc waas principal add`).",
        server_url=server_url,
        paths=paths,
        schemas=schemas,
    )
