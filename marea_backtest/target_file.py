"""A Marea target and its alarms read from files, for ``marea backtest --target`` (no AWS call).

The target is the JSON the HTTP API returns (``GET /targets/{id}``) or takes (``PUT /targets/{id}``, its
id then taken from the file's name); the alarms are ``aws cloudwatch describe-alarms`` output, whose
``MetricAlarms`` define the alarms of its step policies and the trigger alarms of its target-tracking
policies, evaluated in the replay as the Lambda's backtest evaluates them.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chalicelib.alarm_evaluation import AlarmDefinition
from chalicelib.models.targets import Target
from chalicelib.store.items import TARGET_ADAPTER


def read_target(path: Path) -> Target:
    document = _json(path)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: a target is a JSON object (as GET /targets/{{id}} returns it)")
    document.pop("version", None)  # the registry's, not the target's
    document.setdefault("id", path.stem)
    try:
        return TARGET_ADAPTER.validate_python(document)
    except ValidationError as exc:
        raise ValueError(f"{path}: not a target: {exc}") from exc


def read_alarms(path: Path, needed: Collection[str]) -> dict[str, AlarmDefinition]:
    """The ``needed`` alarms of a describe-alarms file (a target's ``alarm_names``): the file may hold any
    others, metric-math ones included, which are not read; a needed one that cannot be replayed is refused."""
    document = _json(path)
    entries = document.get("MetricAlarms") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected the output of aws cloudwatch describe-alarms (an object with MetricAlarms)")
    alarms: dict[str, AlarmDefinition] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("AlarmName") not in needed:
            continue
        try:
            definition = AlarmDefinition.from_metric_alarm(entry)  # names the fields an entry lacks
        except (ValueError, TypeError, KeyError) as exc:  # UnsupportedAlarmError, ValidationError, a bad dimension
            detail = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"{path}: MetricAlarms[{index}] ({entry['AlarmName']}): {detail}") from exc
        alarms[definition.name] = definition
    return alarms


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from exc
