"""JSON Merge Patch (RFC 7396): how PATCH /targets/{id} applies a partial document to a stored one."""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 section 2: objects merge member by member, ``null`` removes a member, anything else
    (arrays included) replaces the value. Neither argument is modified."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged
