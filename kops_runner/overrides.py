"""What the caller of RunTask may ask of the runner: `MAREA_DECISION_ID` on its own container, nothing else.

Anything else in the task's overrides (as ECS recorded them, kops_runner/task.py) is refused, naming
what was overridden, never its value.
"""

from __future__ import annotations

import re
from typing import Any

from kops_runner.errors import BadRequest
from kops_runner.settings import ULID_PATTERN

DECISION_VARIABLE = "MAREA_DECISION_ID"
# Keys of an override that override nothing when empty (DescribeTasks lists every container, often with a name only).
_EMPTY: tuple[Any, ...] = (None, [], {}, "")


def overridden(overrides: dict[str, Any], container_name: str) -> list[str]:
    """What the overrides change besides MAREA_DECISION_ID on this container: names only, never values."""
    found = [key for key, value in overrides.items() if key != "containerOverrides" and value not in _EMPTY]
    for override in overrides.get("containerOverrides") or []:
        name = override.get("name", "?")
        for key, value in override.items():
            if key in ("name", "environment") or value in _EMPTY:
                continue
            found.append(f"containerOverrides[{name}].{key}")
        for pair in override.get("environment") or []:
            if name != container_name or pair.get("name") != DECISION_VARIABLE:
                found.append(f"containerOverrides[{name}].environment {pair.get('name')}")
    return found


def decision_id_of(overrides: dict[str, Any], container_name: str) -> str | None:
    """The MAREA_DECISION_ID override on this container, if it is a decision id (a ULID)."""
    values = [
        pair.get("value")
        for override in overrides.get("containerOverrides") or []
        if override.get("name") == container_name
        for pair in override.get("environment") or []
        if pair.get("name") == DECISION_VARIABLE
    ]
    if len(values) != 1 or not isinstance(values[0], str) or not re.fullmatch(ULID_PATTERN, values[0]):
        return None
    return values[0]


def require_only_the_decision_id(overrides: dict[str, Any], container_name: str) -> str:
    """The decision id, or BadRequest when the caller overrode anything else (or passed no valid id)."""
    extra = overridden(overrides, container_name)
    if extra:
        raise BadRequest(
            f"refused: the task's overrides set more than {DECISION_VARIABLE} on {container_name}: {', '.join(extra)}"
        )
    decision_id = decision_id_of(overrides, container_name)
    if decision_id is None:
        raise BadRequest(f"the task's overrides carry no valid {DECISION_VARIABLE} on {container_name}")
    return decision_id
