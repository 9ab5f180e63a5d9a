"""Request trace files read into a per-minute Trace: ``minute,requests`` or timestamped rows.

Three headers are read: ``minute,requests`` (minutes since minute 0), ``timestamp,requests`` and
NAB's own ``timestamp,value`` (ISO 8601 times; the first one becomes the trace's start, in its
own offset). A timestamp without an offset is read as UTC and ``TraceFile.naive_read_as_utc``
says so, for the CLI to tell the user: NAB's files (exported from CloudWatch) carry no offset,
and CloudWatch reports in UTC unless asked for another zone (``LabelOptions.Timezone``, default
+0000). The Trace itself lives in ``chalicelib.backtest.trace`` (the Lambda replays CloudWatch
data without files); it is re-exported here for the CLI and older imports.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from chalicelib.backtest.trace import Trace, TraceError, trace_from_rates

HEADER = ["minute", "requests"]
TIMESTAMP_HEADERS = (["timestamp", "requests"], ["timestamp", "value"])  # the second is NAB's own
Key = TypeVar("Key", int, datetime)
Row = tuple[int, Key, float]  # line number, minute or time, requests
__all__ = ["HEADER", "Trace", "TraceError", "TraceFile", "load_trace", "read_trace", "spread", "trace_from_rates"]


@dataclass(frozen=True)
class TraceFile:
    trace: Trace
    naive_read_as_utc: bool  # the file's timestamps had no offset and were taken as UTC


def load_trace(path: str | Path) -> Trace:
    """The trace of a file (see ``read_trace``)."""
    return read_trace(path).trace


def read_trace(path: str | Path) -> TraceFile:
    """Read a trace CSV; a row whose step is s minutes is spread evenly over them.

    The step of a row is the distance to the next row's minute (or time); the last row keeps the
    step of the one before it (1 minute for a single-row file).
    """
    path = Path(path)
    with path.open(newline="") as handle:
        lines = list(csv.reader(handle))
    header = [cell.strip() for cell in lines[0]] if lines else []
    body = [(number, row) for number, row in enumerate(lines[1:], start=2) if row]
    start: datetime | None = None
    naive = False
    if header == HEADER:
        rows = _rows(path, body, int)
        minutes = _increasing_minutes(path, rows)
    elif header in TIMESTAMP_HEADERS:
        times = _rows(path, body, _parse_time)
        naive, start, minutes = _minutes_since_first(path, times)
        rows = [(number, minute, count) for minute, (number, _, count) in zip(minutes, times, strict=True)]
    else:
        raise TraceError(f"{path}: the first line must be 'minute,requests', 'timestamp,requests' or 'timestamp,value'")
    counts = [count for _, _, count in rows]
    return TraceFile(Trace(name=path.stem, demand=tuple(spread(minutes, counts)), start=start), naive)


def spread(minutes: Sequence[int], counts: Sequence[float]) -> list[float]:
    """Per-minute demand: each count spread evenly over its row's step (rate = count / step)."""
    demand: list[float] = []
    for index, count in enumerate(counts):
        if index + 1 < len(minutes):
            step = minutes[index + 1] - minutes[index]
        else:
            step = minutes[index] - minutes[index - 1] if index else 1
        demand.extend([count / step] * step)
    return demand


def _increasing_minutes(path: Path, rows: list[Row[int]]) -> list[int]:
    minutes: list[int] = []
    for number, minute, _ in rows:
        if minute < 0:
            raise TraceError(f"{path}:{number}: minutes must be >= 0")
        if minutes and minute <= minutes[-1]:
            raise TraceError(f"{path}:{number}: minutes must increase ({minute} after {minutes[-1]})")
        minutes.append(minute)
    return minutes


def _minutes_since_first(path: Path, rows: list[Row[datetime]]) -> tuple[bool, datetime, list[int]]:
    """Whole minutes since the first time (instants compared, so offsets may differ row to row)."""
    naive = [time.utcoffset() is None for _, time, _ in rows]
    if any(naive) and not all(naive):
        raise TraceError(f"{path}: give a zone offset to all timestamps or none (none: read as UTC)")
    aware = [(number, time.replace(tzinfo=UTC) if naive[0] else time) for number, time, _ in rows]
    first = aware[0][1]
    minutes: list[int] = []
    for number, time in aware:
        minute, seconds = divmod((time - first).total_seconds(), 60)
        if seconds:
            raise TraceError(f"{path}:{number}: timestamps must be whole minutes apart ({time.isoformat()})")
        if minutes and minute <= minutes[-1]:
            raise TraceError(f"{path}:{number}: timestamps must increase ({time.isoformat()})")
        minutes.append(int(minute))
    return naive[0], first, minutes


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time: {text!r} (e.g. 1995-07-01T00:00:00-04:00)") from exc


def _rows(path: Path, body: list[tuple[int, list[str]]], parse_key: Callable[[str], Key]) -> list[Row[Key]]:
    """(line number, first column parsed by ``parse_key``, request count) of each row."""
    rows: list[Row[Key]] = []
    for number, row in body:
        if len(row) != len(HEADER):
            raise TraceError(f"{path}:{number}: expected 2 fields, got {len(row)}")
        try:
            key, count = parse_key(row[0].strip()), float(row[1])
        except ValueError as exc:
            raise TraceError(f"{path}:{number}: {exc}") from exc
        if not math.isfinite(count) or count < 0:
            raise TraceError(f"{path}:{number}: requests must be >= 0 and finite")
        rows.append((number, key, count))
    if not rows:
        raise TraceError(f"{path}: no rows")
    return rows
