"""Request trace files: the ``minute,requests`` CSV format read into a per-minute Trace.

The Trace itself lives in ``chalicelib.backtest.trace`` (the Lambda replays CloudWatch data
without files); it is re-exported here for the CLI and older imports.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from chalicelib.backtest.trace import Trace, TraceError, trace_from_rates

HEADER = ["minute", "requests"]
__all__ = ["HEADER", "Trace", "TraceError", "load_trace", "spread", "trace_from_rates"]


def load_trace(path: str | Path) -> Trace:
    """Read a ``minute,requests`` CSV; a row whose step is s minutes is spread evenly over them.

    The step of a row is the distance to the next row's minute; the last row keeps the step of
    the one before it (1 minute for a single-row file).
    """
    path = Path(path)
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or [cell.strip() for cell in rows[0]] != HEADER:
        raise TraceError(f"{path}: the first line must be 'minute,requests'")
    minutes: list[int] = []
    counts: list[float] = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        minute, count = _parse_row(path, number, row)
        if minutes and minute <= minutes[-1]:
            raise TraceError(f"{path}:{number}: minutes must increase ({minute} after {minutes[-1]})")
        minutes.append(minute)
        counts.append(count)
    if not minutes:
        raise TraceError(f"{path}: no rows")
    return Trace(name=path.stem, demand=tuple(spread(minutes, counts)))


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


def _parse_row(path: Path, number: int, row: list[str]) -> tuple[int, float]:
    if len(row) != len(HEADER):
        raise TraceError(f"{path}:{number}: expected 2 fields, got {len(row)}")
    try:
        minute, count = int(row[0]), float(row[1])
    except ValueError as exc:
        raise TraceError(f"{path}:{number}: {exc}") from exc
    if minute < 0 or not math.isfinite(count) or count < 0:
        raise TraceError(f"{path}:{number}: minute and requests must be >= 0 and finite")
    return minute, count
