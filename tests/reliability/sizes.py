"""Short runs in `make test`, full ones in `make reliability` (MAREA_RELIABILITY=full)."""

from __future__ import annotations

import os


def full() -> bool:
    return os.environ.get("MAREA_RELIABILITY") == "full"


def scaled(short: int, full_size: int) -> int:
    """``short`` in `make test`, ``full_size`` in `make reliability`."""
    return full_size if full() else short
