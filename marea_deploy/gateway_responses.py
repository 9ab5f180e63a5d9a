"""API Gateway's own error answers in the API's error shape, for both ways of deploying.

API Gateway answers some requests itself (a route that does not exist or an unsigned request: 403
MISSING_AUTHENTICATION_TOKEN, a bad signature, throttling, ...) with {"message": ...}. These gateway
responses give those answers the API's {"code", "message"}; $context.error.messageString is the
message already quoted as a JSON string. `make package` merges them into Chalice's template
(infra/package.py); `make deploy` puts them after `chalice deploy` (marea_deploy/lambdas.py), which
cannot declare them.
"""

from __future__ import annotations

GATEWAY_ERROR_TEMPLATE = '{"code": "$context.error.responseType", "message": $context.error.messageString}'
GATEWAY_RESPONSES = {
    response_type: {"responseTemplates": {"application/json": GATEWAY_ERROR_TEMPLATE}}
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX")
}
