"""A copy of the Chalice project as Chalice reads it: what `make package` without dependencies and the deploy
rehearsal deploy from, so that neither touches this repository's vendor/ or .chalice/deployed/."""

from __future__ import annotations

import shutil
from pathlib import Path

from marea_deploy.catalogue import ROOT


def project_copy(destination: Path) -> Path:
    """app.py, chalicelib/ and .chalice/'s config and policies with an empty requirements.txt; no vendor/, no
    deployed record of any stage."""
    shutil.copy2(ROOT / "app.py", destination / "app.py")
    shutil.copytree(ROOT / "chalicelib", destination / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    (destination / ".chalice").mkdir()
    for item in (ROOT / ".chalice").glob("*.json"):
        shutil.copy2(item, destination / ".chalice" / item.name)
    (destination / "requirements.txt").write_text("", encoding="utf-8")
    return destination
