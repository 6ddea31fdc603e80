"""What the two OpenAPI 3.1 documents (the local API's, :mod:`mpcwallet.api.openapi`, and the
WaaS API's, :mod:`mpcwallet.waas.openapi`) build the same way: the schemas of exactly the
pydantic models the handlers use (``pydantic.json_schema.models_json_schema``: requests in
validation mode, answers in serialization mode, plus the error model), the JSON request body,
an error response, and the document around the paths (bearer security)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mpcwallet import __version__

REF = "#/components/schemas/{model}"


class Schemas:
    """The ``$ref`` of each (model, mode) and the ``$defs`` they point into."""

    def __init__(self, error_model: Any, routes: Iterable[Any]) -> None:
        from pydantic.json_schema import models_json_schema

        models: list[tuple[Any, Any]] = [(error_model, "serialization")]
        for route in routes:
            if route.request is not None:
                models.append((route.request, "validation"))
            models.append((route.response, "serialization"))
        self.refs, self.defs = models_json_schema(models, ref_template=REF)
        self.error_ref = self.refs[(error_model, "serialization")]

    def ok(self, route: Any) -> dict[str, Any]:
        schema = self.refs[(route.response, "serialization")]
        return {"description": "OK", "content": {"application/json": {"schema": schema}}}

    def error(self, description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": self.error_ref}},
        }

    def request_body(self, route: Any) -> dict[str, Any]:
        schema = self.refs[(route.request, "validation")]
        return {"required": True, "content": {"application/json": {"schema": schema}}}


def openapi_path(**extra: Any) -> dict[str, Any]:
    """``GET /openapi.json`` (``extra``: more keys of the operation; ``responses`` adds to
    its 200)."""
    responses = {
        "200": {
            "description": "OpenAPI 3.1 document",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **extra.pop("responses", {}),
    }
    return {"get": {"operationId": "openapi", "summary": "This document", **extra,
                    "responses": responses}}  # fmt: skip


def document(
    *, title: str, description: str, server_url: str, paths: dict[str, Any], schemas: Schemas
) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__, "description": description},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas.defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
