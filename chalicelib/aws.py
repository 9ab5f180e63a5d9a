"""One cached boto3 client factory: standard retries, bounded timeouts, AWS_ENDPOINT_URL honoured.

boto3 reads AWS_ENDPOINT_URL itself (botocore >= 1.31), which is how the `local` stage and the
tests reach the embedded AWS (moto server on 127.0.0.1). Clients are built on first use, never at
import time: Lambda cold start is a product figure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Limits:
    attempts: int = MAX_ATTEMPTS
    connect_timeout_s: float = 3
    read_timeout_s: float = 10


# Decision events are put after the decision is recorded, inside the evaluating Lambda: an EventBridge
# outage costs an evaluation at most about 5 s (2 attempts of 1 + 1.5 s), not 4 x 13 s.
_LIMITS = {"events": _Limits(attempts=2, connect_timeout_s=1, read_timeout_s=1.5)}

_lock = threading.Lock()
_clients: dict[str, Any] = {}
# botocore event handlers put on every client, made or to be made (benchmarks count every call with them).
_hooks: list[tuple[str, Callable[..., Any]]] = []


def _client(service: str) -> Any:
    with _lock:
        client = _clients.get(service)
        if client is None:
            import boto3  # deferred: keeps `import app` cheap
            from botocore.config import Config

            limits = _LIMITS.get(service, _Limits())
            config = Config(
                retries={"mode": "standard", "total_max_attempts": limits.attempts},
                connect_timeout=limits.connect_timeout_s,
                read_timeout=limits.read_timeout_s,
            )
            client = boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]
            for event, handler in _hooks:
                client.meta.events.register(event, handler)
            _clients[service] = client
        return client


def reset_clients() -> None:
    """Forget cached clients and their hooks (tests point the environment at a fresh embedded AWS)."""
    with _lock:
        _clients.clear()
        _hooks.clear()


def on_every_client(event: str, handler: Callable[..., Any]) -> None:
    """Register a botocore event handler on each client Marea has made and will make, whatever its service."""
    with _lock:
        _hooks.append((event, handler))
        for client in _clients.values():
            client.meta.events.register(event, handler)


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
