"""Build the EventBridge events AWS would send, byte-for-byte in AWS's format.

Formats: "Alarm events and EventBridge" (CloudWatch user guide) for alarm state changes, and the
EventBridge "Scheduled Event" that a schedule rule emits. chalicelib.models.events parses both.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.alarm_evaluation import AlarmDefinition, AlarmEvaluation, cloudwatch_timestamp
from chalicelib.models.events import ALARM_DETAIL_TYPE, ALARM_SOURCE, SCHEDULE_DETAIL_TYPE, SCHEDULE_SOURCE
from chalicelib.models.signals import AlarmState

DEFAULT_ACCOUNT = "123456789012"  # moto's default account, also the one in AWS's examples
EVENT_VERSION = "0"  # "By default, this is set to 0 (zero) in all events."


def alarm_state_change_event(
    definition: AlarmDefinition,
    evaluation: AlarmEvaluation,
    previous_state: AlarmState,
    previous_reason: str,
    *,
    time: datetime,
    account: str = DEFAULT_ACCOUNT,
    region: str,
    event_id: str | None = None,
    previous_reason_data: Mapping[str, Any] | None = None,
    previous_timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The "CloudWatch Alarm State Change" event for ``definition`` moving to ``evaluation.state``.

    ``previous_timestamp`` is when the previous state began (defaults to ``time``).
    """
    previous: dict[str, Any] = {
        "reason": previous_reason,
        "timestamp": _state_timestamp(previous_timestamp or time),
        "value": str(previous_state),
    }
    if previous_reason_data is not None:
        previous["reasonData"] = json.dumps(previous_reason_data, separators=(",", ":"))
    configuration: dict[str, Any] = {"metrics": [_metric_query(definition)]}
    if definition.description:
        configuration = {"description": definition.description, **configuration}
    detail = {
        "alarmName": definition.name,
        "configuration": configuration,
        "previousState": previous,
        "state": {
            "reason": evaluation.reason,
            # A JSON document inside a string, as CloudWatch sends it.
            "reasonData": json.dumps(evaluation.reason_data, separators=(",", ":")),
            "timestamp": _state_timestamp(time),
            "value": str(evaluation.state),
        },
    }
    return _envelope(ALARM_DETAIL_TYPE, ALARM_SOURCE, account, region, time, [definition.arn], detail, event_id)


def scheduled_tick_event(rule_arn: str, time: datetime, event_id: str | None = None) -> dict[str, Any]:
    """The event an EventBridge schedule rule emits; account and region come from the rule ARN."""
    parts = rule_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "events" or not parts[5].startswith("rule/"):
        raise ValueError(f"not an EventBridge rule ARN: {rule_arn!r}")
    region, account = parts[3], parts[4]
    return _envelope(SCHEDULE_DETAIL_TYPE, SCHEDULE_SOURCE, account, region, time, [rule_arn], {}, event_id)


def _metric_query(definition: AlarmDefinition) -> dict[str, Any]:
    metric_stat: dict[str, Any] = {
        "metric": {
            "dimensions": dict(definition.dimensions),
            "name": definition.metric_name,
            "namespace": definition.namespace,
        },
        "period": definition.period_s,
        "stat": definition.statistic,
    }
    if definition.unit:
        metric_stat["unit"] = definition.unit
    # CloudWatch gives the alarm's metric a stable opaque id; derive one from the ARN.
    metric_id = str(uuid.uuid5(uuid.NAMESPACE_URL, definition.arn))
    return {"id": metric_id, "metricStat": metric_stat, "returnData": True}


def _envelope(
    detail_type: str,
    source: str,
    account: str,
    region: str,
    time: datetime,
    resources: list[str],
    detail: dict[str, Any],
    event_id: str | None,
) -> dict[str, Any]:
    return {
        "version": EVENT_VERSION,
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": _event_time(time),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def _event_time(moment: datetime) -> str:
    """EventBridge's envelope time: whole seconds, UTC, "Z" (2019-10-02T17:04:40Z)."""
    _require_aware(moment)
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _state_timestamp(moment: datetime) -> str:
    _require_aware(moment)
    return cloudwatch_timestamp(moment)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"event times must be timezone-aware, got {moment.isoformat()}")
