"""POST /backtest: a registered target's last days replayed under its policies and a proposed one.

app.py imports this module at cold start, so only Chalice, the standard library and import-light
modules load here; the models, the replay, the registry and the AWS clients load on the first call.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, IAMAuthorizer

from chalicelib.api.errors import json_errors, validation_response
from chalicelib.api.request_body import json_body

backtests = Blueprint(__name__)
# Deployed stages sign every request with SigV4; `chalice local` admits requests (local stage).
iam = IAMAuthorizer()


@backtests.route("/backtest", methods=["POST"], authorizer=iam, content_types=["application/json"])
@json_errors
def backtest() -> Any:
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from chalicelib import aws, wiring
    from chalicelib.models.backtest import BacktestRequest
    from chalicelib.target_backtest import backtest_target

    try:
        request = BacktestRequest.model_validate(json_body(backtests.current_request))
    except ValidationError as exc:
        return validation_response(exc)
    response = backtest_target(request, wiring.registry(), aws.cloudwatch, datetime.now(UTC))
    return response.model_dump(mode="json")
