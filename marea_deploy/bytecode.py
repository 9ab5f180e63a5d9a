"""Bytecode for the Lambda zip: Lambda's code folder is read-only, so a module without a usable .pyc there is
compiled from source again at every cold start (docs/cold-start.md measured Marea's own at ~80 ms).

The .pyc files are hash-based and checked (PEP 552): Python uses one only while its source hashes to the
value it records, whatever the file times the zip kept, and never uses a stale one; and they record the
source's path relative to the package root (Python puts the real one in at import), so the same source gives
the same bytes wherever it was compiled, and Chalice's package hash stays stable. They are compiled by the
interpreter running Chalice, whose version is the Lambda runtime Chalice picks; for another version they are
not written (that runtime would not read them).
"""

from __future__ import annotations

import compileall
import py_compile
import shutil
import sys
from pathlib import Path

INVALIDATION = py_compile.PycInvalidationMode.CHECKED_HASH


def compile_tree(folder: Path, python_version: str | None = None, root: Path | None = None) -> bool:
    """Writes checked hash-based .pyc files for every module under folder, into its __pycache__ folders (never
    under PYTHONPYCACHEPREFIX, where Chalice would not look), replacing whatever they held (a developer's
    timestamp-based or another version's files would only ride along). ``root``: what the recorded source
    paths are relative to (default folder). False, writing nothing, when python_version (e.g. "3.12") is not
    this interpreter's."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if python_version is not None and python_version != running:
        return False
    for cache in [p for p in folder.rglob("__pycache__") if p.is_dir()]:
        shutil.rmtree(cache)
    prefix, sys.pycache_prefix = sys.pycache_prefix, None
    try:
        compiled = compileall.compile_dir(
            folder, quiet=2, invalidation_mode=INVALIDATION, workers=1, stripdir=str(root or folder)
        )
    finally:
        sys.pycache_prefix = prefix
    return bool(compiled)


class CompileError(Exception):
    """A module of the app does not compile: no package is built from it."""


def compile_app(project: Path) -> None:
    """The Chalice project's own package (chalicelib/), which Chalice bundles with its __pycache__ folders.
    app.py's bytecode is not bundled (Chalice zips app.py alone), so it stays a thin module."""
    if not compile_tree(project / "chalicelib", root=project):
        raise CompileError(f"{project / 'chalicelib'} holds a module that does not compile (python -m compileall)")


def is_current_bytecode(pyc: bytes, source: bytes) -> bool:
    """Whether Python would use this .pyc for this source without compiling: this interpreter's magic number,
    hash-based and checked, and the source's hash (importlib's own check)."""
    import importlib.util

    flags = int.from_bytes(pyc[4:8], "little")
    return pyc[:4] == importlib.util.MAGIC_NUMBER and flags == 0b11 and pyc[8:16] == importlib.util.source_hash(source)
