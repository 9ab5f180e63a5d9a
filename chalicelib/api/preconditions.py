"""If-Match on target writes (RFC 9110 section 13.1.1): the version a client read, as the target's ETag.

A target's ETag is its version, quoted: ``"3"``. A write whose If-Match names another version (or
any version of a target that does not exist) is refused with 412 and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.errors import BadRequestError, PreconditionFailedError

if TYPE_CHECKING:
    from chalicelib.models.state import StoredTarget

# A strong entity tag, or a bare version (curl users type If-Match: 3). Weak tags never match If-Match.
_TAG = re.compile(r'"(\d{1,18})"|(\d{1,18})')


@dataclass(frozen=True)
class IfMatch:
    any_version: bool  # If-Match: *
    versions: frozenset[int]


def etag(version: int) -> str:
    return f'"{version}"'


def if_match(headers: Mapping[str, str]) -> IfMatch | None:
    """The request's If-Match (None without one); 400 when it is not ``*`` or a list of versions."""
    raw = headers.get("if-match")
    if raw is None:
        return None
    if raw.strip() == "*":
        return IfMatch(any_version=True, versions=frozenset())
    versions = set()
    for part in raw.split(","):
        match = _TAG.fullmatch(part.strip())
        if match is None:
            raise BadRequestError(
                f'If-Match must be * or the target\'s version as its ETag gives it (e.g. If-Match: "3"), not {raw!r}'
            )
        versions.add(int(match.group(1) or match.group(2)))
    return IfMatch(any_version=False, versions=frozenset(versions))


def require_version(condition: IfMatch | None, stored: StoredTarget | None, target_id: str) -> None:
    """PreconditionFailedError unless ``stored`` is a version ``condition`` names."""
    if condition is None:
        return
    if stored is None:
        raise PreconditionFailedError(f"If-Match: target {target_id!r} is not registered")
    if not condition.any_version and stored.version not in condition.versions:
        named = ", ".join(str(v) for v in sorted(condition.versions))
        raise PreconditionFailedError(
            f"If-Match names version {named} but target {target_id!r} is at version {stored.version}; "
            "read it again (GET) and redo the change"
        )
