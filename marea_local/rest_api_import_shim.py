"""A shim at the embedded AWS for the one call of `chalice deploy` moto cannot take: importing the REST API.

Chalice sends API Gateway its routes as a Swagger 2.0 document (ImportRestApi on the first deploy,
PutRestApi with mode=overwrite after). AWS accepts Swagger 2.0 and OpenAPI 3; moto 5.2.5 accepts
only OpenAPI 3 ("Only OpenAPI 3.x.x are currently supported") and reads ``info.description``, which
Chalice's document has none of (a KeyError: HTTP 500). So this WSGI middleware, put around moto's app
by the deploy rehearsal (`marea_local.deploy_rehearsal`), rewrites such a request body into the
OpenAPI 3 shape moto reads before moto sees it: ``openapi`` in place of ``swagger``, an empty
description when there is none, ``definitions`` and ``securityDefinitions`` under ``components``
(with their ``$ref``s). Paths, methods, responses and the ``x-amazon-apigateway-integration`` of each
method, which moto turns into resources, methods and Lambda integrations, pass as they are.

It is not a general Swagger converter, and it changes nothing that `chalice deploy` sends to a real
AWS: it runs only inside the embedded AWS, and only on these two calls.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# ImportRestApi: POST /restapis?mode=import; PutRestApi: PUT /restapis/{id}.
_IMPORT = re.compile(r"^/restapis/?$")
_PUT = re.compile(r"^/restapis/[^/]+/?$")


def openapi3_from_swagger2(document: dict[str, Any]) -> dict[str, Any]:
    """The document in the OpenAPI 3 shape moto reads; an OpenAPI 3 document is returned as it is."""
    if str(document.get("swagger", "")) != "2.0":
        return document
    moved = {"definitions", "securityDefinitions", "swagger"}
    translated: dict[str, Any] = {key: value for key, value in document.items() if key not in moved}
    translated["openapi"] = "3.0.1"
    translated["info"] = {"description": "", **document.get("info", {})}
    components: dict[str, Any] = {}
    if "definitions" in document:
        components["schemas"] = document["definitions"]
    if "securityDefinitions" in document:
        components["securitySchemes"] = document["securityDefinitions"]
    if components:
        translated["components"] = components
    moved_refs: dict[str, Any] = _refs_moved(translated)
    return moved_refs


def _refs_moved(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (item.replace("#/definitions/", "#/components/schemas/", 1) if key == "$ref" else _refs_moved(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_refs_moved(item) for item in value]
    return value


def _is_api_import(environ: Environ) -> bool:
    if "/apigateway/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
        return False  # another service's request (moto tells services apart by the signature's scope)
    method = environ.get("REQUEST_METHOD", "")
    path = environ.get("PATH_INFO", "")
    if method == "POST" and _IMPORT.match(path):
        return parse_qs(environ.get("QUERY_STRING", "")).get("mode") == ["import"]
    return method == "PUT" and bool(_PUT.match(path))


def import_shim(app: WsgiApp) -> WsgiApp:
    """moto's WSGI app, with ImportRestApi and PutRestApi bodies translated first (see the module's doc)."""

    def shimmed(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if _is_api_import(environ):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            try:
                document = json.loads(body)
            except ValueError:
                document = None  # not JSON: moto answers it as it would
            if isinstance(document, dict):
                body = json.dumps(openapi3_from_swagger2(document)).encode()
            environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        return app(environ, start_response)

    return shimmed
