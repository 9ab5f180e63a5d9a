"""A progress bar on stderr for replays (stdout carries the summary)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 30
# Without a terminal (CI logs, pipes) a line per tenth, not a carriage-return animation.
LOG_TENTHS = 10


class ProgressBar:
    """``bar(done, total)`` redraws one line on a terminal; a finished bar ends the line.

    ``unit`` names what is counted: minutes of one replay, or the replays of a comparison or a sweep.
    """

    def __init__(self, label: str, stream: TextIO | None = None, unit: str = "min") -> None:
        self._label = label
        self._unit = unit
        self._stream = stream if stream is not None else sys.stderr
        self._animated = self._stream.isatty()
        self._started = time.monotonic()
        self._logged_tenth = -1

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        finished = done >= total
        tenth = int(share * LOG_TENTHS)
        if not self._animated and not finished and tenth == self._logged_tenth:
            return
        self._logged_tenth = tenth
        filled = round(share * BAR_WIDTH)
        line = (
            f"{self._label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%}"
            f" {done:,}/{total:,} {self._unit} {time.monotonic() - self._started:5.1f} s"
        )
        if self._animated:
            self._stream.write("\r" + line + ("\n" if finished else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
