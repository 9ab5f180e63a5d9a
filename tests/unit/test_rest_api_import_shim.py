"""The embedded AWS's shim for ImportRestApi/PutRestApi (marea_local/rest_api_import_shim.py): Chalice's Swagger
2.0 in the OpenAPI 3 shape moto reads, other requests passed through as they came."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

from marea_local.rest_api_import_shim import import_shim, openapi3_from_swagger2

SWAGGER = {
    "swagger": "2.0",
    "info": {"version": "1.0", "title": "marea"},
    "paths": {"/targets": {"get": {"responses": {"200": {"schema": {"$ref": "#/definitions/Empty"}}}}}},
    "definitions": {"Empty": {"type": "object"}},
    "securityDefinitions": {"sigv4": {"type": "apiKey", "x-amazon-apigateway-authtype": "awsSigv4"}},
}
APIGATEWAY_SIGNATURE = "AWS4-HMAC-SHA256 Credential=testing/20261202/us-east-1/apigateway/aws4_request, ..."


def test_swagger_2_becomes_the_openapi_3_shape_moto_reads() -> None:
    translated = openapi3_from_swagger2(SWAGGER)

    assert "swagger" not in translated
    assert translated["openapi"].startswith("3.")
    assert translated["info"] == {"description": "", "version": "1.0", "title": "marea"}
    assert translated["components"]["schemas"] == SWAGGER["definitions"]
    assert translated["components"]["securitySchemes"] == SWAGGER["securityDefinitions"]
    response = translated["paths"]["/targets"]["get"]["responses"]["200"]
    assert response["schema"]["$ref"] == "#/components/schemas/Empty"


def test_an_openapi_3_document_passes_as_it_is() -> None:
    document = {"openapi": "3.0.1", "info": {"title": "x", "description": "y"}, "paths": {}}

    assert openapi3_from_swagger2(document) is document


def _call(method: str, path: str, query: str, authorization: str, body: bytes) -> bytes:
    seen: dict[str, bytes] = {}

    def moto(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen["body"] = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        return [b""]

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": authorization,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    import_shim(moto)(environ, lambda *_: None)
    return seen["body"]


def test_chalices_import_and_overwrite_reach_moto_translated() -> None:
    body = json.dumps(SWAGGER).encode()

    imported = json.loads(_call("POST", "/restapis", "mode=import", APIGATEWAY_SIGNATURE, body))
    overwritten = json.loads(_call("PUT", "/restapis/a1b2c3", "mode=overwrite", APIGATEWAY_SIGNATURE, body))

    assert imported["openapi"].startswith("3.")
    assert overwritten["openapi"].startswith("3.")


def test_other_requests_reach_moto_untouched() -> None:
    body = json.dumps(SWAGGER).encode()
    lambda_signature = APIGATEWAY_SIGNATURE.replace("/apigateway/", "/lambda/")

    assert _call("POST", "/restapis", "", APIGATEWAY_SIGNATURE, body) == body  # CreateRestApi
    assert _call("PUT", "/restapis/a1b2c3", "", lambda_signature, body) == body  # another service's path
    assert _call("PUT", "/restapis/a1b2c3", "mode=overwrite", APIGATEWAY_SIGNATURE, b"not json") == b"not json"
