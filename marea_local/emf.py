"""A stand-in for the ECS `awslogs` driver and CloudWatch Logs' Embedded Metric Format extraction.

On ECS a task's stdout goes to CloudWatch Logs, which turns every EMF line (a JSON object whose
``_aws`` member declares metrics) into metric datapoints: for each metric directive, each dimension
set and each metric named, the value(s) found at the top level of the document, at the document's
``_aws.Timestamp``. Lines that are not EMF are only logs. Here the lines come from real chat
processes and the datapoints go to the embedded CloudWatch with PutMetricData.

Reference: CloudWatch User Guide, "Specification: Embedded metric format".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# PutMetricData API reference: "Each request ... can contain up to 1000 metrics".
MAX_METRIC_DATA_PER_CALL = 1000
# EMF specification: at most 30 dimensions in a dimension set, at most 100 values in a metric's array.
MAX_DIMENSIONS = 30
MAX_VALUES = 100


class EmfError(ValueError):
    """A line that declares EMF metrics (it has ``_aws``) but breaks the specification."""


@dataclass(frozen=True)
class EmfSample:
    """The values of one metric, in one dimension set, from one EMF line."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]  # (name, value), in the dimension set's order
    unit: str | None
    timestamp_ms: int
    values: tuple[float, ...]
    storage_resolution: int = 60  # EMF's StorageResolution: 1 for a high-resolution metric


def parse_emf_line(line: str) -> list[EmfSample]:
    """The metric samples one log line carries: [] when the line is not EMF (a plain log line).

    Raises EmfError when the line is a JSON object with ``_aws`` that CloudWatch would not accept.
    """
    text = line.strip()
    if not text.startswith("{"):
        return []
    try:
        document = json.loads(text)
    except ValueError:
        return []
    if not isinstance(document, dict) or "_aws" not in document:
        return []
    metadata = document["_aws"]
    if not isinstance(metadata, dict):
        raise EmfError("_aws must be an object")
    timestamp_ms = metadata.get("Timestamp")
    if not isinstance(timestamp_ms, int) or isinstance(timestamp_ms, bool) or timestamp_ms < 0:
        raise EmfError("_aws.Timestamp must be a non-negative integer (epoch milliseconds)")
    directives = metadata.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise EmfError("_aws.CloudWatchMetrics must be an array")
    samples: list[EmfSample] = []
    for directive in directives:
        samples.extend(_directive_samples(directive, document, timestamp_ms))
    return samples


def _directive_samples(directive: Any, document: dict[str, Any], timestamp_ms: int) -> list[EmfSample]:
    if not isinstance(directive, dict):
        raise EmfError("a metric directive must be an object")
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not namespace:
        raise EmfError("a metric directive needs a Namespace")
    dimension_sets = directive.get("Dimensions")
    metrics = directive.get("Metrics")
    if not isinstance(dimension_sets, list) or not isinstance(metrics, list):
        raise EmfError("a metric directive needs Dimensions and Metrics arrays")
    resolved = [_dimension_values(names, document) for names in dimension_sets] or [()]
    samples: list[EmfSample] = []
    for metric in metrics:
        name, unit, resolution = _metric_definition(metric)
        values = _metric_values(name, document)
        samples.extend(
            EmfSample(namespace, name, dimensions, unit, timestamp_ms, values, resolution) for dimensions in resolved
        )
    return samples


def _dimension_values(names: Any, document: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    if not isinstance(names, list) or len(names) > MAX_DIMENSIONS:
        raise EmfError(f"a dimension set must be an array of at most {MAX_DIMENSIONS} names")
    pairs = []
    for name in names:
        value = document.get(name) if isinstance(name, str) else None
        if not isinstance(value, str):
            raise EmfError(f"dimension {name!r} needs a string value at the top level")
        pairs.append((name, value))
    return tuple(pairs)


def _metric_definition(metric: Any) -> tuple[str, str | None, int]:
    if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str) or not metric["Name"]:
        raise EmfError("a metric definition needs a Name")
    unit = metric.get("Unit")
    if unit is not None and not isinstance(unit, str):
        raise EmfError(f"metric {metric['Name']!r}: Unit must be a string")
    resolution = metric.get("StorageResolution", 60)
    if resolution not in (1, 60) or isinstance(resolution, bool):
        raise EmfError(f"metric {metric['Name']!r}: StorageResolution must be 1 or 60")
    return metric["Name"], unit, resolution


def _metric_values(name: str, document: dict[str, Any]) -> tuple[float, ...]:
    raw = document.get(name)
    values = raw if isinstance(raw, list) else [raw]
    if not values or len(values) > MAX_VALUES:
        raise EmfError(f"metric {name!r} needs 1 to {MAX_VALUES} values")
    numbers: list[float] = []
    for value in values:
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise EmfError(f"metric {name!r} needs a finite number at the top level, got {value!r}")
        numbers.append(float(value))
    return tuple(numbers)


def put_metric_data_requests(
    samples: Iterable[tuple[EmfSample, datetime]], *, scale: float = 1.0
) -> list[dict[str, Any]]:
    """PutMetricData arguments for samples placed at the given timestamps (one request per namespace
    and 1000 metrics).

    Samples with the same metric, dimensions, unit and timestamp travel as one statistic set
    (SampleCount, Sum, Minimum, Maximum): CloudWatch's statistics over it are those of the single
    values, and the embedded CloudWatch stores one datum instead of hundreds. ``scale`` multiplies
    every value (the demo's "one real client stands for K users").
    """
    groups: dict[tuple[str, str, tuple[tuple[str, str], ...], str | None, int, datetime], list[float]] = {}
    for sample, at in samples:
        key = (sample.namespace, sample.metric_name, sample.dimensions, sample.unit, sample.storage_resolution, at)
        groups.setdefault(key, []).extend(value * scale for value in sample.values)
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for (namespace, name, dimensions, unit, resolution, at), values in groups.items():
        datum: dict[str, Any] = {
            "MetricName": name,
            "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions],
            "Timestamp": at,
            "StatisticValues": {
                "SampleCount": float(len(values)),
                "Sum": math.fsum(values),
                "Minimum": min(values),
                "Maximum": max(values),
            },
        }
        if unit is not None:
            datum["Unit"] = unit
        if resolution == 1:
            datum["StorageResolution"] = 1
        by_namespace.setdefault(namespace, []).append(datum)
    return [
        {"Namespace": namespace, "MetricData": data[index : index + MAX_METRIC_DATA_PER_CALL]}
        for namespace, data in by_namespace.items()
        for index in range(0, len(data), MAX_METRIC_DATA_PER_CALL)
    ]
