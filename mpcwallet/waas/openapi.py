"""The OpenAPI 3.1 document of the WaaS API, generated from the route table and its pydantic
models (``models_json_schema``: requests in validation mode, answers in serialization mode)."""

from __future__ import annotations

import re
from typing import Any

from mpcwallet import __version__

REF = "#/components/schemas/{model}"
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
    from pydantic.json_schema import models_json_schema

    from mpcwallet.waas.app import ROUTES
    from mpcwallet.waas.models import ErrorResponse

    models: list[tuple[Any, Any]] = [(ErrorResponse, "serialization")]
    for route in ROUTES:
        if route.request is not None:
            models.append((route.request, "validation"))
        models.append((route.response, "serialization"))
    refs, defs = models_json_schema(models, ref_template=REF)
    error_ref = refs[(ErrorResponse, "serialization")]
    paths: dict[str, Any] = {}
    for route in ROUTES:
        ok = {
            "description": "OK",
            "content": {"application/json": {"schema": refs[(route.response, "serialization")]}},
        }
        responses: dict[str, Any] = {"200": ok}
        if route.created:
            responses["201"] = {**ok, "description": "Created"}
        for code, text in _ERRORS.items():
            responses[code] = {
                "description": text,
                "content": {"application/json": {"schema": error_ref}},
            }
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
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(route.request, "validation")]}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = op
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mpcwallet WaaS API",
            "version": __version__,
            "description": "Wallets on a t-of-n signer cluster and the transaction pipeline "
            "KYT -> POLICY -> APPROVALS -> SIGN_PENDING. Every call needs "
            "`Authorization: Bearer <API key>` (`mpc waas principal add`).",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
