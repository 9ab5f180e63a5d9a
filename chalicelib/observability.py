"""Logger, Metrics and Tracer: built once, on first use (not at import: cold start is a product figure)."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "marea"
NAMESPACE = "Marea"


@lru_cache(maxsize=1)
def logger() -> Logger:
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE)


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=SERVICE)


@lru_cache(maxsize=1)
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def count(name: str, kind: str | None = None, value: float = 1) -> None:
    """Add to an EMF counter, once overall and once per target kind when given."""
    from aws_lambda_powertools.metrics import MetricUnit

    metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)
    if kind:
        metrics().add_metric(name=f"{name}.{kind}", unit=MetricUnit.Count, value=value)


def middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every handler: correlation id = event id, metrics flushed, traced.

    Registered once with ``app.register_middleware`` (Powertools' decorators expect a Lambda
    context argument that Chalice event handlers do not receive).
    """
    log = logger()
    raw = event.to_dict() if hasattr(event, "to_dict") else {}
    context = getattr(event, "context", None) or getattr(event, "lambda_context", None)
    correlation_id = raw.get("id") if isinstance(raw, dict) else None
    if correlation_id is None and context is not None:
        correlation_id = getattr(context, "aws_request_id", None)
    log.set_correlation_id(correlation_id)
    log.append_keys(detail_type=raw.get("detail-type") if isinstance(raw, dict) else None)
    try:
        if not traced():
            return get_response(event)
        with tracer().provider.in_subsegment("## marea handler") as subsegment:
            subsegment.put_annotation(key="correlation_id", value=str(correlation_id))
            return get_response(event)
    finally:
        _flush_metrics()
        log.remove_keys(["detail_type"])


def traced() -> bool:
    """Whether X-Ray traces this invocation: Lambda's trace header (``_X_AMZN_TRACE_ID``, set per invocation)
    says ``Sampled=1`` and POWERTOOLS_TRACE_DISABLED does not turn tracing off.

    A subsegment of an unsampled invocation is never sent, so the X-Ray SDK (which Powertools' Tracer
    imports and patches: about a second of a cold start here) is loaded only when one is: never for a
    stage without active tracing (Chalice's default), at the first sampled invocation for one with it.
    """
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    return "Sampled=1" in os.environ.get("_X_AMZN_TRACE_ID", "")


def _flush_metrics() -> None:
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED (local stage): drop, never print
        metrics().clear_metrics()
    else:
        metrics().flush_metrics(raise_on_empty_metrics=False)
