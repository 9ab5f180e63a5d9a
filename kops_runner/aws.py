"""boto3 clients with standard retries and bounded timeouts; AWS_ENDPOINT_URL is honoured by boto3 itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_dynamodb import DynamoDBClient

_RETRIES = {"mode": "standard", "max_attempts": 5}
_CONNECT_TIMEOUT_S = 5
_READ_TIMEOUT_S = 30


def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries=_RETRIES, connect_timeout=_CONNECT_TIMEOUT_S, read_timeout=_READ_TIMEOUT_S)  # type: ignore[arg-type]
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


def autoscaling() -> AutoScalingClient:
    client: AutoScalingClient = _client("autoscaling")
    return client


def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client
