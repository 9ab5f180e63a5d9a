"""Let malformed EventBridge envelopes reach Marea's own validation.

Chalice builds a ``CloudWatchEvent`` from the raw dict before any handler or middleware runs and
raises KeyError on a missing key, so a malformed event would crash the invocation instead of
being logged and rejected. This event class reads the envelope leniently; the handler validates
it with the Parser models.
"""

from __future__ import annotations

from typing import Any

from chalice.app import CloudWatchEvent


class LenientCloudWatchEvent(CloudWatchEvent):
    def _extract_attributes(self, event_dict: dict[str, Any]) -> None:
        raw: dict[str, Any] = event_dict if isinstance(event_dict, dict) else {}
        self.version = str(raw.get("version") or "")
        self.account = str(raw.get("account") or "")
        self.region = str(raw.get("region") or "")
        self.detail = raw.get("detail") or {}
        self.detail_type = str(raw.get("detail-type") or "")
        self.source = str(raw.get("source") or "")
        self.time = str(raw.get("time") or "")
        self.event_id = str(raw.get("id") or "")
        resources = raw.get("resources")
        self.resources = list(resources) if isinstance(resources, list) else []  # a number is truthy, not a list

    def to_dict(self) -> dict[str, Any]:
        raw: Any = self._event_dict
        return raw if isinstance(raw, dict) else {}


def lenient(*handlers: Any) -> None:
    """Make Chalice event handlers build LenientCloudWatchEvent objects."""
    for handler in handlers:
        handler.event_class = LenientCloudWatchEvent
