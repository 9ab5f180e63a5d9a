"""The CLI's own option values, checked before anything runs: the policy list, the sweep, the start."""

from __future__ import annotations

import math
from datetime import datetime

from chalicelib.backtest.replay import POLICY_NAMES
from chalicelib.backtest.world import DEFAULT_START

# A sweep is a table and a chart a person reads; past about 30 points neither is readable, and a
# sweep of NASA (40,000 minutes, about 8 s of CPU per `marea` replay) would take minutes per policy.
MAX_SWEEP_POINTS = 30
SWEEP_FORMAT = "--sweep must be START:STOP:STEP in percent, e.g. 50:95:5"


def parse_policies(text: str) -> list[str]:
    """``marea,aws-target-tracking`` -> the names in order; an unknown, empty or repeated name is refused."""
    names = [name.strip() for name in text.split(",")]
    valid = ", ".join(POLICY_NAMES)
    for index, name in enumerate(names):
        if name not in POLICY_NAMES:
            raise ValueError(f"--policy: unknown policy {name!r}: choose from {valid} (a comma list)")
        if name in names[:index]:
            raise ValueError(f"--policy: {name!r} twice: name each of {valid} at most once")
    return names


def parse_sweep(text: str) -> list[float]:
    """``50:95:5`` -> 50, 55, ..., 95 (STOP included when a whole number of steps away)."""
    try:
        start, stop, step = (float(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"{SWEEP_FORMAT}, not {text!r}") from None
    if not all(math.isfinite(value) for value in (start, stop, step)):
        raise ValueError(f"{SWEEP_FORMAT}, not {text!r}")
    if not 0 < start <= stop <= 100:
        raise ValueError(f"--sweep {text}: need 0 < START <= STOP <= 100 (target utilization in percent)")
    if step <= 0:
        raise ValueError(f"--sweep {text}: STEP must be > 0")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_SWEEP_POINTS:
        raise ValueError(f"--sweep {text} gives {count} targets; at most {MAX_SWEEP_POINTS}: take a larger STEP")
    return [round(start + index * step, 6) for index in range(count)]


def sweep_targets(swept: list[float], default: float) -> list[float]:
    """The swept targets and the default one (marked on the frontier), in order."""
    return sorted({*swept, default})


def choose_start(given: datetime | None, from_trace: datetime | None) -> tuple[datetime, str]:
    """Minute 0's wall-clock time and where it came from: --start, else the trace, else the default."""
    if given is not None:
        return given, "--start"
    if from_trace is not None:
        return from_trace, "the trace's first timestamp"
    return DEFAULT_START, "the default: give --start or a timestamp column for the trace's own"
