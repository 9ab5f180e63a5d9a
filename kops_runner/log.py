"""Structured log lines on stderr: stdout carries only the one JSON outcome line."""

from __future__ import annotations

import json
import sys
import time


def event(name: str, **fields: object) -> None:
    """One JSON object per line (CloudWatch Logs from the task's awslogs driver keeps them searchable)."""
    line = {"ts": round(time.time(), 3), "event": name, **fields}
    sys.stderr.write(json.dumps(line, default=str) + "\n")
    sys.stderr.flush()
