"""Request traces: the ``minute,requests`` CSV format and its per-minute demand."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HEADER = ["minute", "requests"]


class TraceError(ValueError):
    """A trace file that does not follow the ``minute,requests`` format."""


@dataclass(frozen=True)
class Trace:
    """Demand per minute (requests in that minute), minute 0 first."""

    name: str
    demand: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.demand)

    def head(self, minutes: int) -> Trace:
        """The first ``minutes`` minutes (what a backtest stopped early would have seen)."""
        return Trace(name=self.name, demand=self.demand[:minutes])

    @property
    def mean(self) -> float:
        return math.fsum(self.demand) / len(self.demand) if self.demand else 0.0


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


def trace_from_rates(name: str, demand: Sequence[float]) -> Trace:
    """A trace from per-minute demand already in memory (e.g. CloudWatch datapoints)."""
    if any(not math.isfinite(d) or d < 0 for d in demand):
        raise TraceError(f"{name}: demand must be finite and >= 0")
    return Trace(name=name, demand=tuple(float(d) for d in demand))


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
