"""The example target bodies in examples/targets/: the demo registers them, the README, benches and tests use them.

One copy of each: `curl -X PUT .../targets/web -d @examples/targets/web.json` sends what the demo registers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "targets"
NAMES = ("web", "chat", "nodes")


def example_target(name: str) -> dict[str, Any]:
    """A fresh copy of examples/targets/<name>.json (callers may change it)."""
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return body
