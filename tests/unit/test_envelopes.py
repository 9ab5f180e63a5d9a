"""The lenient EventBridge envelope reads any JSON value in any envelope field without raising.

Found by the hostile-events suite: a `resources` that was a number (truthy, not iterable) crashed
the envelope before Marea's validation could reject the event.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.envelopes import LenientCloudWatchEvent

ENVELOPE = {
    "version": "0",
    "id": "e1",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/tick"],
    "detail": {},
}
ANY_JSON: list[Any] = [None, True, 0, 7, -1.5, "", "text", [], [1, "a"], {}, {"k": [1]}]


@pytest.mark.parametrize("field", sorted(ENVELOPE))
@pytest.mark.parametrize("value", ANY_JSON, ids=repr)
def test_any_json_value_in_any_field_is_read_without_raising(field: str, value: Any) -> None:
    event = LenientCloudWatchEvent({**ENVELOPE, field: value}, None)

    assert isinstance(event.resources, list)
    assert all(isinstance(getattr(event, name), str) for name in ("version", "account", "region", "source", "time"))
    assert event.to_dict()[field] == value  # the handler validates the event as it came


@pytest.mark.parametrize("raw", [None, 3, "text", [ENVELOPE]], ids=repr)
def test_an_envelope_that_is_not_an_object_is_read_as_empty(raw: Any) -> None:
    event = LenientCloudWatchEvent(raw, None)

    assert (event.event_id, event.resources, event.to_dict()) == ("", [], {})
