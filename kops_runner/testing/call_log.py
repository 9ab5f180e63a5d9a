"""TESTING ONLY (never in the image): append each AWS call a botocore client makes to a JSON-lines file.

The tests check these calls against the runner's IAM role (tests/infra/runner_guard.py). A
``before-parameter-build`` hook sees the operation and its parameters as the SDK is about to send
them; object bodies are left out (their size, not their content, is all IAM could care about).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENT = "before-parameter-build"
_LEFT_OUT = frozenset({"Body"})


def hook(path: Path, caller: str, region: str) -> Any:
    """A botocore handler appending ``{"caller", "service", "operation", "region", "params"}`` lines to ``path``."""

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        line = {
            "caller": caller,
            "service": model.service_model.service_name,
            "operation": model.name,
            "region": region,
            "params": {key: value for key, value in params.items() if key not in _LEFT_OUT},
        }
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, default=str) + "\n")

    return record


def record_client(client: Any, path: Path, caller: str) -> Any:
    client.meta.events.register(EVENT, hook(path, caller, client.meta.region_name), unique_id=f"marea-call-log-{path}")
    return client


def record_default_session(path: Path, caller: str, region: str) -> None:
    """Every client boto3's default session builds from now on records its calls (the kops double's clients)."""
    import boto3

    boto3.setup_default_session()
    session: Any = boto3.DEFAULT_SESSION
    session.events.register(EVENT, hook(path, caller, region), unique_id=f"marea-call-log-{path}")
