"""The stage's part of `.chalice/config.json`: the Lambdas' environment, written from the stacks' outputs.

Chalice reads a stage's environment only from this file, so the values a deploy found (queue URL,
tables, the kops runner's cluster and network) are written here, where `chalice deploy`, `chalice
package` and a later `make deploy` all read the same ones; nobody types an account id or a queue URL.
Only the variables named are touched; a second deploy with the same outputs leaves the file as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def config_path(project: Path) -> Path:
    return project / ".chalice" / "config.json"


def read_config(project: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(config_path(project).read_text(encoding="utf-8"))
    return config


def write_environment(project: Path, stage: str, values: Mapping[str, str], removed: Iterable[str] = ()) -> list[str]:
    """Set these variables in the stage's environment and drop `removed`; returns what changed (sorted)."""
    config = read_config(project)
    stages = config.setdefault("stages", {})
    if stage not in stages:
        raise KeyError(f"stage {stage!r} is not in {config_path(project)} (its stages: {', '.join(stages)})")
    environment: dict[str, str] = stages[stage].setdefault("environment_variables", {})
    changed = sorted({name for name, value in values.items() if environment.get(name) != value})
    changed += sorted(name for name in removed if name in environment and name not in values)
    if not changed:
        return []
    for name in removed:
        environment.pop(name, None)
    environment.update(values)
    config_path(project).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return sorted(changed)


def function_environment(config: Mapping[str, Any], stage: str, function: str) -> dict[str, str]:
    """A function's environment as Chalice composes it (top level, the stage, the stage's entry for the function)."""
    from chalice.config import Config

    variables: dict[str, str] = Config(
        chalice_stage=stage, function_name=function, config_from_disk=dict(config)
    ).environment_variables
    return variables
