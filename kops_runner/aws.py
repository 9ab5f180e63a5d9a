"""boto3 clients with standard retries and bounded timeouts, in the task's region.

The endpoint is AWS's for the region unless the testing entry names one (kops_runner/testing); in
production the environment it could come from is cut first (isolation.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecs import ECSClient

_RETRIES = {"mode": "standard", "max_attempts": 5}
_CONNECT_TIMEOUT_S = 5
_READ_TIMEOUT_S = 30


@dataclass(frozen=True)
class AwsClients:
    region: str
    endpoint_url: str | None = None
    credentials: dict[str, str] = field(default_factory=dict)  # keyword arguments of client(); empty: the task role

    def _client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(retries=_RETRIES, connect_timeout=_CONNECT_TIMEOUT_S, read_timeout=_READ_TIMEOUT_S)  # type: ignore[arg-type]
        session = boto3.session.Session()
        return session.client(  # type: ignore[call-overload]
            service, region_name=self.region, endpoint_url=self.endpoint_url, config=config, **self.credentials
        )

    def ecs(self) -> ECSClient:
        client: ECSClient = self._client("ecs")
        return client

    def autoscaling(self) -> AutoScalingClient:
        client: AutoScalingClient = self._client("autoscaling")
        return client

    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._client("dynamodb")
        return client
