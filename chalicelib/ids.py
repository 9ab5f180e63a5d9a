"""Decision ids and the keys that make a redelivered event a duplicate.

A decision id is a ULID of the instant the evaluation read its inputs, so that sorting by id is
sorting by evaluation (a tick evaluated after an alarm sorts after it, whatever the events' times).
An evaluation caused by an event also writes a *dedup key* derived from the event id and the
target id: a redelivered event yields the same key, and the conditional write of that key turns
the duplicate into a no-op.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from ulid import ULID

_TIME_BYTES = 6  # ULID: 48-bit millisecond timestamp, then 80 bits of randomness
_RANDOM_BYTES = 10
_ID_TIME_CHARS = 10


_MAX_MS = 2 ** (8 * _TIME_BYTES) - 1  # a ULID's time: 48 bits of milliseconds since 1970 (until the year 10889)


def _time_bytes(at: datetime) -> bytes:
    """Raises ValueError for a time a ULID cannot hold (before 1970)."""
    ms = int(at.timestamp() * 1000)
    if not 0 <= ms <= _MAX_MS:
        raise ValueError(f"{at.isoformat()} is outside the time a decision id can hold (1970 onwards)")
    return ms.to_bytes(_TIME_BYTES, "big")


def _clamped_time_bytes(at: datetime) -> bytes:
    ms: int = min(max(int(at.timestamp() * 1000), 0), _MAX_MS)
    return ms.to_bytes(_TIME_BYTES, "big")


def decision_id(at: datetime) -> str:
    """A new decision id at ``at`` (millisecond precision, random within the millisecond)."""
    return str(ULID.from_bytes(_time_bytes(at) + secrets.token_bytes(_RANDOM_BYTES)))


def dedup_key(event_id: str | None, target_id: str) -> str | None:
    """The key that one event's evaluation of one target writes once; None for a manual evaluation."""
    if event_id is None:
        return None
    return "E#" + hashlib.sha256(f"{event_id}\x1f{target_id}".encode()).hexdigest()[:40]


def id_lower_bound(at: datetime) -> str:
    """Smallest id that a decision made at or after ``at`` can have (any time: a query bound, clamped)."""
    return str(ULID.from_bytes(_clamped_time_bytes(at) + bytes(_RANDOM_BYTES)))


def id_upper_bound(at: datetime) -> str:
    """Largest id that a decision made at or before ``at`` can have (any time: a query bound, clamped)."""
    return str(ULID.from_bytes(_clamped_time_bytes(at) + b"\xff" * _RANDOM_BYTES))


def id_time(decision_id: str) -> datetime:
    return ULID.from_str(decision_id).datetime
