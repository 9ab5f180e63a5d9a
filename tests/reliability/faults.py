"""AWS faults injected into the calls Marea makes, below botocore's retries.

A ``before-send`` hook on every client ``chalicelib.aws`` hands out runs before each HTTP attempt
(retries included). For a share of attempts it answers in the service's own wire protocol with a
throttling error (``ThrottlingException``/``Throttling``, ``RequestLimitExceeded``) or a 5xx, or
raises the exceptions botocore raises for a read timeout or a reset connection. One kind is the
nastiest for an autoscaler: ``reply_lost`` sends the request to the embedded AWS, which carries
it out, and then reports a read timeout, as when an answer is lost on the way back. botocore's
standard retry mode (Marea's: chalicelib/aws.py, 4 attempts per call) then retries each fault as it
would against AWS, so the hook exercises Marea's real retry configuration, not a mock of it.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from unittest.mock import patch

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

FAULT_KINDS = ("throttling", "request_limit", "server_error", "read_timeout", "connection_reset", "reply_lost")
_THROTTLING_CODES = {"json": "ThrottlingException", "query": "Throttling", "smithy-rpc-v2-cbor": "ThrottlingException"}
_HOOK = "marea-reliability-faults"


@dataclass(frozen=True)
class FaultPlan:
    """Which attempts fail, and how. ``operations``: only these (e.g. "dynamodb.TransactWriteItems"); empty: all.
    ``operation_rates``: (operation, rate) pairs that fail at their own rate instead of ``rate``."""

    rate: float
    seed: int = 7
    kinds: tuple[str, ...] = FAULT_KINDS
    operations: tuple[str, ...] = ()
    operation_rates: tuple[tuple[str, float], ...] = ()

    def rate_of(self, operation: str) -> float:
        return dict(self.operation_rates).get(operation, self.rate)


class _Body:
    """The ``raw`` of an AWSResponse: something with ``stream()``."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        return iter([self._body])


def _cbor_text(text: str) -> bytes:
    raw = text.encode()
    if len(raw) < 24:
        return bytes([0x60 + len(raw)]) + raw
    if len(raw) < 256:
        return bytes([0x78, len(raw)]) + raw
    return bytes([0x79]) + len(raw).to_bytes(2, "big") + raw


def cbor_map(values: dict[str, str]) -> bytes:
    """A CBOR map of text strings (all CloudWatch's rpc-v2-cbor error body needs)."""
    return bytes([0xA0 + len(values)]) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in values.items())


def error_response(protocol: str, code: str, status: int, url: str) -> AWSResponse:
    """An error answer as the service would send it, in its wire protocol."""
    message = f"injected by the reliability suite ({code})"
    headers = {"x-amzn-RequestId": "reliability-fault"}
    if status >= 500:
        body = b""  # botocore reads an empty 5xx body as a generic server error, whatever the protocol
    elif protocol == "query":
        headers["Content-Type"] = "text/xml"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>reliability-fault</RequestId></ErrorResponse>"
        ).encode()
    elif protocol == "smithy-rpc-v2-cbor":
        headers["Content-Type"] = "application/cbor"
        headers["smithy-protocol"] = "rpc-v2-cbor"
        body = cbor_map({"__type": code, "message": message})
    else:
        headers["Content-Type"] = "application/x-amz-json-1.0"
        body = json.dumps({"__type": code, "message": message}).encode()
    return AWSResponse(url, status, HTTPHeaders.from_dict(headers), _Body(body))


@dataclass
class FaultInjector:
    """Install on this process's Marea clients; ``injected`` counts the faults by kind, ``injected_into`` by
    operation."""

    plan: FaultPlan
    enabled: bool = True
    injected: Counter[str] = field(default_factory=Counter)
    injected_into: Counter[str] = field(default_factory=Counter)
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _session: URLLib3Session = field(default_factory=URLLib3Session)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.plan.seed)

    def install(self) -> None:
        from chalicelib import aws

        for factory in (aws.dynamodb, aws.autoscaling, aws.ecs, aws.cloudwatch, aws.sqs):
            client: Any = factory()
            model = client.meta.service_model
            hook = partial(self._before_send, protocol=model.resolved_protocol, service=model.service_name)
            client.meta.events.register(f"before-send.{model.service_id.hyphenize()}", hook, unique_id=_HOOK)

    def uninstall(self) -> None:
        from chalicelib import aws

        for factory in (aws.dynamodb, aws.autoscaling, aws.ecs, aws.cloudwatch, aws.sqs):
            client: Any = factory()
            client.meta.events.unregister(
                f"before-send.{client.meta.service_model.service_id.hyphenize()}", unique_id=_HOOK
            )

    def _roll(self, operation: str) -> str | None:
        if not self.enabled or (self.plan.operations and operation not in self.plan.operations):
            return None
        with self._lock:
            failing = self._rng.random() < self.plan.rate_of(operation)
            kind = self._rng.choice(self.plan.kinds)
            if failing:
                self.injected[kind] += 1
                self.injected_into[operation] += 1
        return kind if failing else None

    def _before_send(
        self, request: AWSPreparedRequest, protocol: str, service: str, event_name: str, **_: Any
    ) -> AWSResponse | None:
        kind = self._roll(f"{service}.{event_name.rsplit('.', 1)[-1]}")
        if kind is None:
            return None
        if kind == "read_timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "connection_reset":
            raise ConnectionClosedError(endpoint_url=request.url)
        if kind == "reply_lost":
            self._session.send(request)  # AWS carries the request out; its answer never arrives
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "server_error":
            return error_response(protocol, "InternalFailure", 500 if self._rng.random() < 0.5 else 503, request.url)
        code = "RequestLimitExceeded" if kind == "request_limit" else _THROTTLING_CODES.get(protocol, "Throttling")
        return error_response(protocol, code, 400, request.url)


@contextmanager
def short_backoff(scale: float = 0.02) -> Iterator[None]:
    """Shrink botocore's throttling backoff (1 s base) to keep fault runs short.

    Only the sleeping between attempts changes: how many attempts, which errors are retried and the
    retry quota stay botocore's standard mode as Marea configures it.
    """
    from botocore.retries.standard import ExponentialBackoff

    config = {"throttling_base_scale": scale, "non_throttling_base_scale": 0.05 * scale}
    with patch.dict(ExponentialBackoff._DEFAULT_BACKOFF_CONFIG, config):  # type: ignore[attr-defined]
        yield
