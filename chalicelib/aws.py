"""One cached AWS client factory: standard retries, bounded timeouts, AWS_ENDPOINT_URL honoured.

The clients are botocore's own, as boto3 makes them (boto3 adds to a low-level client only S3's transfer
methods and its name in the User-Agent, where Marea puts ``app/marea`` instead); boto3 itself is not imported,
which spares a cold start its import (with s3transfer's; docs/cold-start.md). botocore reads AWS_ENDPOINT_URL
itself (>= 1.31), which is how the `local` stage and the tests reach the embedded AWS (moto server on
127.0.0.1). Clients are built on first use, never at import time: Lambda cold start is a product figure.

A client is for one account and Region (chalicelib/models/location.py): Marea's own by default; another
Region with Marea's own credentials; another account as the role the target names, with the credentials
of chalicelib/assumed_roles.py (cached for reads, a session of its own per change).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.models.location import HOME, Location

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient

# HTTP attempts per call, the first included. (botocore's Config ``max_attempts`` counts retries, not
# attempts: 4 there meant 5 attempts, which the reliability suite measured.)
MAX_ATTEMPTS = 4
# In every request's User-Agent (app/marea): CloudTrail's userAgent tells Marea's calls from other tools'.
USER_AGENT_APP_ID = "marea"


@dataclass(frozen=True)
class _Limits:
    attempts: int = MAX_ATTEMPTS
    connect_timeout_s: float = 3
    read_timeout_s: float = 10


# Decision events are put after the decision is recorded, inside the evaluating Lambda: an EventBridge
# outage costs an evaluation at most about 5 s (2 attempts of 1 + 1.5 s), not 4 x 13 s.
_LIMITS = {"events": _Limits(attempts=2, connect_timeout_s=1, read_timeout_s=1.5)}

_lock = threading.RLock()  # a client for another account builds Marea's own STS client under it
_clients: dict[tuple[str, Location], Any] = {}
# One botocore session for Marea's own credentials: its clients share one loader, so each service's model and
# the endpoint rules are read from disk once per container, not once per client (a cold start's largest
# share after the imports). Clients are made under _lock: a session is not safe to share across threads.
_session: list[Any] = []
# botocore event handlers put on every client, made or to be made (benchmarks count every call with them).
_hooks: list[tuple[str, Callable[..., Any]]] = []


def _client(service: str, location: Location = HOME, session_name: str | None = None) -> Any:
    """The client of ``service`` where ``location`` says. ``session_name``: a client of its own whose role
    session carries that name (a change, named by its decision id); Marea's own role has no session to name."""
    if session_name is not None and location.role_arn is not None:
        return _build(service, location, session_name)
    with _lock:
        client = _clients.get((service, location))
        if client is None:
            client = _build(service, location, None)
            _clients[(service, location)] = client
        return client


def _build(service: str, location: Location, session_name: str | None) -> Any:
    import botocore.session  # deferred: keeps `import app` cheap
    from botocore.config import Config

    limits = _LIMITS.get(service, _Limits())
    config = Config(  # type: ignore[call-arg]  # user_agent_appid: botocore >= 1.31 has it, its stubs do not
        user_agent_appid=USER_AGENT_APP_ID,
        retries={"mode": "standard", "total_max_attempts": limits.attempts},
        connect_timeout=limits.connect_timeout_s,
        read_timeout=limits.read_timeout_s,
    )
    with _lock:
        if not _session:
            _session.append(botocore.session.get_session())
        session = _session[0]
    if location.role_arn is not None:
        from chalicelib.assumed_roles import role_session

        session = role_session(location, session_name, sts, loader=session.get_component("data_loader"))
    client = session.create_client(service, region_name=location.region, config=config)
    with _lock:
        for event, handler in _hooks:
            client.meta.events.register(event, handler)
    return client


def reset_clients() -> None:
    """Forget cached clients, credentials and hooks (tests point the environment at a fresh embedded AWS)."""
    from chalicelib import assumed_roles

    with _lock:
        _clients.clear()
        _hooks.clear()
        _session.clear()
        _own_account.clear()
        assumed_roles.reset()


def forget(location: Location) -> None:
    """Build ``location``'s clients and assume its role again on their next use (its token was refused): the
    clients of every Region that share the role's read session, which is refused in all of them alike."""
    from chalicelib import assumed_roles

    def same_session(other: Location) -> bool:
        if location.role_arn is None:
            return other == location
        return (other.role_arn, other.external_id) == (location.role_arn, location.external_id)

    with _lock:
        for key in [key for key in _clients if same_session(key[1])]:
            del _clients[key]
        assumed_roles.forget(location)


def on_every_client(event: str, handler: Callable[..., Any]) -> None:
    """Register a botocore event handler on each client Marea has made and will make, whatever its service."""
    with _lock:
        _hooks.append((event, handler))
        for client in _clients.values():
            client.meta.events.register(event, handler)


def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


def autoscaling(location: Location = HOME, session_name: str | None = None) -> AutoScalingClient:
    client: AutoScalingClient = _client("autoscaling", location, session_name)
    return client


def ecs(location: Location = HOME, session_name: str | None = None) -> ECSClient:
    client: ECSClient = _client("ecs", location, session_name)
    return client


def cloudwatch(location: Location = HOME) -> CloudWatchClient:
    client: CloudWatchClient = _client("cloudwatch", location)
    return client


_own_account: list[str] = []


def own_account() -> str:
    """The account Marea runs in (STS GetCallerIdentity, which needs no permission), asked once per container."""
    if not _own_account:
        _own_account.append(sts().get_caller_identity()["Account"])
    return _own_account[0]


def sts() -> STSClient:
    """Marea's own STS client, in its own Region: a regional endpoint's session tokens are valid in every Region."""
    client: STSClient = _client("sts")
    return client


def sqs() -> SQSClient:
    client: SQSClient = _client("sqs")
    return client


def events() -> EventBridgeClient:
    client: EventBridgeClient = _client("events")
    return client
