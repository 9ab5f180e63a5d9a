"""One cached boto3 client factory: standard retries, bounded timeouts, AWS_ENDPOINT_URL honoured.

boto3 reads AWS_ENDPOINT_URL itself (botocore >= 1.31), which is how the `local` stage and the
tests reach the embedded AWS (moto server on 127.0.0.1). Clients are built on first use, never at
import time: Lambda cold start is a product figure.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

# HTTP attempts per call, the first included. (botocore's Config ``max_attempts`` counts retries, not
# attempts: 4 there meant 5 attempts, which the reliability suite measured.)
MAX_ATTEMPTS = 4
_RETRIES = {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
_CONNECT_TIMEOUT_S = 3
_READ_TIMEOUT_S = 10

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    with _lock:
        client = _clients.get(service)
        if client is None:
            import boto3  # deferred: keeps `import app` cheap
            from botocore.config import Config

            config = Config(retries=_RETRIES, connect_timeout=_CONNECT_TIMEOUT_S, read_timeout=_READ_TIMEOUT_S)  # type: ignore[arg-type]
            client = boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]
            _clients[service] = client
        return client


def reset_clients() -> None:
    """Forget cached clients (tests point the environment at a fresh embedded AWS)."""
    with _lock:
        _clients.clear()


def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


def autoscaling() -> AutoScalingClient:
    client: AutoScalingClient = _client("autoscaling")
    return client


def ecs() -> ECSClient:
    client: ECSClient = _client("ecs")
    return client


def cloudwatch() -> CloudWatchClient:
    client: CloudWatchClient = _client("cloudwatch")
    return client


def sqs() -> SQSClient:
    client: SQSClient = _client("sqs")
    return client


def events() -> EventBridgeClient:
    client: EventBridgeClient = _client("events")
    return client
